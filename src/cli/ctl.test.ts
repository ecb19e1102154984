import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, lstatSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, writeFileSync } from 'node:fs'
import { request as httpGet, request as httpRequest } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../testing/net.js'
import { redisPid } from '../testing/redis-server.js'
import { alive, cliChild, isLine, runCli, startCli, type RunningCli } from '../testing/cli.js'
import { defaultSocket } from './control.js'

// A real stack under `steward up` — redis-server, a worker (a node script), a web server (node
// http) — controlled from a second "terminal": the control commands run as a user runs them.

function tempDir(t: { after(fn: () => void): void }): string {
  // Short: the default socket goes in it ($XDG_RUNTIME_DIR).
  const dir = mkdtempSync(join(tmpdir(), '.sc-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const steward = runCli

interface App {
  readonly name: string
  readonly state: string
  readonly up: boolean
  readonly pid: number | null
  readonly uptime: number | null
  readonly restarts: number
}

async function status(dir: string, env: NodeJS.ProcessEnv): Promise<App[]> {
  const done = await steward(['status', '--json'], dir, env)
  assert.equal(done.code, 0, `status: ${done.stderr}`)
  return (JSON.parse(done.stdout) as { apps: App[] }).apps
}

function pids(apps: readonly App[]): Record<string, number | null> {
  return Object.fromEntries(apps.map((app) => [app.name, app.pid]))
}

/** `/proc/<pid>/stat`: its command name and parent pid. */
function procStat(pid: number): { comm: string; ppid: number } {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'))
  return { comm, ppid: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) }
}

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, within = 20_000): Promise<T> {
  const deadline = performance.now() + within
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (performance.now() > deadline) assert.fail(`no ${what} within ${within} ms`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

interface Stack {
  readonly dir: string
  readonly file: string
  readonly env: NodeJS.ProcessEnv
  readonly redisPort: number
  readonly webPort: number
  config(worker?: Record<string, unknown>): Record<string, unknown>
}

async function stack(t: { after(fn: () => void): void }): Promise<Stack> {
  const dir = tempDir(t)
  const redisPort = await freePort()
  const webPort = await freePort()
  const worker = join(dir, 'worker.mjs')
  writeFileSync(worker, `let n = 0\nsetInterval(() => console.log(\`tick \${++n} \${process.pid} \${process.env.MODE ?? '-'}\`), 100)\n`)
  const config = (workerExtra: Record<string, unknown> = {}): Record<string, unknown> => ({
    name: 'app',
    children: [
      { name: 'redis', command: 'redis-server', args: ['--port', String(redisPort), '--save', '', '--appendonly', 'no'], heartbeat: `tcp:127.0.0.1:${redisPort}`, startTimeout: '10s', timeout: '3s' },
      { name: 'worker', command: process.execPath, args: [worker], heartbeat: 'stdout', startTimeout: '10s', timeout: '5s', ...workerExtra },
      { name: 'web', command: process.execPath, args: [cliChild, 'http', String(webPort)], heartbeat: `http:http://127.0.0.1:${webPort}/health`, startTimeout: '10s', timeout: '3s' },
    ],
  })
  const file = join(dir, 'steward.config.json')
  writeFileSync(file, JSON.stringify(config()))
  return { dir, file, env: { ...process.env, NO_COLOR: '1', XDG_RUNTIME_DIR: dir }, redisPort, webPort, config }
}

function up(s: Stack, t: { after(fn: () => void): void }): RunningCli {
  const cli = startCli(['up', '--json'], { cwd: s.dir, env: s.env })
  t.after(() => cli.kill())
  return cli
}

async function serving(s: Stack, cli: RunningCli): Promise<App[]> {
  return until('the stack serving with pids', async () => {
    if (cli.process.exitCode !== null) assert.fail(`steward up ended: ${cli.lines.map((line) => line.text).join('\n')}`)
    if ((await redisPid(s.redisPort)) === undefined) return undefined
    if (!(await answers(s.webPort))) return undefined
    const done = await steward(['status', '--json'], s.dir, s.env)
    if (done.code !== 0) return undefined
    const apps = (JSON.parse(done.stdout) as { apps: App[] }).apps
    return apps.every((app) => app.pid !== null && app.state === 'working' && app.up) ? apps : undefined
  })
}

function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const request = httpGet({ host: '127.0.0.1', port, path: '/health', timeout: 2_000 }, (response) => {
      response.resume()
      resolve(response.statusCode === 200)
    })
    request.once('error', () => resolve(false))
    request.end()
  })
}

test('steward status, logs, a second steward and a stale socket, on a real stack: pids match /proc, table and JSON, logs -f follows, a second up is refused (2), a SIGKILLed steward\'s socket is taken over', { timeout: 120_000 }, async (t) => {
  const s = await stack(t)
  const cli = up(s, t)
  const apps = await serving(s, cli)
  assert.deepEqual(apps.map((app) => app.name), ['redis', 'worker', 'web'])
  for (const app of apps) {
    const stat = procStat(app.pid!)
    assert.equal(stat.ppid, cli.process.pid, `${app.name}'s pid ${app.pid} is a child of steward`)
    // The program it runs (a thread name such as Node 24's 'MainThread' can stand in /proc's comm).
    if (app.name === 'redis') assert.equal(stat.comm, 'redis-server')
    else assert.equal(readlinkSync(`/proc/${app.pid!}/exe`), realpathSync(process.execPath), `${app.name} runs node`)
    assert.equal(app.restarts, 0)
    assert.ok(typeof app.uptime === 'number' && app.uptime >= 0)
  }
  assert.equal(await redisPid(s.redisPort), apps[0]!.pid, 'the redis status names is the one answering')
  const socket = defaultSocket(`up:${s.file}`, s.env)
  assert.equal(lstatSync(socket).mode & 0o777, 0o600, 'the default socket, 0600')

  const table = await steward(['status'], s.dir, s.env)
  assert.equal(table.code, 0)
  const rows = table.stdout.trimEnd().split('\n')
  assert.match(rows[0]!, /^NAME\s+STATE\s+PID\s+UPTIME\s+RESTARTS\s+CPU\s+MEM\s+FDS\s+LAST FAILURE$/)
  assert.deepEqual(rows.slice(1).map((row) => row.split(/\s+/).slice(0, 3)), apps.map((app) => [app.name, 'working', String(app.pid)]))
  assert.equal(rows[0]!.indexOf('PID'), rows[1]!.indexOf(String(apps[0]!.pid)), 'aligned')

  const unknown = await steward(['restart', 'wroker'], s.dir, s.env)
  assert.equal(unknown.code, 2)
  assert.match(unknown.stderr, /steward restart: no app 'wroker' in .*steward\.config\.json; known: redis, worker, web/)

  const recent = await steward(['logs', '-n', '2', 'worker'], s.dir, s.env)
  assert.equal(recent.code, 0)
  const recentLines = recent.stdout.trimEnd().split('\n')
  assert.equal(recentLines.length, 2)
  for (const line of recentLines) assert.match(line, /^app\/worker \| tick \d+ \d+ -$/)
  const lastTick = Number(/tick (\d+)/.exec(recentLines[1]!)![1])

  // logs -f: the recent line, then new ones as they come, until Ctrl-C (exit 0).
  const follow = startCli(['logs', '-f', '-n', '1', 'worker'], { cwd: s.dir, env: s.env })
  t.after(() => follow.kill())
  await follow.waitFor('a new tick', (line) => line.stream === 'stdout' && Number(/^app\/worker \| tick (\d+)/.exec(line.text)?.[1] ?? 0) > lastTick + 2, 20_000)
  assert.ok(follow.lines.every((line) => line.stream === 'stdout' && /^app\/worker \| tick/.test(line.text)), 'only the worker\'s lines')
  follow.process.kill('SIGINT')
  assert.equal((await follow.exited).code, 0)

  // A second steward for the same config is refused before it starts anything.
  const second = await steward(['up'], s.dir, s.env)
  assert.equal(second.code, 2)
  assert.match(second.stderr, new RegExp(`another steward \\(pid ${cli.process.pid}, running .*steward\\.config\\.json\\) is running on control socket ${socket.replaceAll('.', '\\.')}`))
  assert.deepEqual(pids(await status(s.dir, s.env)), pids(apps), 'the first one\'s apps untouched')

  // SIGKILL leaves the socket behind; the next steward takes it over.
  cli.process.kill('SIGKILL')
  await cli.exited
  assert.ok(lstatSync(socket).isSocket(), 'a stale socket is left')
  const gone = await steward(['status'], s.dir, s.env)
  assert.equal(gone.code, 3)
  assert.match(gone.stderr, /^steward status: no steward is running for steward\.config\.json \(socket .*\)\n$/)
  await until('the old children gone', () => (apps.every((app) => !alive(app.pid!)) ? true : undefined))
  const next = up(s, t)
  const again = await serving(s, next)
  for (const app of again) assert.equal(procStat(app.pid!).ppid, next.process.pid)
  next.process.kill('SIGTERM')
  assert.equal((await next.exited).code, 143)
  assert.equal(existsSync(socket), false, 'removed when steward ends')
})

test('steward restart|stop|start|reload and SIGHUP on a real stack: only the app named changes pid, the others keep theirs; an invalid config changes nothing (2)', { timeout: 180_000 }, async (t) => {
  const s = await stack(t)
  const cli = up(s, t)
  const before = pids(await serving(s, cli))

  const restarted = await steward(['restart', 'worker'], s.dir, s.env)
  assert.equal(restarted.code, 0, restarted.stderr)
  assert.equal(restarted.stdout, 'restarted worker\n')
  const afterRestart = pids(await serving(s, cli))
  assert.notEqual(afterRestart.worker, before.worker)
  assert.equal(afterRestart.redis, before.redis)
  assert.equal(afterRestart.web, before.web)
  assert.equal(alive(before.worker!), false)
  await cli.waitFor('the new worker ticking', isLine(new RegExp(`^tick \\d+ ${afterRestart.worker} -$`), 'app/worker'))

  const stopped = await steward(['stop', 'worker'], s.dir, s.env)
  assert.equal(stopped.code, 0, stopped.stderr)
  const whileStopped = await status(s.dir, s.env)
  assert.deepEqual(whileStopped.map((app) => [app.name, app.state, app.pid === null]), [
    ['redis', 'working', false],
    ['worker', 'stopped', true],
    ['web', 'working', false],
  ])
  assert.equal(alive(afterRestart.worker!), false)
  const started = await steward(['start', 'worker'], s.dir, s.env)
  assert.equal(started.code, 0, started.stderr)
  const afterStart = pids(await serving(s, cli))
  assert.notEqual(afterStart.worker, afterRestart.worker)
  assert.equal(afterStart.redis, before.redis)
  assert.equal(afterStart.web, before.web)

  // reload: the worker's config changed, only it restarts.
  writeFileSync(s.file, JSON.stringify(s.config({ env: { MODE: 'reloaded' } })))
  const reloaded = await steward(['reload', '--json'], s.dir, s.env)
  assert.equal(reloaded.code, 0, reloaded.stderr)
  assert.deepEqual(JSON.parse(reloaded.stdout), { ok: true, started: [], stopped: [], restarted: ['worker'], unchanged: ['redis', 'web'] })
  await cli.waitFor('the reloaded worker', isLine(/^tick \d+ \d+ reloaded$/, 'app/worker'))
  const afterReload = pids(await serving(s, cli))
  assert.notEqual(afterReload.worker, afterStart.worker)
  assert.equal(afterReload.redis, before.redis)
  assert.equal(afterReload.web, before.web)

  // An invalid edit changes nothing and says why.
  writeFileSync(s.file, JSON.stringify(s.config({ env: { MODE: 'typo' }, timout: '1s' })))
  const invalid = await steward(['reload'], s.dir, s.env)
  assert.equal(invalid.code, 2)
  assert.match(invalid.stderr, /^steward reload: steward\.config\.json: child 'worker': unknown key 'timout'; did you mean 'timeout'\?/)
  assert.deepEqual(pids(await status(s.dir, s.env)), afterReload)

  // SIGHUP reloads as steward reload does (and does not stop steward).
  writeFileSync(s.file, JSON.stringify(s.config({ env: { MODE: 'hup' } })))
  const from = cli.lines.length
  cli.process.kill('SIGHUP')
  await cli.waitFor('the reload note', (line) => line.json?.type === 'steward' && /^reload: restarted worker/.test(String(line.json.message)), 30_000, from)
  await cli.waitFor('the worker of the new config', isLine(/^tick \d+ \d+ hup$/, 'app/worker'), 20_000, from)
  const afterHup = pids(await serving(s, cli))
  assert.notEqual(afterHup.worker, afterReload.worker)
  assert.equal(afterHup.redis, before.redis)
  assert.equal(afterHup.web, before.web)

  cli.process.kill('SIGTERM')
  assert.equal((await cli.exited).code, 143)
  for (const pid of Object.values(afterHup)) assert.equal(alive(pid!), false)
})

test('steward run has a control socket too: status and logs by --name; restart is refused (2: one command, no apps); its socket given to another run: refused (2)', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t)
  const env = { ...process.env, NO_COLOR: '1', XDG_RUNTIME_DIR: dir }
  const worker = join(dir, 'worker.mjs')
  writeFileSync(worker, `setInterval(() => console.log(\`tick \${process.pid}\`), 100)\n`)
  const cli = startCli(['run', '--json', '--name', 'ticker', '--', process.execPath, worker], { cwd: dir, env })
  t.after(() => cli.kill())
  const first = await cli.waitFor('a tick', isLine(/^tick \d+$/))
  const pid = Number(String(first.json!.line).split(' ')[1])
  const apps = await until('the ticker with its pid', async () => {
    const done = await steward(['status', '--json', '--name', 'ticker'], dir, env)
    const found = done.code === 0 ? (JSON.parse(done.stdout) as { apps: App[] }).apps : []
    return found[0]?.pid === pid ? found : undefined
  })
  assert.deepEqual(apps.map((app) => [app.name, app.state]), [['ticker', 'idle']])
  assert.equal(procStat(pid).ppid, cli.process.pid)
  const logs = await steward(['logs', '--name', 'ticker', '-n', '1'], dir, env)
  assert.equal(logs.stdout, `ticker | tick ${pid}\n`)
  const restart = await steward(['restart', 'ticker', '--name', 'ticker'], dir, env)
  assert.equal(restart.code, 2)
  assert.match(restart.stderr, /steward run supervises one command .*: 'restart' is for the apps of steward up/)
  const socket = defaultSocket(`run:${dir}\0ticker`, env)
  const second = await steward(['run', '--socket', socket, '--', 'sleep', '1'], dir, env)
  assert.equal(second.code, 2)
  assert.match(second.stderr, new RegExp(`^steward run: --socket: another steward \\(pid ${cli.process.pid}, running .*worker\\.mjs\\) is running on control socket`))
  cli.process.kill('SIGTERM')
  assert.equal((await cli.exited).code, 143)
  assert.equal(existsSync(socket), false)
})

/** POSTs to steward's HTTP face as the dashboard does; resolves with the status and the JSON answer. */
function post(port: number, path: string, token: string | undefined): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' }
    if (token !== undefined) headers.authorization = `Bearer ${token}`
    const request = httpRequest({ host: '127.0.0.1', port, path, method: 'POST', headers, timeout: 20_000 }, (response) => {
      let text = ''
      response.setEncoding('utf8').on('data', (chunk: string) => (text += chunk))
      response.once('end', () => resolve({ status: response.statusCode ?? 0, body: JSON.parse(text) as Record<string, unknown> }))
    })
    request.once('error', reject)
    request.end('{}')
  })
}

test("steward up --http: POST /apps/NAME/restart and POST /reload act on the running stack as the socket's commands do (the token required)", { timeout: 120_000 }, async (t) => {
  const dir = tempDir(t)
  const httpPort = await freePort()
  const worker = join(dir, 'worker.mjs')
  writeFileSync(worker, `let n = 0\nsetInterval(() => console.log(\`tick \${++n} \${process.pid} \${process.env.MODE ?? '-'}\`), 100)\n`)
  const config = (mode: string): Record<string, unknown> => ({
    name: 'app',
    children: ['a', 'b'].map((name) => ({ name, command: process.execPath, args: [worker], heartbeat: 'stdout', startTimeout: '10s', timeout: '5s', env: { MODE: `${name}-${name === 'b' ? mode : 'same'}` } })),
  })
  const file = join(dir, 'steward.config.json')
  writeFileSync(file, JSON.stringify(config('one')))
  const env = { ...process.env, NO_COLOR: '1', XDG_RUNTIME_DIR: dir }
  const cli = startCli(['up', '--json', '--http', String(httpPort), '--http-token', 'sesame'], { cwd: dir, env })
  t.after(() => cli.kill())
  const running = async (): Promise<Record<string, number | null>> =>
    pids(
      await until('both apps running with pids', async () => {
        if (cli.process.exitCode !== null) assert.fail(`steward up ended: ${cli.lines.map((line) => line.text).join('\n')}`)
        const done = await steward(['status', '--json'], dir, env)
        if (done.code !== 0) return undefined
        const apps = (JSON.parse(done.stdout) as { apps: App[] }).apps
        return apps.every((app) => app.pid !== null && app.up) ? apps : undefined
      }),
    )
  const before = await running()

  assert.equal((await post(httpPort, '/apps/a/restart', undefined)).status, 401)
  const restarted = await post(httpPort, '/apps/a/restart', 'sesame')
  assert.deepEqual(restarted, { status: 200, body: { ok: true, app: 'a', action: 'restart' } })
  const afterRestart = await until('a new pid for a', async () => {
    const now = await running()
    return now.a !== before.a ? now : undefined
  })
  assert.equal(afterRestart.b, before.b)

  writeFileSync(file, JSON.stringify(config('two')))
  const reloaded = await post(httpPort, '/reload', 'sesame')
  assert.deepEqual(reloaded, { status: 200, body: { started: [], stopped: [], restarted: ['b'], unchanged: ['a'] } })
  await cli.waitFor('b of the new config', isLine(/^tick \d+ \d+ b-two$/, 'app/b'))
  const afterReload = await running()
  assert.equal(afterReload.a, afterRestart.a)
  assert.notEqual(afterReload.b, before.b)

  cli.process.kill('SIGTERM')
  assert.equal((await cli.exited).code, 143)
})
