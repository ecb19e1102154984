import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../testing/net.js'
import { assertJsonLines, startCli, type RunningCli } from '../testing/cli.js'

// `steward run` says why: a command that cannot start exits as a shell does (127, 126) and never
// reads as started; a failing probe's reason is in the hung line and event; a child's last line
// arrives without its newline, and a long line comes in marked pieces.

const dir = mkdtempSync(join(tmpdir(), 'steward-reasons-'))
after(() => rmSync(dir, { recursive: true, force: true }))

/** Runs the CLI to its end (bounded by the test's own timeout), killed on the test's end either way. */
async function finished(args: string[], t: { after: (fn: () => void) => void }): Promise<{ cli: RunningCli; code: number | null; text: string[] }> {
  const cli = startCli(args)
  t.after(() => cli.kill())
  const { code } = await cli.exited
  return { cli, code, text: cli.lines.filter((line) => line.stream === 'stdout').map((line) => line.text) }
}

test('a command not found exits 127, one that cannot be executed 126; neither restarts nor reads as started', { timeout: 30_000 }, async (t) => {
  const script = join(dir, 'not-executable.sh')
  writeFileSync(script, '#!/bin/sh\necho hello\n')
  chmodSync(script, 0o644)
  const [missing, missingJson, denied] = await Promise.all([
    finished(['run', '--', 'steward-test-no-such-command', '--port', '1'], t),
    finished(['run', '--json', '--', 'steward-test-no-such-command'], t),
    finished(['run', '--name', 'script', '--', script], t),
  ])
  assert.equal(missing.code, 127, missing.text.join('\n'))
  assert.ok(!missing.text.some((line) => / started/.test(line)), `no "started" line:\n${missing.text.join('\n')}`)
  assert.ok(
    missing.text.some((line) => /steward-test-no-such-command gave up after 0 restarts: .*cannot start command 'steward-test-no-such-command': not found \(ENOENT\)$/.test(line)),
    missing.text.join('\n'),
  )
  assert.equal(missingJson.code, 127)
  assertJsonLines(missingJson.cli)
  const events = missingJson.cli.events()
  assert.deepEqual(
    events.map((event) => (event.type === 'failed' ? `failed ${String(event.reason)}` : event.type)),
    ['started', 'failed start', 'gave-up'],
    'JSON keeps started; no spawned, no restarting',
  )
  assert.equal((events[1]!.error as { name: string }).name, 'WardStartError')
  assert.equal(denied.code, 126, denied.text.join('\n'))
  assert.ok(denied.text.some((line) => /script gave up after 0 restarts: .*permission denied \(EACCES\)$/.test(line)), denied.text.join('\n'))
})

test('a started child reads as started with its pid (text), and has both started and spawned (JSON)', { timeout: 30_000 }, async (t) => {
  const [text, json] = await Promise.all([
    finished(['run', '--restart', 'transient', '--', 'sh', '-c', 'exit 0'], t),
    finished(['run', '--json', '--restart', 'transient', '--', 'sh', '-c', 'exit 0'], t),
  ])
  assert.equal(text.code, 0)
  assert.ok(text.text.some((line) => /^\d\d:\d\d:\d\d\.\d{3} sh started \(pid \d+\)$/.test(line)), text.text.join('\n'))
  assert.deepEqual(
    json.cli.events().map((event) => event.type),
    ['started', 'spawned', 'completed'],
  )
  assert.ok(Number.isInteger(json.cli.events()[1]!.pid))
})

test('a failing probe says why in the hung line and the hung event: exec not found, exec exit with stderr, http 404 and refused, tcp refused', { timeout: 60_000 }, async (t) => {
  const server = createServer((request, response) => {
    response.statusCode = 404
    response.end()
  })
  const port = await new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)))
  t.after(() => server.close())
  const closed = await freePort()
  const probes: Array<[string, string, RegExp]> = [
    ['exec not found', "exec:redis-clii-steward-test -p 1 ping", /^exec redis-clii-steward-test: not found \(ENOENT\)$/],
    ['exec exit', `exec:sh -c 'echo "Could not connect to Redis" >&2; exit 1'`, /^exec sh: exited with code 1: Could not connect to Redis$/],
    ['http 404', `http:http://127.0.0.1:${port}/nonexistent`, new RegExp(`^http GET http://127\\.0\\.0\\.1:${port}/nonexistent: 404 Not Found$`)],
    ['http refused', `http:http://127.0.0.1:${closed}/health`, new RegExp(`^http GET http://127\\.0\\.0\\.1:${closed}/health: connect ECONNREFUSED 127\\.0\\.0\\.1:${closed}$`)],
    ['tcp refused', `tcp:${closed}`, new RegExp(`^tcp 127\\.0\\.0\\.1:${closed}: connect ECONNREFUSED 127\\.0\\.0\\.1:${closed}$`)],
  ]
  // Ten CLIs start at once: on a busy machine a probe's answer (an exec's, even a local HTTP
  // server's) may take longer than a short interval, so each has a second or more (an exec probe's
  // own --probe-timeout; an HTTP probe's is its interval), and the first beat 3 s.
  const common = ['--timeout', '3s', '--max-restarts', '0', '--kill-after', '1s']
  const runs = await Promise.all(
    probes.flatMap(([, probe]) => {
      const timing = probe.startsWith('exec:') ? ['--every', '200ms', '--probe-timeout', '2s'] : ['--every', '1s']
      const flags = [...common, ...timing, '--probe', probe, '--name', 'app']
      return [finished(['run', ...flags, '--', 'sleep', '60'], t), finished(['run', '--json', ...flags, '--', 'sleep', '60'], t)]
    }),
  )
  for (const [index, [what, , reason]] of probes.entries()) {
    const text = runs[2 * index]!
    const json = runs[2 * index + 1]!
    assert.equal(text.code, 1, `${what}: ${text.text.join('\n')}`)
    const hungLine = text.text.find((line) => / app hung: /.test(line))
    assert.ok(hungLine !== undefined, `${what}: ${text.text.join('\n')}`)
    const said = /^\d\d:\d\d:\d\d\.\d{3} app hung: no first beat within 3000 ms; probe: (.*)$/.exec(hungLine)
    assert.ok(said !== null, `${what}: ${hungLine}`)
    assert.match(said[1]!, reason, what)
    assertJsonLines(json.cli)
    const hung = json.cli.events().find((event) => event.type === 'hung')
    const failure = hung?.probeFailure as { message: string; failures: number; attempt: number } | undefined
    assert.ok(failure !== undefined, `${what}: ${JSON.stringify(hung)}`)
    assert.match(failure.message, reason, what)
    assert.equal(failure.attempt, 1)
    assert.ok(failure.failures >= 1)
  }
})

test("a child's last line without a newline is printed before its failure; a long line comes in pieces marked in text and JSON", { timeout: 30_000 }, async (t) => {
  const crash = ['--restart', 'temporary', '--name', 'app', '--', 'sh', '-c', 'printf "fatal: config missing" >&2; exit 3']
  const long = ['--restart', 'transient', '--max-line-length', '1K', '--name', 'long', '--', 'sh', '-c', "head -c 3000 /dev/zero | tr '\\0' x; echo; echo short"]
  const [text, json, longText, longJson] = await Promise.all([
    finished(['run', ...crash], t),
    finished(['run', '--json', ...crash], t),
    finished(['run', ...long], t),
    finished(['run', '--json', ...long], t),
  ])
  assert.equal(text.code, 3, "a temporary child's own exit code passes through")
  const last = text.text.indexOf('app ! fatal: config missing')
  const failed = text.text.findIndex((line) => / app failed: sh exited with code 3$/.test(line))
  assert.ok(last !== -1 && failed > last, text.text.join('\n'))
  const lines = json.cli.events().filter((event) => event.type === 'line')
  assert.deepEqual(lines.map((event) => [event.stream, event.line, event.partial]), [['stderr', 'fatal: config missing', undefined]])

  assert.equal(longText.code, 0)
  const pieces = longText.text.filter((line) => line.startsWith('long | '))
  assert.deepEqual(
    pieces.map((line) => line.replace(/x+/, (xs) => `x*${xs.length}`)),
    ['long | x*1024 [continues]', 'long | x*1024 [continues]', 'long | x*952', 'long | short'],
  )
  assertJsonLines(longJson.cli)
  const jsonPieces = longJson.cli.events().filter((event) => event.type === 'line')
  assert.deepEqual(
    jsonPieces.map((event) => [event.stream, String(event.line).length, event.partial]),
    [
      ['stdout', 1024, true],
      ['stdout', 1024, true],
      ['stdout', 952, undefined],
      ['stdout', 5, undefined],
    ],
  )
})

test('--max-line-length is validated before anything starts', { timeout: 30_000 }, async (t) => {
  const [small, bad] = await Promise.all([
    finished(['run', '--max-line-length', '2', '--', 'true'], t),
    finished(['run', '--max-line-length', 'lots', '--', 'true'], t),
  ])
  assert.equal(small.code, 2)
  assert.match(small.cli.lines.map((line) => line.text).join('\n'), /--max-line-length: must be at least 4 bytes/)
  assert.equal(bad.code, 2)
  assert.match(bad.cli.lines.map((line) => line.text).join('\n'), /--max-line-length: must be a size like/)
})
