import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { buildConfig } from './config.js'
import { alive, assertJsonLines, childPids, inProcess, isLine, startCli, type CliLine, type RunningCli } from '../testing/cli.js'

// Watch mode and env files through the built CLI, as a user runs them: real files written, real
// children restarted. Verdicts wait for what they are about (a note, a child's pid line); that
// an ignored write did nothing is shown by a write after it that is reported alone.

/** A child that says its pid (stderr) and the variables the tests set (stdout), then stays. */
const app = `process.stderr.write('pid ' + process.pid + '\\n')
if (process.env.DEAF === '1') process.on('SIGTERM', () => {})
const { A, B, C, D, E } = process.env
process.stdout.write('env ' + JSON.stringify({ A, B, C, D, E }) + '\\n')
setInterval(() => {}, 1000)
`

const envText = `# the app's settings
A=from-file
B=from-file
C="$HOME/x\\ty"
export D='single $HOME'
`

/** A temporary project: `app.mjs` in `dir`, and in `dir/folder`: `src/a.js`, `node_modules/m/index.js`, `.git/HEAD`, `.env`. */
function project(t: { after(fn: () => void): void }, folder = '.'): { dir: string; at: string } {
  const dir = mkdtempSync(join(tmpdir(), 'steward-watch-cli-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'app.mjs'), app)
  const at = join(dir, folder)
  mkdirSync(join(at, 'src'), { recursive: true })
  mkdirSync(join(at, 'node_modules', 'm'), { recursive: true })
  mkdirSync(join(at, '.git'))
  writeFileSync(join(at, 'src', 'a.js'), '0')
  writeFileSync(join(at, 'node_modules', 'm', 'index.js'), '0')
  writeFileSync(join(at, '.git', 'HEAD'), 'ref')
  writeFileSync(join(at, '.env'), envText)
  return { dir, at }
}

const isWatchNote = (line: CliLine): boolean => line.json?.type === 'steward' && line.json.watch === 'restart'
/** The variables a child printed on its `env` line. */
const envOf = (line: CliLine): Record<string, string | undefined> => JSON.parse(String(line.json!.line).slice(4)) as Record<string, string | undefined>
const pidLine = (path: string): ((line: CliLine) => boolean) => isLine(/^pid \d+$/, path)

/** Writes under node_modules and .git (ignored), then `times` writes to `file` 40 ms apart (a burst within the quiet time). */
async function touch(at: string, file: string, times: number): Promise<void> {
  writeFileSync(join(at, 'node_modules', 'm', 'index.js'), String(Math.random()))
  writeFileSync(join(at, 'node_modules', 'new.js'), String(Math.random()))
  writeFileSync(join(at, '.git', 'HEAD'), String(Math.random()))
  for (let index = 0; index < times; index++) {
    if (index > 0) await sleep(40)
    writeFileSync(join(at, file), String(Math.random()))
  }
}

/** The next watch note from `from` on, and the child pid line of `path` after it. */
async function nextRestart(cli: RunningCli, path: string, what: string): Promise<{ note: CliLine; pid: number }> {
  const from = cli.lines.length
  const note = await cli.waitFor(`the watch note for ${what}`, isWatchNote, 15_000, from)
  const line = await cli.waitFor(`the new child after ${what}`, pidLine(path), 15_000, cli.lines.indexOf(note))
  return { note, pid: Number(String(line.json!.line).split(' ')[1]) }
}

test('run --watch --env-file: a burst of writes restarts the child once; node_modules and .git do nothing; the env file is beneath --env and above the environment', { timeout: 60_000 }, async (t) => {
  const { dir, at } = project(t)
  const cli = startCli(['run', '--json', '--name', 'app', '--watch', '.', '--watch-delay', '300ms', '--env-file', '.env', '--env', 'B=explicit', '--', process.execPath, 'app.mjs'], {
    cwd: dir,
    env: { ...process.env, NO_COLOR: '1', A: 'from-steward', E: 'from-steward' },
  })
  t.after(() => cli.kill())
  const env = await cli.waitFor("the child's environment", isLine(/^env /, 'app'))
  assert.deepEqual(envOf(env), { A: 'from-file', B: 'explicit', C: '$HOME/x\ty', D: 'single $HOME', E: 'from-steward' })
  await cli.waitFor('the first child', pidLine('app'))

  await touch(at, 'src/a.js', 5)
  const first = await nextRestart(cli, 'app', 'five writes to src/a.js')
  assert.deepEqual(first.note.json!.files, ['src/a.js'], 'the ignored writes are not among the changes')
  assert.match(String(first.note.json!.message), /^app: restarting \(file changed: src\/a\.js\)$/)
  assert.ok(cli.events().some((event) => event.type === 'restarting' && event.reason === 'manual' && event.path === 'app'))

  // Positive control: ignored writes again, then one write that is reported alone.
  await touch(at, 'b.js', 1)
  const second = await nextRestart(cli, 'app', 'a write to b.js')
  assert.deepEqual(second.note.json!.files, ['b.js'])

  const pids = childPids(cli)
  assert.equal(pids.length, 3, `one child per restart: ${pids.join(', ')}`)
  assert.equal(pids[1], first.pid)
  assert.equal(pids[2], second.pid)
  assert.equal(cli.lines.filter(isWatchNote).length, 2, 'the burst was one restart')
  assert.equal(cli.events().filter((event) => event.type === 'restarting').length, 2)
  for (const pid of pids.slice(0, 2)) assert.equal(alive(pid), false, `replaced child ${pid} is gone`)

  // The run ends (its watchers closed: an open one would keep steward's event loop alive).
  cli.process.kill('SIGTERM')
  assert.equal((await cli.exited).code, 143)
  assert.equal(alive(pids[2]), false)
  assertJsonLines(cli)
})

test('steward up: watch restarts only its app, once per burst; envFile reaches it beneath env; a reload sees a changed env file', { timeout: 60_000 }, async (t) => {
  const { dir, at } = project(t, 'web')
  const file = join(dir, 'steward.config.json')
  const child = { command: process.execPath, args: [join(dir, 'app.mjs')] }
  const config = {
    name: 'stack',
    children: [
      { name: 'web', ...child, cwd: 'web', watch: ['.'], watchDelay: '300ms', watchIgnore: ['*.log'], envFile: '.env', env: { B: 'explicit' } },
      // Deaf to SIGTERM: the tree's stop waits for its SIGKILL, web still running meanwhile.
      { name: 'worker', ...child, env: { DEAF: '1' }, killAfter: '4s' },
    ],
  }
  writeFileSync(file, JSON.stringify(config))
  const socket = join(dir, 'control.sock')
  const cli = startCli(['up', '--json', '--socket', socket, file], { cwd: dir, env: { ...process.env, NO_COLOR: '1', A: 'from-steward' } })
  t.after(() => cli.kill())
  const env = await cli.waitFor("web's environment", isLine(/^env /, 'stack/web'))
  assert.deepEqual(envOf(env), { A: 'from-file', B: 'explicit', C: '$HOME/x\ty', D: 'single $HOME' })
  const workerEnv = await cli.waitFor("worker's environment", isLine(/^env /, 'stack/worker'))
  assert.equal(envOf(workerEnv).A, 'from-steward', "another app's env file is not the worker's")
  await cli.waitFor('web', pidLine('stack/web'))
  await cli.waitFor('worker', pidLine('stack/worker'))

  writeFileSync(join(at, 'server.log'), "ignored by the app's watchIgnore")
  await touch(at, 'src/a.js', 4)
  const first = await nextRestart(cli, 'stack/web', 'four writes to web/src/a.js')
  assert.deepEqual(first.note.json!.files, ['src/a.js'], "named relative to the app's cwd; the ignored writes are not among them")
  assert.equal(first.note.json!.app, 'web')

  await touch(at, 'src/b.js', 1)
  const second = await nextRestart(cli, 'stack/web', 'a write to web/src/b.js')
  assert.deepEqual(second.note.json!.files, ['src/b.js'])

  const pidsOf = (path: string): number[] => cli.lines.filter(pidLine(path)).map((line) => Number(String(line.json!.line).split(' ')[1]))
  assert.equal(pidsOf('stack/web').length, 3, 'web: one child per burst')
  assert.equal(pidsOf('stack/worker').length, 1, 'the worker was not restarted')
  assert.ok(cli.events().some((event) => event.type === 'restarting' && event.reason === 'manual' && event.path === 'stack/web'))

  // A reload reads the env file again: web, whose file's variables changed, is restarted with the
  // new value. Its watch keys changed too (src ignored now): applied to its watch.
  writeFileSync(join(at, '.env'), envText.replace('A=from-file', 'A=changed'))
  writeFileSync(file, JSON.stringify({ ...config, children: [{ ...config.children[0], watchIgnore: ['*.log', 'src'] }, config.children[1]] }))
  const from = cli.lines.length
  cli.process.kill('SIGHUP')
  await cli.waitFor('the reload', (line) => line.json?.type === 'steward' && /^reload: restarted web; unchanged worker$/.test(String(line.json.message)), 15_000, from)
  await cli.waitFor("web's environment after the reload", isLine(/^env \{"A":"changed"/, 'stack/web'), 15_000, from)
  await touch(at, 'src/a.js', 1)
  await touch(at, 'b.js', 1)
  const after = await nextRestart(cli, 'stack/web', 'writes after the reload')
  assert.deepEqual(after.note.json!.files, ['b.js'], "the reload's watchIgnore applies: src is ignored now")

  // An app an operator stopped stays stopped: a change says so and starts nothing.
  assert.equal((await inProcess(['stop', 'web', '--socket', socket])).code, 0)
  const stoppedAt = cli.lines.length
  await touch(at, 'b.js', 1)
  const kept = await cli.waitFor('the note on a stopped app', (line) => line.json?.type === 'steward' && line.json.watch === 'stopped', 15_000, stoppedAt)
  assert.match(String(kept.json!.message), /^web: file changed: b\.js; not restarting: it was stopped \(steward start web starts it\)$/)
  assert.equal(cli.lines.slice(stoppedAt).filter(pidLine('stack/web')).length, 0, 'no child of web started')

  assert.equal((await inProcess(['start', 'web', '--socket', socket])).code, 0)
  await cli.waitFor('web started again', pidLine('stack/web'), 15_000, stoppedAt)
  const stopping = cli.lines.length
  cli.process.kill('SIGTERM')
  await cli.waitFor('the stop', (line) => line.json?.type === 'steward' && line.json.signal === 'SIGTERM', 15_000, stopping)
  // While the tree stops (the worker waits for its SIGKILL), a change restarts nothing and says nothing.
  await touch(at, 'b.js', 1)
  assert.equal((await cli.exited).code, 143)
  assert.deepEqual(cli.lines.slice(stopping).filter((line) => line.json?.type === 'steward' && line.json.app === 'web'), [])
  for (const pid of [...pidsOf('stack/web'), ...pidsOf('stack/worker')]) assert.equal(alive(pid), false, `child ${pid} is gone`)
  assertJsonLines(cli)
})

test('run: a --watch path that names nothing, a malformed or missing --env-file, --watch-delay alone: exit 2 before anything starts', async (t) => {
  const { dir } = project(t)
  writeFileSync(join(dir, 'bad.env'), 'A=1\nB="open\n')
  const cases: [string[], RegExp][] = [
    [['--watch', join(dir, 'nope')], /--watch: ".*nope" names no file or folder/],
    [['--watch', dir, '--watch-ignore', 'a/b'], /--watch-ignore: must be a file or folder name/],
    [['--watch-delay', '1s'], /--watch-delay: applies to watch mode: give --watch PATH too/],
    [['--watch', dir, '--watch-delay', '0'], /--watch-delay: must be greater than zero/],
    [['--env-file', join(dir, 'missing.env')], /--env-file: no file ".*missing\.env"/],
    [['--env-file', join(dir, 'bad.env')], /--env-file: .*bad\.env:2: the double quote of B is never closed/],
  ]
  for (const [flags, message] of cases) {
    const { code, stderr } = await inProcess(['run', ...flags, '--', process.execPath, '-e', 'console.log("started")'])
    assert.equal(code, 2, flags.join(' '))
    assert.match(stderr, message)
  }
})

test('steward up --check: watch and envFile mistakes name the file, the app and the key', async (t) => {
  const { dir } = project(t)
  writeFileSync(join(dir, 'bad.env'), 'A=1\n\nnot a pair\n')
  const file = join(dir, 'steward.config.json')
  const web = { name: 'web', command: process.execPath, args: ['app.mjs'] }
  const cases: [Record<string, unknown>, RegExp][] = [
    [{ ...web, watch: ['src', 'nope'] }, /steward\.config\.json: child 'web': key 'watch': "nope" names no file or folder \(.*\/nope\)/],
    [{ ...web, watch: 'src' }, /child 'web': key 'watch' must be a non-empty array of paths/],
    [{ ...web, watch: [] }, /child 'web': key 'watch' must be a non-empty array/],
    [{ ...web, watchDelay: '1s' }, /child 'web': key 'watchDelay' applies to watch mode: give 'watch' too/],
    [{ ...web, watch: ['src'], watchDelay: 'soon' }, /child 'web': key 'watchDelay': "soon" is not a duration/],
    [{ ...web, watch: ['src'], watchIgnore: 'dist' }, /child 'web': key 'watchIgnore' must be an array of names/],
    [{ ...web, wach: ['src'] }, /child 'web': unknown key 'wach'; did you mean 'watch'\?/],
    [{ ...web, envFile: 'missing.env' }, /child 'web': key 'envFile': no file "missing\.env"/],
    [{ ...web, envFile: 'bad.env' }, /child 'web': key 'envFile': bad\.env:3: expected KEY=VALUE/],
    [{ ...web, envFile: 3 }, /child 'web': key 'envFile' must be a path/],
    [{ name: 'worker', module: 'app.mjs', envFile: '.env' }, /child 'worker': key 'envFile' applies only to a process child/],
  ]
  for (const [child, message] of cases) {
    writeFileSync(file, JSON.stringify({ children: [child] }))
    const { code, stderr } = await inProcess(['up', '--check', file])
    assert.equal(code, 2, JSON.stringify(child))
    assert.match(stderr, message, JSON.stringify(child))
  }
  // Valid: a thread child may be watched too, paths relative to the config's folder.
  writeFileSync(file, JSON.stringify({ children: [{ ...web, watch: ['src'], envFile: ['.env', '.env'] }, { name: 'worker', module: 'app.mjs', watch: ['app.mjs'] }] }))
  const { code, stderr } = await inProcess(['up', '--check', file])
  assert.equal(code, 0, stderr)
})

test("what a reload compares: an env file's variables count, the watch keys do not", (t) => {
  const { dir } = project(t)
  const file = join(dir, 'steward.config.json')
  const web = { name: 'web', command: process.execPath, args: ['app.mjs'], envFile: '.env' }
  const entry = (child: Record<string, unknown>): string => buildConfig({ children: [child] }, file).entries.get('web')!
  const before = entry({ ...web, watch: ['src'] })
  assert.equal(entry({ ...web, watch: ['src', 'app.mjs'], watchDelay: '1s', watchIgnore: ['*.log'] }), before, 'watch keys changed only: applied without a restart')
  assert.equal(entry(web), before, 'watch removed: the same')
  writeFileSync(join(dir, '.env'), envText.replace('A=from-file', 'A=changed'))
  assert.notEqual(entry({ ...web, watch: ['src'] }), before, "the env file's variables changed: the app is replaced")
  assert.equal(buildConfig({ children: [{ ...web, watch: ['src'] }] }, file).watches?.get('web')?.delay, 200, 'the default quiet time')
})

test('steward up: a watched app with instances is restarted copy by copy, and once all are stopped a change says so', { timeout: 60_000 }, async (t) => {
  const { dir, at } = project(t, 'web')
  const file = join(dir, 'steward.config.json')
  const socket = join(dir, 'control.sock')
  writeFileSync(file, JSON.stringify({ children: [{ name: 'web', command: process.execPath, args: [join(dir, 'app.mjs')], cwd: 'web', instances: 2, watch: ['src'], watchDelay: '200ms' }] }))
  const cli = startCli(['up', '--json', '--socket', socket, file], { cwd: dir })
  t.after(() => cli.kill())
  await cli.waitFor('copy 0', pidLine('steward/web:0'))
  await cli.waitFor('copy 1', pidLine('steward/web:1'))
  const from = cli.lines.length
  await touch(at, 'src/a.js', 2)
  const note = await cli.waitFor('the watch note', isWatchNote, 15_000, from)
  assert.equal(note.json!.app, 'web')
  await cli.waitFor('copy 0 replaced', pidLine('steward/web:0'), 15_000, from)
  await cli.waitFor('copy 1 replaced', pidLine('steward/web:1'), 15_000, from)
  assert.equal((await inProcess(['stop', 'web', '--socket', socket])).code, 0)
  const stopped = cli.lines.length
  await touch(at, 'src/a.js', 1)
  const kept = await cli.waitFor('the note on the stopped app', (line) => line.json?.type === 'steward' && line.json.watch === 'stopped', 15_000, stopped)
  assert.equal(kept.json!.app, 'web')
  cli.process.kill('SIGTERM')
  assert.equal((await cli.exited).code, 143)
  for (const pid of childPids(cli)) assert.equal(alive(pid), false, `child ${pid} is gone`)
})
