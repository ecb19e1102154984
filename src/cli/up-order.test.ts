import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startCli } from '../testing/cli.js'
import { freePort } from '../testing/net.js'

// `startOrder: 'ready'` under `steward up`: the next app waits until the previous one is up,
// through its restarts; a dependency that ends without being up leaves the rest unstarted.

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), '.steward-order-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

test("steward up, startOrder 'ready': app is not started while db never becomes ready, through db's restarts", { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t)
  const closed = await freePort() // nothing listens there: db's probe never answers
  writeFileSync(
    join(dir, 'steward.config.json'),
    JSON.stringify({
      startOrder: 'ready',
      backoff: '10ms..20ms',
      children: [
        { name: 'db', command: 'sleep', args: ['1000'], heartbeat: `tcp:127.0.0.1:${closed}`, timeout: '2s' },
        { name: 'app', command: 'sleep', args: ['1001'] },
      ],
    }),
  )
  const cli = startCli(['up'], { cwd: dir })
  t.after(() => cli.kill())
  await cli.waitFor('db restarted three times', (line) => /steward\/db restarting \(hung\), restart 3\b/.test(line.text))
  await cli.waitFor('db started a fourth time', (line) => /steward\/db started \(attempt 4, pid \d+\)/.test(line.text))
  cli.process.kill('SIGTERM')
  assert.equal((await cli.exited).code, 143)
  const said = cli.lines.map((line) => line.text)
  assert.ok(!said.some((line) => /steward\/app/.test(line)), `app never started:\n${said.join('\n')}`)
})

test("steward up, startOrder 'ready': a dependency that cannot start leaves the app after it unstarted, says so, exits 127", { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t)
  writeFileSync(
    join(dir, 'steward.config.json'),
    JSON.stringify({
      startOrder: 'ready',
      children: [
        { name: 'db', command: 'steward-test-no-such-db' },
        { name: 'app', command: 'sleep', args: ['1001'] },
      ],
    }),
  )
  const cli = startCli(['up'], { cwd: dir })
  t.after(() => cli.kill())
  assert.equal((await cli.exited).code, 127)
  const said = cli.lines.map((line) => line.text)
  assert.ok(said.some((line) => /steward db ended without being up: not starting app \(startOrder 'ready'\): .*not found/.test(line)), said.join('\n'))
  assert.ok(!said.some((line) => /steward\/app/.test(line)), `app never started:\n${said.join('\n')}`)
})
