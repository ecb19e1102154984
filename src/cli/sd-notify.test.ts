import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { WardStatus } from '../observe/status.js'
import { isLine, startCli } from '../testing/cli.js'
import { waitFor } from '../testing/wait.js'
import { lineReader } from '../isolation/lines.js'
import { isReady, Notifier, statusText, takeNotifyEnv } from './sd-notify.js'

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), '.steward-notify-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

// systemd's side, faked: a Unix datagram socket (a path, or `@name` in the abstract namespace)
// that prints each message it receives as one JSON line.
const receiverScript = `
import json, socket, sys
address = sys.argv[1]
receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
receiver.bind('\\0' + address[1:] if address.startswith('@') else address)
print('bound', flush=True)
while True:
    print(json.dumps(receiver.recv(65536).decode()), flush=True)
`

/** A fake `$NOTIFY_SOCKET`: the messages received so far, each as its `KEY=VALUE` lines. */
async function fakeNotifySocket(t: { after(fn: () => void): void }, address: string): Promise<string[][]> {
  const receiver = spawn('python3', ['-c', receiverScript, address], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.after(() => receiver.kill('SIGKILL'))
  const messages: string[][] = []
  let bound = false
  receiver.stdout.on(
    'data',
    lineReader((line) => {
      const message = line === 'bound' ? undefined : (JSON.parse(line) as string)
      if (message === undefined) bound = true
      // systemd-notify's own BARRIER=1 (it waits until the manager read its message) is no notification of steward's.
      else if (message !== 'BARRIER=1') messages.push(message.split('\n'))
    }),
  )
  await waitFor('the fake notify socket is bound', () => bound, 20_000)
  return messages
}

const indexOf = (messages: readonly string[][], field: string, from = 0): number => messages.findIndex((message, index) => index >= from && message.includes(field))

test('under Type=notify (fake NOTIFY_SOCKET, a path): READY=1 with a STATUS once the child beat, then WATCHDOG=1 every half of WATCHDOG_USEC, STOPPING=1 on SIGTERM; sent for steward\'s pid; the child does not inherit the variables', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t)
  const socket = join(dir, 'notify.sock')
  const messages = await fakeNotifySocket(t, socket)
  // It ignores SIGTERM: the stop lasts until SIGQUIT, so STOPPING=1 is seen while it runs.
  const child = `process.on('SIGTERM', () => console.log('ignoring SIGTERM')); console.log('env ' + process.env.NOTIFY_SOCKET + ' ' + process.env.WATCHDOG_USEC + ' ' + process.env.WATCHDOG_PID); setInterval(() => console.log('beat'), 100)`
  const cli = startCli(['run', '--json', '--name', 'web', '--probe', 'stdout', '--timeout', '5s', '--kill-after', '60s', '--', process.execPath, '-e', child], {
    env: { ...process.env, NO_COLOR: '1', NOTIFY_SOCKET: socket, WATCHDOG_USEC: '1000000', WATCHDOG_PID: '' },
  })
  t.after(() => cli.kill())
  await waitFor('READY=1', () => indexOf(messages, 'READY=1') !== -1, 20_000)
  const ready = indexOf(messages, 'READY=1')
  await waitFor('WATCHDOG=1 after READY=1', () => indexOf(messages, 'WATCHDOG=1', ready + 1) !== -1, 20_000)
  assert.ok(messages[ready]!.includes('STATUS=1 app running'), messages[ready]!.join(' '))
  assert.equal(indexOf(messages, 'STOPPING=1'), -1)
  await cli.waitFor('the env line', isLine(/^env /, 'web'))
  assert.ok(cli.lines.some(isLine(/^env undefined undefined undefined$/, 'web')), 'the child has no NOTIFY_SOCKET, WATCHDOG_USEC, WATCHDOG_PID')
  cli.process.kill('SIGTERM')
  await cli.waitFor('the child ignoring SIGTERM', isLine(/^ignoring SIGTERM$/, 'web'))
  await waitFor('STOPPING=1 when the stop begins', () => indexOf(messages, 'STOPPING=1') !== -1, 20_000)
  assert.equal(cli.process.exitCode, null, 'steward still stopping')
  assert.ok(indexOf(messages, 'STOPPING=1') > ready)
  cli.process.kill('SIGQUIT')
  assert.equal((await cli.exited).code, 143)
  for (const message of messages) assert.ok(message.includes(`MAINPID=${cli.process.pid}`), message.join(' '))
})

test('under Type=notify (an abstract socket @name), steward up: READY=1 once every app is up, with STATUS; no WATCHDOG=1 when WATCHDOG_PID names another process', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t)
  const socket = `@steward-test-${process.pid}-${Math.random().toString(36).slice(2)}`
  const messages = await fakeNotifySocket(t, socket)
  const beats = (delay: number): string[] => ['-e', `setTimeout(() => setInterval(() => console.log('beat'), 50), ${delay})`]
  writeFileSync(
    join(dir, 'steward.config.json'),
    JSON.stringify({
      name: 'app',
      children: [
        { name: 'db', command: process.execPath, args: beats(0), heartbeat: 'stdout', timeout: '5s' },
        { name: 'web', command: process.execPath, args: beats(300), heartbeat: 'stdout', timeout: '5s' },
      ],
    }),
  )
  const cli = startCli(['up', '--json'], { cwd: dir, env: { ...process.env, NO_COLOR: '1', NOTIFY_SOCKET: socket, WATCHDOG_USEC: '100000', WATCHDOG_PID: '1' } })
  t.after(() => cli.kill())
  await waitFor('READY=1', () => indexOf(messages, 'READY=1') !== -1, 20_000)
  const ready = messages[indexOf(messages, 'READY=1')]!
  assert.ok(ready.includes('STATUS=2 apps running'), ready.join(' '))
  // web's first beat came before READY=1 (it is the one that starts late).
  assert.ok(cli.lines.some(isLine(/^beat$/, 'app/web')), 'READY=1 only after web beat')
  // Long enough for many pings at 50 ms had the watchdog been ours: 20 more beats of web.
  const seen = cli.lines.length
  let more = 0
  await cli.waitFor('20 more beats of web', (line) => isLine(/^beat$/, 'app/web')(line) && ++more === 20, 20_000, seen)
  cli.process.kill('SIGINT')
  assert.equal((await cli.exited).code, 130)
  await waitFor('STOPPING=1', () => indexOf(messages, 'STOPPING=1') !== -1, 20_000)
  assert.equal(indexOf(messages, 'WATCHDOG=1'), -1, 'no WATCHDOG=1')
})

test('takeNotifyEnv: reads NOTIFY_SOCKET and the watchdog meant for this pid, and removes all three from the environment', () => {
  const env: NodeJS.ProcessEnv = { NOTIFY_SOCKET: '/run/systemd/notify', WATCHDOG_USEC: '30000000', WATCHDOG_PID: '42', PATH: '/bin' }
  assert.deepEqual(takeNotifyEnv(env, 42), { socket: '/run/systemd/notify', watchdogMs: 30_000 })
  assert.deepEqual(env, { PATH: '/bin' })
  assert.deepEqual(takeNotifyEnv({ NOTIFY_SOCKET: '@x', WATCHDOG_USEC: '2000000' }, 42), { socket: '@x', watchdogMs: 2_000 })
  assert.deepEqual(takeNotifyEnv({ NOTIFY_SOCKET: '@x', WATCHDOG_USEC: '2000000', WATCHDOG_PID: '43' }, 42), { socket: '@x', watchdogMs: undefined })
  assert.deepEqual(takeNotifyEnv({ NOTIFY_SOCKET: '@x', WATCHDOG_USEC: 'soon' }, 42), { socket: '@x', watchdogMs: undefined })
  const without: NodeJS.ProcessEnv = { WATCHDOG_USEC: '1', WATCHDOG_PID: '42' }
  assert.equal(takeNotifyEnv(without, 42), undefined)
  assert.deepEqual(without, {})
})

function app(name: string, state: WardStatus['state'], up: boolean): WardStatus {
  return { name, path: `app/${name}`, kind: 'steward', state, attempt: 1, restarts: 0, restartReasons: [], up, lastBeatAgo: null, progress: undefined, failuresHere: 0, lastFailure: null, probeFailure: null, pid: null, threadId: null, uptime: null, rss: null, cpu: null, fds: null, startTime: null, abandoned: 0, lastAbandoned: null, children: [] }
}

test("statusText: 'N apps running' when all are up, otherwise how many and what the others do, with the reason of their restart", () => {
  const tree = (...children: WardStatus[]): WardStatus => ({ ...app('app', 'working', children.every((child) => child.up)), path: 'app', kind: 'supervisor', children })
  assert.equal(statusText(tree(app('db', 'working', true), app('web', 'idle', true), app('jobs', 'working', true)), new Map()), '3 apps running')
  assert.equal(statusText(app('web', 'working', true), new Map()), '1 app running')
  assert.equal(
    statusText(tree(app('db', 'working', true), app('web', 'backoff', false), app('jobs', 'gave-up', false), app('mail', 'working', false)), new Map([['app/web', 'hung']])),
    '1 of 4 apps running; web restarting (hung), jobs gave up, mail starting',
  )
})

test('isReady: every app up, or completed (a one-shot child that finished does not hold READY=1 back); a steward when it is up', () => {
  const tree = (...children: WardStatus[]): WardStatus => ({ ...app('app', 'working', children.every((child) => child.up)), path: 'app', kind: 'supervisor', children })
  assert.equal(isReady(tree(app('db', 'working', true), app('migrate', 'completed', false))), true)
  assert.equal(isReady(tree(app('db', 'working', true), app('web', 'working', false))), false)
  assert.equal(isReady(tree(app('db', 'working', true), app('web', 'gave-up', false))), false)
  assert.equal(isReady(app('web', 'working', true)), true)
  assert.equal(isReady(app('web', 'working', false)), false)
})

test('Notifier: a systemd-notify that cannot be run is reported once, and nothing more is tried', { timeout: 10_000 }, async (t) => {
  const dir = tempDir(t)
  const errors: string[] = []
  const notifier = new Notifier(join(dir, 'notify.sock'), { command: join(dir, 'no-such-systemd-notify'), onError: (message) => errors.push(message) })
  notifier.send({ READY: '1' })
  notifier.send({ STATUS: 'x' })
  await notifier.close()
  notifier.send({ WATCHDOG: '1' })
  await notifier.close()
  assert.equal(errors.length, 1)
  assert.match(errors[0]!, /no-such-systemd-notify: spawn .* ENOENT/)
})
