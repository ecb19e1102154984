import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { freePort } from '../testing/net.js'
import { alive, assertJsonLines, isEvent, isLine, startCli } from '../testing/cli.js'
import { splitWords } from './flags.js'

// The README's `steward run` example, as written there (on a free port, with --json added):
// a real Redis frozen with SIGSTOP is found by its exec probe, killed and replaced.

test("the README's example heals a real redis-server frozen with SIGSTOP", { timeout: 30_000 }, async (t) => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const block = /```sh\n(npx steward run --timeout[^`]*?)\n# in another terminal/.exec(readme)
  assert.ok(block !== null, 'the README has the example')
  const port = await freePort()
  const words = splitWords(block[1]!.replace(/\\\n/g, ' ').replaceAll('6390', String(port)), 'README')
  assert.deepEqual(words.slice(0, 3), ['npx', 'steward', 'run'])
  const cli = startCli(['run', '--json', ...words.slice(3)])
  t.after(() => cli.kill())
  const ready = /^(\d+):M .*Ready to accept connections$/
  const first = await cli.waitFor('redis ready', isLine(ready))
  const pid = Number(ready.exec(String(first.json!.line))![1])
  t.after(() => {
    for (const line of cli.lines) {
      const match = line.json?.type === 'line' ? ready.exec(String(line.json.line)) : null
      if (match !== null && alive(Number(match[1]))) process.kill(Number(match[1]), 'SIGKILL')
    }
  })
  // Healthy on its probe for longer than the 2 s timeout before the freeze.
  await new Promise((resolve) => setTimeout(resolve, first.at + 3_000 - performance.now()))
  assert.ok(!cli.lines.some(isEvent('hung')), 'no hang while redis answers')
  process.kill(pid, 'SIGSTOP')
  const frozenAt = performance.now()
  const hung = await cli.waitFor('the hang', isEvent('hung'))
  // timeout 2 s + one probe interval (1 s) + the probe's own deadline at most.
  assert.ok(hung.at - frozenAt <= 2_000 + 1_000 + 1_000 + 500, `hung ${hung.at - frozenAt} ms after the freeze`)
  await cli.waitFor('the second redis', (line) => isLine(ready)(line) && !String(line.json!.line).startsWith(`${pid}:`))
  assert.equal(alive(pid), false, 'the frozen redis was killed')
  cli.process.kill('SIGTERM')
  assert.equal((await cli.exited).code, 143)
  const report = cli.events().find((event) => event.type === 'stop-report')!
  assert.deepEqual(report.killed, [`redis-server#${pid}`])
  assertJsonLines(cli)
})
