import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { liveChildren } from '../isolation/process-ward.js'
import { alive, assertJsonLines, childPids, cliChild, inProcess, isEvent, isLine, startCli, type CliLine } from '../testing/cli.js'
import { defineConfig } from '../config.js'
import { describeEvent, Printer, wantsColour } from './output.js'

const root = fileURLToPath(new URL('../../', import.meta.url))
const threadWards = fileURLToPath(new URL('../../test/fixtures/thread-wards.mjs', import.meta.url))

function tempDir(t: { after(fn: () => void): void }, inside = tmpdir()): string {
  const dir = mkdtempSync(join(inside, '.steward-up-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A child of the config that says `boot`, and is up (beats on stdout) after `delay` ms. */
function readyChild(name: string, delay: number): Record<string, unknown> {
  return { name, command: process.execPath, args: [cliChild, 'ready', String(delay)], heartbeat: 'stdout', startTimeout: '5s', timeout: '2s' }
}

function stamp(cli: { lines: CliLine[] }, path: string, word: 'boot' | 'up'): number {
  const line = cli.lines.find((candidate) => isLine(new RegExp(`^${word} \\d+$`), path)(candidate))
  assert.ok(line !== undefined, `${path} said ${word}`)
  return Number(String(line.json!.line).split(' ')[1])
}

test("steward up, startOrder 'ready': each child starts only after the one before it beat; SIGTERM stops them in reverse order, 143, none left", { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'steward.config.json')
  writeFileSync(file, JSON.stringify({ name: 'app', startOrder: 'ready', children: [readyChild('db', 400), readyChild('api', 400), readyChild('web', 100)] }))
  // The default lookup: steward.config.json in the current folder.
  const cli = startCli(['up', '--json'], { cwd: dir })
  t.after(() => cli.kill())
  await cli.waitFor('web up', isLine(/^up \d+$/, 'app/web'))
  assert.ok(stamp(cli, 'app/api', 'boot') >= stamp(cli, 'app/db', 'up'), 'api started after db beat')
  assert.ok(stamp(cli, 'app/web', 'boot') >= stamp(cli, 'app/api', 'up'), 'web started after api beat')
  assert.deepEqual(cli.events().filter((event) => event.type === 'started').map((event) => event.path), ['app/db', 'app/api', 'app/web'])
  const pids = childPids(cli)
  assert.equal(pids.length, 3)
  cli.process.kill('SIGTERM')
  assert.equal((await cli.exited).code, 143)
  for (const pid of pids) assert.equal(alive(pid), false, `child ${pid} is gone`)
  assert.deepEqual(cli.events().filter((event) => event.type === 'stopped').map((event) => event.path), ['app/web', 'app/api', 'app/db', 'app'])
  assert.deepEqual(cli.events().at(-1), { type: 'stop-report', unstopped: [], killed: [], exitCode: 143, time: cli.events().at(-1)?.time, pid: cli.process.pid })
  assertJsonLines(cli)
})

test('steward up: a child that hangs is restarted by the tree; output for a person: time, path, what; child lines prefixed with the path', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'tree.config.mjs')
  writeFileSync(
    file,
    `export default Promise.resolve({
      name: 'tree',
      backoff: '10ms..20ms',
      children: [
        { name: 'worker', module: ${JSON.stringify(threadWards)}, export: 'beatsUntilStopped', timeout: '2s' },
        { name: 'hanger', command: ${JSON.stringify(process.execPath)}, args: [${JSON.stringify(cliChild)}, 'ipc-hang'], heartbeat: 'ipc', timeout: '1s', startTimeout: '30s', env: { EXTRA: 'x' } },
      ],
    })\n`,
  )
  const cli = startCli(['up', file])
  t.after(() => cli.kill())
  await cli.waitFor('the restart', (line) => /^\d\d:\d\d:\d\d\.\d{3} tree\/hanger started \(attempt 2, pid \d+\)$/.test(line.text))
  cli.process.kill('SIGINT')
  assert.equal((await cli.exited).code, 130)
  const text = cli.lines.map((line) => line.text)
  for (const pattern of [
    /^\d\d:\d\d:\d\d\.\d{3} tree\/hanger started \(pid \d+\)$/,
    /^tree\/hanger ! pid \d+ attempt 1$/,
    /^tree\/hanger \| beat 8$/,
    /^\d\d:\d\d:\d\d\.\d{3} tree\/hanger hung: no beat for 1000 ms$/,
    /^\d\d:\d\d:\d\d\.\d{3} tree hanger hung: restart hanger \(independent; no restart limit\)$/,
    // backoff '10ms..20ms': the first delay is MIN, jittered and kept inside MIN..MAX.
    /^\d\d:\d\d:\d\d\.\d{3} tree\/hanger restarting \(hung\), restart 1, in (1\d|20) ms$/,
    /^\d\d:\d\d:\d\d\.\d{3} steward received SIGINT: stopping every ward/,
    /^\d\d:\d\d:\d\d\.\d{3} steward stop report: every ward stopped in time; none needed SIGKILL; exit 130$/,
  ]) {
    assert.ok(text.some((line) => pattern.test(line)), `${String(pattern)} in\n${text.join('\n')}`)
  }
  assert.ok(!text.join('\n').includes('\u001b['), 'no colour off a terminal')
})

test('colour only on a terminal and without NO_COLOR; each kind of event reads as words', () => {
  assert.equal(wantsColour({ isTTY: true }, {}), true)
  assert.equal(wantsColour({ isTTY: true }, { NO_COLOR: '1' }), false)
  assert.equal(wantsColour({ isTTY: true }, { NO_COLOR: '' }), true)
  assert.equal(wantsColour({ isTTY: false }, {}), false)
  assert.equal(wantsColour({}, {}), false)
  const lines: string[] = []
  const base = { ward: 'api', path: 'app/api', at: 5, attempt: 2 }
  const hung = { ...base, type: 'hung', timeout: 2_000, starting: false, overdue: 0 } as const
  new Printer({ json: false, colour: true, write: (line) => lines.push(line), now: () => Date.UTC(2026, 0, 1, 12, 30, 45, 123) }).event(hung)
  assert.equal(lines[0], '\u001b[2m12:30:45.123\u001b[0m app/api \u001b[31mhung: no beat for 2000 ms\u001b[0m')
  new Printer({ json: false, colour: false, write: (line) => lines.push(line), now: () => 0 }).event({ ...base, type: 'line', stream: 'stdout', line: 'hello' })
  assert.equal(lines[1], 'app/api | hello')
  new Printer({ json: true, colour: true, write: (line) => lines.push(line) }).event(hung)
  const { time, pid, ...event } = JSON.parse(lines[2]!) as Record<string, unknown>
  assert.deepEqual(event, hung)
  assert.equal(pid, process.pid, "steward's pid: no child was spawned")
  assert.match(String(time), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  assert.equal(describeEvent({ ...base, type: 'hung', timeout: 5_000, starting: true, overdue: 0 }), 'hung: no first beat within 5000 ms')
  assert.equal(describeEvent({ ...base, type: 'restarting', reason: 'failed', restarts: 3, delay: 250.4 }), 'restarting (failed), restart 3, in 250 ms')
  assert.equal(describeEvent({ ...base, type: 'failed', error: { name: 'Error', message: 'x exited with code 2' } } as never), 'failed: x exited with code 2')
  assert.equal(describeEvent({ ...base, type: 'gave-up', restarts: 5, error: { name: 'Error', message: 'boom' } } as never), 'gave up after 5 restarts: boom')
})

test('bad config files exit 2 before anything starts; the message names the file, the child and the key', async (t) => {
  const dir = tempDir(t)
  const marker = (name: string) => join(dir, `started-${name}`)
  const child = (name: string, extra: Record<string, unknown> = {}) => ({ name, command: 'sh', args: ['-c', `touch '${marker(name)}'`], ...extra })
  const cases: Array<[string, unknown, RegExp]> = [
    ['unknown-key.json', { children: [child('web', { timout: '1s' })] }, /bad\.unknown-key\.json: child 'web': unknown key 'timout'; did you mean 'timeout'\? known keys: /],
    ['wrong-type.json', { children: [child('web'), child('api', { timeout: true })] }, /child 'api': key 'timeout': expected a duration/],
    ['missing-command.json', { children: [child('web'), { name: 'worker', args: ['x'] }] }, /child 'worker': key 'command' is missing/],
    ['duplicate.json', { children: [child('web'), child('web')] }, /child 'web': key 'name' is not unique: two children are named 'web'/],
    ['top-key.json', { strategi: 'one-for-all', children: [child('web')] }, /unknown key 'strategi'; did you mean 'strategy'\?/],
    ['strategy.json', { strategy: 'all-for-one', children: [child('web')] }, /key 'strategy' must be one of 'one-for-one', 'one-for-all', 'rest-for-one'/],
    ['no-children.json', { children: [] }, /key 'children' must be a non-empty array/],
    ['not-object.json', [1, 2], /the config must be an object/],
    ['probe.json', { children: [child('web', { heartbeat: 'htp:x' })] }, /child 'web': key 'heartbeat': must be one of ipc, stdout, none/],
    ['probe-object.json', { children: [child('web', { heartbeat: { exec: [] } })] }, /child 'web': key 'heartbeat\.exec' must be \[command, \.\.\.args\]/],
    ['args.json', { children: [child('web', { args: 'x' })] }, /child 'web': key 'args' must be an array of strings/],
    ['env.json', { children: [child('web', { env: { A: 'x', PORT: 8080 } })] }, /child 'web': key 'env\.PORT' must be a string, got the number 8080$/m],
    ['env-array.json', { children: [child('web', { env: ['A=1'] })] }, /child 'web': key 'env' must be an object of strings, got an array/],
    ['warm-on-process.json', { children: [child('web', { warm: true })] }, /child 'web': key 'warm' applies only to a worker-thread child \(one with 'module'\); this child is a process/],
    ['export-on-process.json', { children: [child('web', { export: 'run' })] }, /child 'web': key 'export' applies only to a worker-thread child/],
    ['max-memory-on-thread.json', { children: [{ name: 'w', module: threadWards, maxMemory: '1G' }] }, /child 'w': key 'maxMemory' applies only to a process child \(one with 'command'\); this child is a worker thread/],
    ['kill-after-on-thread.json', { children: [{ name: 'w', module: threadWards, killAfter: '1s' }] }, /child 'w': key 'killAfter' applies only to a process child/],
    ['backoff-object.json', { backoff: { min: '1s', max: '10ms' }, children: [child('web')] }, /key 'backoff': max \(10 ms\) must not be below min \(1000 ms\)/],
    ['backoff-key.json', { backoff: { min: '1s', reset: '1m' }, children: [child('web')] }, /key 'backoff': unknown key 'reset'; known keys: min, max, resetAfter/],
    ['kill-signal.json', { children: [child('web', { killSignal: 'SIGNOPE' })] }, /child 'web': key 'killSignal': must be a signal name/],
    ['max-memory.json', { children: [child('web', { maxMemory: '1Q' })] }, /child 'web': key 'maxMemory': must be a size/],
    ['refused.json', { children: [child('web', { maxRestarts: 3 })] }, /child 'web': key 'maxRestarts' does not apply to a child/],
    ['both.json', { children: [child('web', { module: './x.mjs' })] }, /child 'web': key 'module' and 'command' exclude each other/],
    ['module.json', { children: [{ name: 'w', module: './missing.mjs' }] }, /child 'w': key 'module' names no file/],
    ['thread-option.json', { children: [{ name: 'w', module: threadWards, warm: 'yes' }] }, /child 'w': key 'warm' must be a boolean/],
    ['restart.json', { children: [child('web', { restart: 'always' })] }, /child 'web': key 'restart' must be one of/],
    ['pulse.json', { children: [child('web', { timeout: '1s', pulseInterval: '2s' })] }, /child 'web': key 'pulseInterval' must be below 'timeout' \(1000 ms\), got 2000 ms/],
    ['backoff.json', { backoff: '1s', children: [child('web')] }, /key 'backoff': must be MIN\.\.MAX/],
    ['unnamed.json', { children: [{ command: 'x' }] }, /children\[0\]: key 'name' must be a non-empty string/],
  ]
  for (const [name, config, pattern] of cases) {
    const file = join(dir, `bad.${name}`)
    writeFileSync(file, JSON.stringify(config))
    const { code, stderr } = await inProcess(['up', file])
    assert.equal(code, 2, name)
    assert.match(stderr, /^steward up: /, name)
    assert.match(stderr, pattern, name)
    assert.equal(liveChildren.size, 0, `${name}: nothing started`)
    // --check says the same, with the same exit code.
    const checked = await inProcess(['up', '--check', file])
    assert.equal(checked.code, 2, `${name} --check`)
    assert.equal(checked.stderr, stderr, `${name} --check`)
  }
  writeFileSync(join(dir, 'syntax.json'), '{ "children": [')
  assert.match((await inProcess(['up', join(dir, 'syntax.json')])).stderr, /syntax\.json: not valid JSON/)
  writeFileSync(join(dir, 'throws.mjs'), 'throw new Error("config bug")\n')
  assert.match((await inProcess(['up', join(dir, 'throws.mjs')])).stderr, /throws\.mjs: could not be loaded: config bug/)
  writeFileSync(join(dir, 'no-default.mjs'), 'export const config = {}\n')
  assert.match((await inProcess(['up', join(dir, 'no-default.mjs')])).stderr, /no-default\.mjs: has no default export/)
  assert.match((await inProcess(['up', join(dir, 'nowhere.json')])).stderr, /no config file/)
  assert.match((await inProcess(['up', '--chek'])).stderr, /--chek: unknown flag; did you mean --check\?/)
  const empty = tempDir(t)
  const cwd = process.cwd()
  process.chdir(empty)
  try {
    assert.match((await inProcess(['up'])).stderr, /no steward\.config\.js, steward\.config\.mjs, steward\.config\.json in /)
  } finally {
    process.chdir(cwd)
  }
  assert.deepEqual(readdirSync(dir).filter((entry) => entry.startsWith('started-')), [], 'no child ever ran')
  // The executable: exit 2, the reason on stderr, nothing started; with --check too.
  const checking = startCli(['up', '--check', join(dir, 'bad.duplicate.json')])
  assert.equal((await checking.exited).code, 2)
  assert.match(checking.lines[0]!.text, /^steward up: bad\.duplicate\.json: child 'web': key 'name' is not unique/)
  const cli = startCli(['up', join(dir, 'bad.duplicate.json')])
  assert.equal((await cli.exited).code, 2)
  assert.equal(cli.lines.length, 1)
  assert.match(cli.lines[0]!.text, /^steward up: bad\.duplicate\.json: child 'web': key 'name' is not unique/)
  assert.equal(existsSync(marker('web')), false)
})

test('steward up --check validates a config written with defineConfig() (imported from the package) and starts nothing', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t, root) // inside the package, so `import … from 'steward'` resolves to it
  const marker = join(dir, 'started')
  writeFileSync(
    join(dir, 'steward.config.js'),
    `import { defineConfig } from 'steward'
export default defineConfig({
  strategy: 'rest-for-one',
  startOrder: 'ready',
  maxRestarts: 10,
  within: '1m',
  children: [
    { name: 'db', command: 'sh', args: ['-c', 'touch ${marker}'], heartbeat: 'tcp:127.0.0.1:6379', killAfter: '2s' },
    { name: 'api', command: 'sh', args: ['-c', 'touch ${marker}'], heartbeat: { http: 'http://127.0.0.1:8080/health', every: '1s' }, maxMemory: '512M' },
    { name: 'jobs', module: ${JSON.stringify(threadWards)}, export: 'beatsUntilStopped' },
  ],
})\n`,
  )
  const cli = startCli(['up', '--check', '--json'], { cwd: dir })
  assert.equal((await cli.exited).code, 0, cli.lines.map((line) => line.text).join('\n'))
  const [report] = cli.events()
  assert.deepEqual(report, {
    type: 'check',
    file: join(dir, 'steward.config.js'),
    valid: true,
    children: [
      { name: 'db', kind: 'process' },
      { name: 'api', kind: 'process', maxMemory: 512 * 1024 ** 2 },
      { name: 'jobs', kind: 'thread' },
    ],
    warnings: [],
  })
  assert.equal(existsSync(marker), false)
  const config = { children: [{ name: 'a', command: 'true' }] } as const
  assert.equal(defineConfig(config), config)
})

test('steward up: a worker-thread child by a module path and a process child in a cwd, both relative to the config file; SIGTERM stops them', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t)
  mkdirSync(join(dir, 'work'))
  writeFileSync(
    join(dir, 'steward.config.json'),
    JSON.stringify({
      children: [
        { name: 'jobs', module: relative(dir, threadWards), export: 'beatsUntilStopped', timeout: '2s' },
        { name: 'where', command: 'sh', args: ['-c', 'echo "pid $$" >&2; pwd; exec sleep 1000'], cwd: 'work' },
      ],
    }),
  )
  // Started from another folder: paths in the file are the file's.
  const cli = startCli(['up', '--json', join(dir, 'steward.config.json')], { cwd: root })
  t.after(() => cli.kill())
  await cli.waitFor('the worker', isEvent('started', { path: 'steward/jobs' }))
  const pwd = await cli.waitFor('the working directory', isLine(/^\//, 'steward/where'))
  assert.equal(pwd.json!.line, realpathSync(join(dir, 'work')))
  cli.process.kill('SIGTERM')
  assert.equal((await cli.exited).code, 143)
  assert.ok(cli.events().some(isEventJson('stopped', 'steward/jobs')))
  for (const pid of childPids(cli)) assert.equal(alive(pid), false)
})

function isEventJson(type: string, path: string): (event: Record<string, unknown>) => boolean {
  return (event) => event.type === type && event.path === path
}
