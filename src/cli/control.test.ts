import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { StewardEvent } from '../observe/events.js'
import type { WardStatus } from '../observe/status.js'
import type { EventListener, Subscription } from '../observe/events.js'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import { ControlServer, ControlSocketTaken, defaultSocket, LogBook, request, type ControlTarget } from './control.js'
import type { ReloadResult } from './reload.js'
import { UsageError } from './flags.js'
import { parseControl, statusTable } from './ctl.js'
import { upTarget } from './up-control.js'
import type { SupervisorRun } from '../tree/supervisor.js'
import { readConfig, type LoadedConfig } from './config.js'

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), '.steward-ctl-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

function ward(name: string, fields: Partial<WardStatus> = {}): WardStatus {
  return {
    name,
    path: `tree/${name}`,
    kind: 'steward',
    state: 'working',
    attempt: 1,
    restarts: 0,
    restartReasons: ['hung', 'failed', 'manual'],
    up: true,
    lastBeatAgo: 0,
    progress: undefined,
    failuresHere: 0,
    lastFailure: null,
    probeFailure: null,
    pid: null,
    threadId: null,
    uptime: null,
    rss: null,
    cpu: null,
    fds: null,
    startTime: null,
    abandoned: 0,
    lastAbandoned: null,
    children: [],
    ...fields,
  }
}

/** A target that records what it is asked, and a run whose events the test emits. */
function fake(): { target: ControlTarget; calls: string[]; emit: (event: StewardEvent) => void; run: { on(listener: EventListener): Subscription }; reload: { result: Promise<ReloadResult> } } {
  const calls: string[] = []
  const listeners = new Set<EventListener>()
  const reload = { result: Promise.resolve<ReloadResult>({ started: ['new'], stopped: [], restarted: ['web'], unchanged: ['db'] }) }
  const target: ControlTarget = {
    what: '/srv/steward.config.json',
    status: () => [ward('db', { pid: 4242, uptime: 1_500, lastFailure: { name: 'Error', message: 'exited with code 1' } }), ward('web', { state: 'stopped', up: false })],
    restart: async (name) => void calls.push(`restart ${name}`),
    stop: async (name) => {
      calls.push(`stop ${name}`)
      return { unstopped: [], killed: [] }
    },
    start: async (name) => void calls.push(`start ${name}`),
    reload: () => {
      calls.push('reload')
      return reload.result
    },
  }
  const run = {
    on(listener: EventListener): Subscription {
      listeners.add(listener)
      const unsubscribe = (): void => void listeners.delete(listener)
      return Object.assign(unsubscribe, { [Symbol.dispose]: unsubscribe }) as unknown as Subscription
    },
  }
  return { target, calls, emit: (event) => listeners.forEach((listener) => listener(event)), run, reload }
}

const base = { ward: 'db', at: 0, attempt: 1 }
const line = (path: string, text: string, stream: 'stdout' | 'stderr' = 'stdout'): StewardEvent => ({ type: 'line', ...base, path, stream, line: text })

test('control protocol: hello, status rows (pid and uptime from the run status, failure), actions in order, unknown apps refused with the known ones, reload; the socket is 0600 and removed on close, nothing left', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t)
  const socket = join(dir, 'c.sock')
  // A failed assertion must not leave the socket listening (the test file would never end).
  let opened: ControlServer | undefined
  t.after(() => opened?.close())
  const { leaks } = await checkLeaks(async () => {
    const server = (opened = await ControlServer.open(socket))
    const { target, calls, run } = fake()
    assert.deepEqual((await request(socket, { command: 'status' }))[0], { ok: false, code: 'failed', error: 'steward is starting; try again' })
    server.serve(target, run, (path) => path.split('/')[1]!)
    assert.equal(lstatSync(socket).mode & 0o777, 0o600)
    assert.deepEqual((await request(socket, { command: 'hello' }))[0], { ok: true, pid: process.pid, what: '/srv/steward.config.json' })
    const [status] = await request(socket, { command: 'status' })
    const apps = status!.apps as Record<string, unknown>[]
    assert.deepEqual(
      apps.map((app) => [app.name, app.state, app.pid, app.restarts, (app.lastFailure as { message: string } | null)?.message ?? null]),
      [
        ['db', 'working', 4242, 0, 'exited with code 1'],
        ['web', 'stopped', null, 0, null],
      ],
    )
    assert.deepEqual(apps.map((app) => app.uptime), [1_500, null])
    assert.deepEqual(((await request(socket, { command: 'status', names: ['web'] }))[0]!.apps as { name: string }[]).map((app) => app.name), ['web'])
    assert.deepEqual((await request(socket, { command: 'restart', names: ['web', 'db'] }))[0], { ok: true, restarted: ['web', 'db'] })
    assert.deepEqual((await request(socket, { command: 'stop', names: ['db'] }))[0], { ok: true, stopped: ['db'], reports: { db: { unstopped: [], killed: [] } } })
    assert.deepEqual((await request(socket, { command: 'start', names: ['db'] }))[0], { ok: true, started: ['db'] })
    const unknown = (await request(socket, { command: 'restart', names: ['db', 'wbe'] }))[0]!
    assert.equal(unknown.code, 'unknown-app')
    assert.deepEqual(unknown.known, ['db', 'web'])
    assert.match(String(unknown.error), /no app 'wbe' in \/srv\/steward.config.json; known: db, web/)
    assert.deepEqual((await request(socket, { command: 'reload' }))[0], { ok: true, started: ['new'], stopped: [], restarted: ['web'], unchanged: ['db'] })
    assert.deepEqual(calls, ['restart web', 'restart db', 'stop db', 'start db', 'reload'], 'an unknown name anywhere in the list: nothing is done')
    assert.equal((await request(socket, { command: 'nope' } as never))[0]!.code, 'bad-request')
    await server.close()
    assert.equal(existsSync(socket), false, 'the socket is removed')
  })
  assert.deepEqual(leaks, noLeaks)
})

test('control protocol: an invalid config on reload is invalid-config (the client exits 2), a failing action is failed (exit 1)', { timeout: 30_000 }, async (t) => {
  const socket = join(tempDir(t), 'c.sock')
  const server = await ControlServer.open(socket)
  t.after(() => server.close())
  const { target, run, reload } = fake()
  server.serve({ ...target, restart: () => Promise.reject(new Error('it would not start')) }, run, (path) => path.split('/')[1]!)
  reload.result = Promise.reject(new UsageError('steward.config.json', "child 'web': unknown key 'comand'"))
  reload.result.catch(() => undefined)
  assert.deepEqual((await request(socket, { command: 'reload' }))[0], { ok: false, code: 'invalid-config', error: "steward.config.json: child 'web': unknown key 'comand'" })
  assert.deepEqual((await request(socket, { command: 'restart', names: ['db'] }))[0], { ok: false, code: 'failed', error: 'it would not start' })
})

test('control protocol: logs sends the last N lines of each app in the order they came, then with follow each new line of the apps asked for until the client leaves', { timeout: 30_000 }, async (t) => {
  const socket = join(tempDir(t), 'c.sock')
  let opened: ControlServer | undefined
  t.after(() => opened?.close())
  const { leaks } = await checkLeaks(async () => {
    const server = (opened = await ControlServer.open(socket))
    const { target, emit, run } = fake()
    server.serve(target, run, (path) => path.split('/')[1]!)
    for (let i = 1; i <= 5; i++) {
      emit(line('tree/db', `db ${i}`))
      emit(line('tree/web', `web ${i}`, 'stderr'))
    }
    const last = await request(socket, { command: 'logs', lines: 2 })
    assert.deepEqual(
      last.map((answer) => answer.line ?? answer),
      ['db 4', 'web 4', 'db 5', 'web 5', { ok: true, end: true }],
    )
    assert.equal(last[1]!.stream, 'stderr')
    assert.equal(last[1]!.app, 'web')
    const followed: string[] = []
    const controller = new AbortController()
    const following = request(socket, { command: 'logs', names: ['web'], lines: 1, follow: true }, {
      signal: controller.signal,
      onLine: (answer) => {
        followed.push(String(answer.line))
        if (followed.length === 1) {
          emit(line('tree/db', 'db 6'))
          emit(line('tree/web', 'web 6'))
        }
        if (followed.length === 2) controller.abort()
      },
    })
    await following
    assert.deepEqual(followed, ['web 5', 'web 6'])
    await server.close()
  })
  assert.deepEqual(leaks, noLeaks)
})

test('LogBook keeps the last lines per app only; a follower stops receiving once it unfollows', () => {
  const book = new LogBook((path) => path, { perApp: 3, now: () => 0 })
  for (let i = 1; i <= 5; i++) book.event(line('a', `a ${i}`))
  book.event(line('b', 'b 1'))
  assert.deepEqual(book.recent([], 10).map((entry) => entry.line), ['a 3', 'a 4', 'a 5', 'b 1'])
  assert.deepEqual(book.recent(['b'], 10).map((entry) => entry.line), ['b 1'])
  assert.deepEqual(book.recent([], 0), [])
  const seen: string[] = []
  const unfollow = book.follow((entry) => seen.push(entry.line))
  book.event(line('a', 'a 6'))
  unfollow()
  book.event(line('a', 'a 7'))
  assert.deepEqual(seen, ['a 6'])
  assert.equal(book.recent([], 10)[0]!.time, '1970-01-01T00:00:00.000Z')
})

test('control socket: a second steward on a live socket is refused naming the first one\'s pid; a stale socket (its steward SIGKILLed) is taken over; a file that is not a socket is left alone', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t)
  const socket = join(dir, 'c.sock')
  const first = await ControlServer.open(socket)
  t.after(() => first.close())
  const { target, run } = fake()
  first.serve(target, run, (path) => path)
  await assert.rejects(ControlServer.open(socket), (error: unknown) => error instanceof ControlSocketTaken && error.pid === process.pid && /another steward \(pid \d+, running \/srv\/steward.config.json\) is running on control socket/.test(error.message))
  await first.close()

  // A steward killed with SIGKILL leaves its socket behind.
  const stale = join(dir, 'stale.sock')
  const holder = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(stale)}, () => console.log('listening'))`], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => holder.kill('SIGKILL'))
  await new Promise((resolve) => holder.stdout.once('data', resolve))
  holder.kill('SIGKILL')
  await new Promise((resolve) => holder.once('exit', resolve))
  assert.ok(lstatSync(stale).isSocket(), 'the stale socket is still there')
  const taker = await ControlServer.open(stale)
  t.after(() => taker.close())
  taker.serve(target, run, (path) => path)
  assert.equal((await request(stale, { command: 'hello' }))[0]!.pid, process.pid)
  await taker.close()

  const file = join(dir, 'not-a-socket')
  writeFileSync(file, 'keep me')
  await assert.rejects(ControlServer.open(file), /exists and is not a socket|EADDRINUSE/)
  assert.equal(existsSync(file), true)
})

test('defaultSocket: one short path per key in $XDG_RUNTIME_DIR, or in a 0700 folder of the temp folder; too long a path names --socket', (t) => {
  const dir = tempDir(t)
  const a = defaultSocket('up:/srv/a/steward.config.json', { XDG_RUNTIME_DIR: dir })
  assert.equal(a, defaultSocket('up:/srv/a/steward.config.json', { XDG_RUNTIME_DIR: dir }))
  assert.notEqual(a, defaultSocket('up:/srv/b/steward.config.json', { XDG_RUNTIME_DIR: dir }))
  assert.match(a, new RegExp(`^${dir}/steward-[0-9a-f]{16}\\.sock$`))
  const inTemp = defaultSocket('up:/x', {})
  assert.equal(lstatSync(join(inTemp, '..')).mode & 0o777, 0o700)
  assert.throws(() => defaultSocket('up:/x', { XDG_RUNTIME_DIR: `/${'d'.repeat(100)}` }), (error: unknown) => error instanceof UsageError && /--socket: .* is 1\d\d bytes, longer than the 107/.test(error.message))
})

test('steward status|restart|…: flags and names are checked first (exit 2 reasons)', (t) => {
  const dir = tempDir(t)
  const env = { XDG_RUNTIME_DIR: dir }
  assert.throws(() => parseControl('restart', [], dir, env), /steward restart: give the apps to restart/)
  assert.throws(() => parseControl('reload', ['web'], dir, env), /takes no app names/)
  assert.throws(() => parseControl('status', ['--jsn'], dir, env), /--jsn: unknown flag; did you mean --json\?/)
  assert.throws(() => parseControl('status', [], dir, env), /no steward.config.js, steward.config.mjs, steward.config.json in .*; give -c FILE, --name NAME or --socket PATH/)
  assert.throws(() => parseControl('logs', ['-n', 'x'], dir, env), /--lines: must be an integer from 0 to 1000/)
  assert.throws(() => parseControl('status', ['--socket', 'a', '--name', 'b'], dir, env), /give one of --socket, --config and --name/)
  writeFileSync(join(dir, 'steward.config.json'), '{}')
  const plan = parseControl('logs', ['-f', '-n', '5', 'web'], dir, env)
  assert.deepEqual({ ...plan, socket: plan.socket === defaultSocket(`up:${join(dir, 'steward.config.json')}`, env) }, { help: false, json: false, names: ['web'], follow: true, lines: 5, socket: true, what: 'steward.config.json' })
})

test('statusTable: aligned columns, - where nothing is known, the probe failure beside the last failure', () => {
  const lines = statusTable([
    { name: 'redis', path: 't/redis', state: 'working', up: true, pid: 123, uptime: 3_723_000, restarts: 0, lastFailure: null, rss: 8 * 1024 * 1024, cpu: 0.25, fds: 12, probeFailure: null },
    { name: 'web', path: 't/web', state: 'working', up: false, pid: 45678, uptime: 5_000, restarts: 12, lastFailure: { name: 'Error', message: 'exited with code 1' }, rss: null, cpu: null, fds: null, probeFailure: 'connect ECONNREFUSED' },
  ])
  assert.deepEqual(lines, [
    'NAME   STATE     PID    UPTIME  RESTARTS  CPU   MEM   FDS  LAST FAILURE',
    'redis  working   123    1h 2m   0         0.3s  8.0M  12   -',
    'web    starting  45678  5s      12        -     -     -    probe: connect ECONNREFUSED; exited with code 1',
  ])
})

test('upTarget: a reload asked for while one runs is not run beside it: the requests share one more reload after it; an invalid config applies nothing', async () => {
  const applied: string[] = []
  let loads = 0
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => (release = resolve))
  const config = (file: string): LoadedConfig => ({ file, tree: undefined as never, children: [], warnings: [], specs: new Map(), entries: new Map(), top: '', groups: new Map() })
  const run = { status: () => ward('tree', { kind: 'supervisor' }) } as unknown as SupervisorRun
  let invalid = false
  const target = upTarget(
    run,
    config('v0'),
    async () => {
      loads++
      if (invalid) throw new UsageError('steward.config.json', 'bad')
      return config(`v${loads}`)
    },
    async (_run, before, after) => {
      applied.push(`${before.file}->${after.file}`)
      if (after.file === 'v1') await gate
      return { started: [], stopped: [], restarted: [], unchanged: [] }
    },
  )
  const first = target.reload()
  const second = target.reload()
  const third = target.reload()
  assert.equal(second, third, 'one follow-up for every request that came meanwhile')
  release()
  await Promise.all([first, second, third])
  assert.deepEqual(applied, ['v0->v1', 'v1->v2'])
  invalid = true
  await assert.rejects(target.reload(), /bad/)
  assert.deepEqual(applied, ['v0->v1', 'v1->v2'])
  assert.equal(target.config.file, 'v2')
})

test('readConfig imports a module config afresh each time: a reload sees the edited file', async (t) => {
  const file = join(tempDir(t), 'steward.config.mjs')
  writeFileSync(file, 'export default { name: "one" }\n')
  assert.deepEqual(await readConfig(file), { name: 'one' })
  writeFileSync(file, 'export default { name: "two" }\n')
  assert.deepEqual(await readConfig(file), { name: 'two' })
})
