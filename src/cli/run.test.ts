import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../testing/net.js'
import { alive, assertJsonLines, childPids, cliChild, inProcess, isEvent, isLine, startCli, type CliLine } from '../testing/cli.js'
import { liveChildren } from '../isolation/process-ward.js'
import { parseRun } from './run.js'

// `steward run` as a user runs it: the built executable, real children, output read as it comes.
// Verdicts wait for what they are about (a beat line, an event), never for a fixed time.

/** Slack for a loaded machine on top of a deadline measured between two lines of the CLI's own output. */
const slack = 400

function at(line: CliLine): number {
  return line.json!.at as number
}

async function stopWith(cli: ReturnType<typeof startCli>, signal: NodeJS.Signals): Promise<number | null> {
  cli.process.kill(signal)
  const { code } = await cli.exited
  return code
}

test('run --probe ipc: a Node child that beats then hangs is killed within timeout and restarted; SIGTERM stops it, 143, no child left', { timeout: 30_000 }, async (t) => {
  // A busy machine may take longer than --timeout to start Node: the first beat's deadline is not what this is about.
  const cli = startCli(['run', '--json', '--timeout', '1s', '--start-timeout', '30s', '--probe', 'ipc', '--kill-after', '1s', '--', process.execPath, cliChild, 'ipc-hang'])
  t.after(() => cli.kill())
  const hung = await cli.waitFor('a hang', isEvent('hung'))
  assert.equal(hung.json!.starting, false, 'the hang came after the first beat')
  const beats = cli.lines.filter((line) => line.at <= hung.at && isLine(/^beat \d+$/)(line))
  // It was healthy on its beats alone for longer than its timeout, then detected in time.
  assert.equal(beats.length, 8, 'every beat of the first child came before the hang')
  assert.ok(at(beats.at(-1)!) - at(beats[0]!) > 1_000, 'the first child lived on beats longer than its timeout')
  const late = at(hung) - at(beats.at(-1)!)
  assert.ok(late >= 1_000 - 20 && late <= 1_000 + slack, `hung ${late} ms after the last beat (timeout 1000)`)
  await cli.waitFor('the restart', isEvent('restarting', { reason: 'hung' }))
  await cli.waitFor('the second child', isEvent('started', { attempt: 2 }))
  await cli.waitFor("the second child's beat", isLine(/^beat 2$/), 10_000, cli.lines.indexOf(hung))
  const pids = childPids(cli)
  assert.equal(pids.length, 2)
  assert.equal(alive(pids[0]!), false, 'the hung child was killed')
  assert.equal(await stopWith(cli, 'SIGTERM'), 143)
  assert.equal(alive(pids[1]!), false, 'the second child is gone after the CLI exited')
  assertJsonLines(cli)
  const report = cli.events().find((event) => event.type === 'stop-report')
  assert.deepEqual(report, { type: 'stop-report', unstopped: [], killed: [], exitCode: 143, time: report?.time, pid: cli.process.pid })
  assert.ok(cli.events().some((event) => event.type === 'stopped' && event.path === 'node'))
})

test("run --probe stdout: sh -c printing heartbeat lines, then silent, is restarted within timeout of its last line", { timeout: 30_000 }, async (t) => {
  const script = `echo "pid $$" >&2
if [ "$STEWARD_ATTEMPT" = 1 ]; then
  for i in 1 2 3 4 5 6; do echo "beat $i"; sleep 0.2; done
  exec sleep 1000
fi
while :; do echo beat; sleep 0.2; done`
  const cli = startCli(['run', '--json', '--timeout', '1s', '--start-timeout', '30s', '--probe', 'stdout', '--', 'sh', '-c', script])
  t.after(() => cli.kill())
  const hung = await cli.waitFor('a hang', isEvent('hung'))
  const beats = cli.lines.filter((line) => line.at <= hung.at && isLine(/^beat \d$/)(line))
  assert.equal(beats.length, 6)
  assert.equal(hung.json!.starting, false, 'its lines were beats: it was up')
  assert.ok(at(hung) - at(beats[0]!) > 1_000, 'alive on its lines longer than its timeout')
  const late = at(hung) - at(beats.at(-1)!)
  assert.ok(late >= 1_000 - 20 && late <= 1_000 + slack, `hung ${late} ms after the last line (timeout 1000)`)
  await cli.waitFor('the second child', isEvent('started', { attempt: 2 }))
  await cli.waitFor("the second child's line", isLine(/^beat$/))
  const pids = childPids(cli)
  assert.equal(alive(pids[0]!), false)
  assert.equal(await stopWith(cli, 'SIGINT'), 130)
  assert.equal(alive(pids[1]!), false)
  assertJsonLines(cli)
})

test('run --probe exec: a probe that starts failing gets the child restarted within timeout + one interval', { timeout: 30_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'steward-cli-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const probes = join(dir, 'probes')
  const fail = join(dir, 'fail')
  const probe = `exec:sh -c "echo x >> '${probes}'; test ! -e '${fail}'"`
  const cli = startCli(['run', '--json', '--timeout', '1s', '--every', '200ms', '--kill-after', '500ms', '--probe', probe, '--', process.execPath, cliChild, 'deaf'])
  t.after(() => cli.kill())
  await cli.waitFor('the child', isLine(/^up$/))
  // Healthy on the probe alone for longer than its timeout.
  const first = performance.now()
  await new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      const count = existsSync(probes) ? readFileSync(probes, 'utf8').length / 2 : 0
      if (count >= 8) {
        clearInterval(poll)
        resolve()
      } else if (cli.lines.some(isEvent('hung'))) {
        clearInterval(poll)
        reject(new Error('hung while the probe passed'))
      }
    }, 20)
  })
  assert.ok(performance.now() - first > 1_000)
  assert.ok(!cli.lines.some(isEvent('hung')), 'no hang while the probe passes')
  writeFileSync(fail, '')
  const failedAt = performance.now()
  const hung = await cli.waitFor('a hang', isEvent('hung'))
  const late = hung.at - failedAt
  // The last passing probe was at most one interval before the failure; pipes add a little.
  assert.ok(late >= 1_000 - 200 - 50 && late <= 1_000 + 200 + slack + 200, `hung ${late} ms after the probe started failing`)
  rmSync(fail)
  await cli.waitFor('the second child', isEvent('started', { attempt: 2 }))
  await cli.waitFor('the second child up', isLine(/^up$/), 10_000, cli.lines.indexOf(hung))
  // The deaf children ignore SIGTERM: each is killed after --kill-after, and the report names them.
  assert.equal(await stopWith(cli, 'SIGTERM'), 143)
  const report = cli.events().find((event) => event.type === 'stop-report')!
  assert.ok((report.killed as string[]).includes(`node#${childPids(cli)[1]}`), `${JSON.stringify(report)} pids ${childPids(cli).join(' ')}`)
  for (const pid of childPids(cli)) assert.equal(alive(pid), false)
  assertJsonLines(cli)
})

test('run --probe http: a real HTTP server frozen with SIGSTOP is killed within timeout + one interval and restarted', { timeout: 30_000 }, async (t) => {
  const port = await freePort()
  const cli = startCli([
    'run', '--json', '--timeout', '1s', '--start-timeout', '30s', '--every', '200ms', '--kill-after', '300ms', '--name', 'web',
    '--probe', `http:http://127.0.0.1:${port}/health`, '--', process.execPath, cliChild, 'http', String(port),
  ])
  t.after(() => cli.kill())
  const requests = (): CliLine[] => cli.lines.filter(isLine(/ GET \/health$/))
  await cli.waitFor('six probes answered', () => requests().length >= 6)
  assert.ok(!cli.lines.some(isEvent('hung')), 'no hang while the server answers')
  const [pid] = childPids(cli)
  process.kill(pid!, 'SIGSTOP')
  const frozenAt = performance.now()
  const hung = await cli.waitFor('a hang', isEvent('hung'))
  const late = hung.at - frozenAt
  assert.ok(late >= 1_000 - 200 - 50 && late <= 1_000 + 200 + slack, `hung ${late} ms after the freeze`)
  await cli.waitFor('the second server', isEvent('started', { attempt: 2, path: 'web' }))
  const next = await cli.waitFor("the new server's answer", (line) => isLine(/ GET \/health$/)(line) && !String(line.json!.line).startsWith(`${pid} `))
  assert.ok(next.at > hung.at)
  assert.equal(alive(pid!), false, 'the frozen server was killed')
  assert.equal(await stopWith(cli, 'SIGTERM'), 143)
  for (const child of childPids(cli)) assert.equal(alive(child), false)
  assertJsonLines(cli)
})

test('run --idle-timeout shorter than --timeout: a child without a heartbeat is restarted at the idle timeout, not at the timeout', { timeout: 30_000 }, async (t) => {
  const cli = startCli(['run', '--json', '--timeout', '10s', '--idle-timeout', '2s', '--', 'sleep', '100'])
  t.after(() => cli.kill())
  const started = await cli.waitFor('the child', isEvent('started'))
  // Bounded well under the 10 s timeout: it fired at the timeout before the fix.
  const idle = await cli.waitFor('the idle timeout', isEvent('idle-timeout'), 6_000)
  assert.equal(idle.json!.idleTimeout, 2_000)
  const after = at(idle) - at(started)
  assert.ok(after >= 2_000 - 20 && after <= 2_000 + slack, `idle-timeout ${after} ms after the start (idleTimeout 2000)`)
  assert.ok(!cli.events().some((event) => event.type === 'hung'), 'no hang came first')
  await cli.waitFor('the restart', isEvent('restarting', { reason: 'idle' }))
  assert.equal(await stopWith(cli, 'SIGTERM'), 143)
  assertJsonLines(cli)
})

test('a second SIGINT SIGKILLs a child that ignores SIGTERM at once, without waiting for --kill-after', { timeout: 30_000 }, async (t) => {
  const cli = startCli(['run', '--json', '--kill-after', '60s', '--', process.execPath, cliChild, 'deaf'])
  t.after(() => cli.kill())
  await cli.waitFor('the child', isLine(/^up$/))
  const [pid] = childPids(cli)
  cli.process.kill('SIGINT')
  await cli.waitFor('the child ignoring SIGTERM', isLine(/^ignoring SIGTERM$/))
  assert.ok(alive(pid!))
  cli.process.kill('SIGINT')
  const { code } = await cli.exited
  assert.equal(code, 130)
  assert.equal(alive(pid!), false)
  const forced = cli.events().find((event) => event.type === 'steward' && event.signal === 'SIGINT' && Array.isArray(event.killed))
  assert.deepEqual(forced?.killed, [String(pid)])
})

test("exit codes: the child's when it completes (a temporary child's own, too), 1 when steward gives up", { timeout: 30_000 }, async () => {
  const completed = startCli(['run', '--json', '--restart', 'transient', '--', process.execPath, cliChild, 'exit', '0'])
  assert.equal((await completed.exited).code, 0)
  assert.ok(completed.events().some((event) => event.type === 'completed'))
  const gaveUp = startCli(['run', '--json', '--max-restarts', '2', '--', process.execPath, cliChild, 'exit', '3'])
  assert.equal((await gaveUp.exited).code, 1)
  const events = gaveUp.events()
  assert.equal(events.filter((event) => event.type === 'started').length, 3)
  assert.match(String((events.find((event) => event.type === 'gave-up')!.error as { message: string }).message), /exited with code 3/)
  // temporary: not restarted; its own exit code is steward's, as tini and dumb-init pass it through.
  const temporary = startCli(['run', '--json', '--restart', 'temporary', '--', process.execPath, cliChild, 'exit', '3'])
  assert.equal((await temporary.exited).code, 3)
  assert.equal(temporary.events().filter((event) => event.type === 'started').length, 1)
  const temporaryOk = startCli(['run', '--json', '--restart', 'temporary', '--', process.execPath, cliChild, 'exit', '0'])
  assert.equal((await temporaryOk.exited).code, 0)
  // permanent (the default): a clean exit is restarted too, until the limit.
  const permanent = startCli(['run', '--json', '--max-restarts', '1', '--within', '1m', '--', process.execPath, cliChild, 'exit', '0'])
  assert.equal((await permanent.exited).code, 1)
  assert.deepEqual(permanent.events().filter((event) => event.type === 'restarting').map((event) => event.reason), ['returned'])
})

test('bad flags exit 2 before anything starts, the message naming the flag and the reason', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'steward-cli-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const marker = join(dir, 'started')
  const command = ['--', 'sh', '-c', `touch '${marker}'`]
  const cases: Array<[string[], RegExp]> = [
    [['--timout', '1s', ...command], /--timout: unknown flag; did you mean --timeout\?/],
    [['--nme', 'x', ...command], /--nme: unknown flag; did you mean --name\?/],
    [['--evry', '1s', ...command], /--evry: unknown flag; did you mean --every\?/],
    [['--backoff-rest', '1s', ...command], /--backoff-rest: unknown flag; did you mean --backoff-reset\?/],
    [['--backoff-reset', '0', ...command], /--backoff-reset: must be greater than zero/],
    [['--timeout', 'soon', ...command], /--timeout: "soon" is not a duration/],
    [['--timeout', '0', ...command], /--timeout: must be greater than zero/],
    [['--probe', 'htp:x', ...command], /--probe: must be one of ipc, stdout, none, http:URL/],
    [['--probe', 'tcp:localhost:99999', ...command], /--probe: tcp: the port must be 1\.\.65535/],
    [['--probe', "exec:'curl -f", ...command], /--probe: unterminated '/],
    [['--probe', 'http:not a url', ...command], /--probe: http: "not a url" is not a URL/],
    [['--restart', 'sometimes', ...command], /--restart: must be one of permanent, transient, temporary/],
    [['--max-restarts=-1', ...command], /--max-restarts: must be a non-negative integer or Infinity/],
    [['--within', '0', ...command], /--within: must be greater than zero/],
    [['--backoff', '5s..1s', ...command], /--backoff: MAX \(1000 ms\) must not be below MIN \(5000 ms\)/],
    [['--backoff', '5s', ...command], /--backoff: must be MIN\.\.MAX/],
    [['--kill-signal', 'SIGNOPE', ...command], /--kill-signal: must be a signal name/],
    [['--kill-after', '-1s', ...command], /--kill-after/],
    [['--max-memory', '12Q', ...command], /--max-memory: must be a size like 512M/],
    [['--max-memory', '0', ...command], /--max-memory: must be greater than zero/],
    [['--env', 'NOEQUALS', ...command], /--env: must be K=V/],
    [['--probe', 'http://127.0.0.1:1/', '--every', '2s', '--timeout', '1s', ...command], /--every: \(2000 ms\) must be below --timeout/],
    [['--every', '1s', ...command], /--every: applies to http, tcp and exec probes/],
    [['--probe', 'tcp:1', '--every', '10s', ...command], /--every: \(10000 ms\) must be below --timeout \(10000 ms\)/],
    [['--probe-timeout', '1s', '--probe', 'stdout', ...command], /--probe-timeout: applies to an exec probe only/],
    [['--progress-timeout', '1s', ...command], /--progress-timeout: needs --probe ipc/],
    [['--idle-timeout', '1s', '--probe', 'stdout', ...command], /--idle-timeout: applies to --probe none/],
    [['--start-timeout', 'x', ...command], /--start-timeout/],
    [['--stop-timeout', 'x', ...command], /--stop-timeout/],
    [['--cwd', '', ...command], /--cwd: must not be empty/],
    [['--name', '', ...command], /--name: must not be empty/],
    [['sh', '-c', 'true'], /put the command after '--'/],
    [['--timeout', '1s', '--'], /no command/],
    [['--timeout', '--', 'true'], /--timeout: Option '--timeout <value>' argument missing/],
  ]
  for (const [args, pattern] of cases) {
    const { code, stderr } = await inProcess(['run', ...args])
    assert.equal(code, 2, `${args.join(' ')}: exit 2`)
    assert.match(stderr, pattern, args.join(' '))
    assert.match(stderr, /^steward run: /)
    assert.doesNotMatch(stderr, /^steward run: steward run/, 'the prefix once')
    assert.equal(liveChildren.size, 0, `${args.join(' ')}: nothing started`)
    assert.equal(existsSync(marker), false, `${args.join(' ')}: the command never ran`)
  }
  // And the executable itself: exit 2, the message on stderr, nothing on stdout, nothing started.
  const cli = startCli(['run', '--timeout', 'soon', ...command])
  assert.equal((await cli.exited).code, 2)
  assert.deepEqual(cli.lines.map((line) => `${line.stream} ${line.text}`), [`stderr steward run: --timeout: "soon" is not a duration; use milliseconds or a string like '500ms', '4s', '1m', '2h'`])
  assert.equal(existsSync(marker), false)
})

test('flags become the library options: probes, durations, backoff, env, signal, size; no shell unless --shell', () => {
  const plan = parseRun([
    '--timeout', '2s', '--start-timeout', '30s', '--probe', `exec:curl -fsS 'http://127.0.0.1:8080/a b'`, '--every', '500ms', '--probe-timeout', '300ms',
    '--restart', 'transient', '--max-restarts', 'Infinity', '--within', '10m', '--kill-signal', 'int', '--kill-after', '1s', '--max-memory', '1.5G',
    '--env', 'A=1', '--env', 'B=x=y', '--cwd', '/tmp', '--name', 'api', '--', 'server', '--port', '8080',
  ])
  assert.equal(plan.command, 'server')
  assert.deepEqual(plan.args, ['--port', '8080'])
  assert.deepEqual(plan.ward.heartbeat, { exec: ['curl', '-fsS', 'http://127.0.0.1:8080/a b'], every: 500, timeout: 300 })
  assert.equal(plan.ward.shell, undefined)
  assert.equal(plan.ward.killSignal, 'SIGINT')
  assert.equal(plan.ward.killAfter, 1_000)
  assert.equal(plan.ward.cwd, '/tmp')
  assert.equal(plan.ward.env?.A, '1')
  assert.equal(plan.ward.env?.B, 'x=y')
  assert.equal(plan.maxMemory, 1.5 * 1024 ** 3)
  const { backoff, ...options } = plan.steward
  assert.deepEqual(options, { name: 'api', restart: 'transient', stopTimeout: 6_000, timeout: 2_000, startTimeout: 30_000, maxRestarts: Infinity, within: 600_000 })
  assert.ok(backoff !== undefined, 'the default backoff')
  const backedOff = parseRun(['--backoff', '100ms..2s', '--', 'x']).steward.backoff!
  let state = backedOff.initial
  const delays: number[] = []
  for (let restart = 1; restart <= 7; restart++) {
    const step = backedOff.next(state, { restart, uptime: 0 })
    delays.push(step.delay)
    state = step.state
  }
  assert.ok(delays.every((delay, i) => delay >= Math.max(100, 0.8 * Math.min(100 * 2 ** i, 2_000)) && delay <= Math.min(2_000, 1.2 * 100 * 2 ** i)), delays.join(', '))
  assert.deepEqual(parseRun(['--probe', 'tcp:6379', '--', 'x']).ward.heartbeat, { tcp: { host: '127.0.0.1', port: 6379 } })
  assert.deepEqual(parseRun(['--probe', 'http://127.0.0.1:1/h', '--', 'x']).ward.heartbeat, { http: 'http://127.0.0.1:1/h' })
  const defaults = parseRun(['--', 'x'])
  assert.equal(defaults.steward.restart, 'permanent')
  assert.equal(defaults.steward.name, 'x')
  assert.equal(defaults.ward.heartbeat, 'none')
  assert.equal(parseRun(['--shell', '--', 'echo $HOME']).ward.shell, true)
})
