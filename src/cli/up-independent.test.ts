// steward up's default: independent apps. A crashing app gives up alone while its sibling keeps
// its process; steward up exits 1 only once every app gave up.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { alive, assertJsonLines, isEvent, startCli } from '../testing/cli.js'

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), '.steward-up-independent-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const crasher = { name: 'flappy', command: 'sh', args: ['-c', 'exit 3'], startTimeout: '10s' }

test('steward up: a flapping app gives up alone (no strategy in the config), its sibling keeps its pid; SIGTERM still stops the rest', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'steward.config.json')
  writeFileSync(file, JSON.stringify({ name: 'app', maxRestarts: 2, within: '1m', children: [{ name: 'steady', command: 'sleep', args: ['1000'], startTimeout: '10s' }, crasher] }))
  const cli = startCli(['up', '--json', file])
  t.after(() => cli.kill())
  const spawned = await cli.waitFor('steady spawned', isEvent('spawned', { path: 'app/steady' }))
  const pid = spawned.json!.pid as number
  await cli.waitFor('flappy gave up', isEvent('gave-up', { path: 'app/flappy' }))
  assert.ok(cli.events().some((event) => event.type === 'decision' && event.action === 'give-up' && event.child === 'flappy'))
  assert.equal(cli.events().filter((event) => event.type === 'gave-up').length, 1, 'only flappy gave up, not the tree')
  assert.equal(alive(pid), true, 'steady still runs')
  assert.equal(cli.events().filter((event) => event.type === 'spawned' && event.path === 'app/steady').length, 1, 'steady was never restarted')
  cli.process.kill('SIGTERM')
  assert.equal((await cli.exited).code, 143)
  assert.equal(alive(pid), false)
  assertJsonLines(cli)
})

test('steward up: when every app gave up, it exits 1', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'steward.config.json')
  writeFileSync(file, JSON.stringify({ name: 'app', maxRestarts: 1, within: '1m', children: [crasher, { ...crasher, name: 'other' }] }))
  const cli = startCli(['up', '--json', file])
  t.after(() => cli.kill())
  assert.equal((await cli.exited).code, 1)
  assert.deepEqual(cli.events().filter((event) => event.type === 'gave-up').map((event) => event.path).sort(), ['app', 'app/flappy', 'app/other'])
})
