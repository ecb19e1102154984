import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { freePort } from '../testing/net.js'
import { redisPid } from '../testing/redis-server.js'
import { alive, assertJsonLines, isEvent, isLine, startCli } from '../testing/cli.js'
import { splitWords } from './flags.js'

// The README's `steward run` example, as written there (on a free port, with --json added):
// a real Redis frozen with SIGSTOP is found by its exec probe, woken (SIGCONT) with its SIGTERM,
// shuts down on its own and is replaced, without waiting --kill-after for SIGKILL.

test("the README's example heals a real redis-server frozen with SIGSTOP: serving again within timeout + probe interval + 1 s", { timeout: 60_000 }, async (t) => {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
  const block = /```sh\n(npx steward run --timeout[^`]*?)\n# in another terminal/.exec(readme)
  assert.ok(block !== null, 'the README has the example')
  const port = await freePort()
  const words = splitWords(block[1]!.replace(/\\\n/g, ' ').replaceAll('6390', String(port)), 'README')
  assert.deepEqual(words.slice(0, 3), ['npx', 'steward', 'run'])
  assert.ok(!words.includes('--kill-after'), 'the default grace (5 s): a frozen redis must not wait for it')
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
  // Polled: the first PING a redis of another pid answers.
  let servingAt: number | undefined
  while (servingAt === undefined) {
    const answering = await redisPid(port)
    if (answering !== undefined && answering !== pid) servingAt = performance.now()
    else if (performance.now() - frozenAt > 20_000) assert.fail(`no new redis answered within 20 s of the freeze; output:\n${cli.lines.map((line) => line.text).join('\n')}`)
    else await new Promise((resolve) => setTimeout(resolve, 20))
  }
  // --timeout 2 s, the probe every 1 s (--timeout / 2), and 1 s for the stop, the restart and redis's boot.
  assert.ok(servingAt - frozenAt <= 2_000 + 1_000 + 1_000, `a new redis answered ${Math.round(servingAt - frozenAt)} ms after the freeze`)
  const hung = cli.lines.find(isEvent('hung'))
  assert.ok(hung !== undefined && hung.at - frozenAt <= 2_000 + 1_000 + 1_000, 'found hung')
  assert.equal(alive(pid), false, 'the frozen redis is gone')
  assert.ok(
    cli.lines.some((line) => isLine(new RegExp(`^${pid}:signal-handler .*Received SIGTERM`))(line)),
    'the frozen redis, woken, acted on its SIGTERM',
  )
  cli.process.kill('SIGTERM')
  assert.equal((await cli.exited).code, 143)
  const report = cli.events().find((event) => event.type === 'stop-report')!
  assert.deepEqual(report.killed, [], 'no redis needed SIGKILL')
  assertJsonLines(cli)
})
