import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { StewardEvent } from '../observe/events.js'
import { inProcess, startCli } from '../testing/cli.js'
import { waitFor } from '../testing/wait.js'
import { LogFiles } from './log-files.js'

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), '.steward-logs-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

const base = { ward: 'web', path: 'app/web', at: 0, attempt: 1 }
const line = (text: string, stream: 'stdout' | 'stderr' = 'stdout', partial = false): StewardEvent => ({ ...base, type: 'line', stream, line: text, ...(partial ? { partial: true as const } : {}) })

test('log files: stdout and stderr in separate files, each line with its ISO time and the pid of the spawned child; a line in pieces written whole', async (t) => {
  const dir = tempDir(t)
  const logs = new LogFiles({ dir, maxSize: 1_000_000, keep: 2 }, (message) => assert.fail(message), () => Date.UTC(2026, 11, 4, 16, 5, 9, 123))
  logs.event(line('before any spawn'))
  logs.event({ ...base, type: 'spawned', pid: 4242 })
  logs.event(line('hello'))
  logs.event(line('oops', 'stderr'))
  logs.event(line('aaaa', 'stdout', true))
  logs.event(line('bb'))
  logs.event({ ...base, attempt: 2, type: 'spawned', pid: 5353 })
  logs.event(line('again'))
  logs.event({ ...base, type: 'hung', timeout: 1, starting: false, overdue: 0 })
  await logs.close()
  const time = '2026-12-04T16:05:09.123Z'
  assert.deepEqual(readdirSync(dir).sort(), ['web.err.log', 'web.out.log'])
  assert.equal(readFileSync(join(dir, 'web.out.log'), 'utf8'), `${time} [-] before any spawn\n${time} [4242] hello\n${time} [4242] aaaabb\n${time} [5353] again\n`)
  assert.equal(readFileSync(join(dir, 'web.err.log'), 'utf8'), `${time} [4242] oops\n`)
})

test('log files: rotated before a line would take a file over maxSize; keep rotated files, the oldest deleted; the lines kept are the last ones, in order', async (t) => {
  const dir = tempDir(t)
  const logs = new LogFiles({ dir, maxSize: 100, keep: 2 }, (message) => assert.fail(message), () => 0)
  logs.event({ ...base, type: 'spawned', pid: 7 })
  // Each line is 24 + 1 + 3 + 1 + 5 + 1 = 35 bytes with its prefix: 2 fit in a file of 100 bytes.
  const count = 40
  for (let index = 0; index < count; index++) {
    logs.event(line(`l${String(index).padStart(4, '0')}`))
    // Some lines while a write is in flight, some after: both paths rotate.
    if (index % 7 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  await logs.close()
  assert.deepEqual(readdirSync(dir).sort(), ['web.out.log', 'web.out.log.1', 'web.out.log.2'])
  const files = ['web.out.log.2', 'web.out.log.1', 'web.out.log']
  for (const file of files) assert.ok(statSync(join(dir, file)).size <= 100, `${file} is at most maxSize`)
  for (const file of files.slice(0, 2)) assert.equal(statSync(join(dir, file)).size, 70, `${file} was rotated full (2 lines)`)
  const kept = files.flatMap((file) => readFileSync(join(dir, file), 'utf8').split('\n').filter((text) => text !== '')).map((text) => text.split(' ').at(-1))
  const last = Array.from({ length: count }, (_, index) => `l${String(index).padStart(4, '0')}`).slice(-kept.length)
  assert.deepEqual(kept, last)
  assert.ok(kept.length >= 5, `${kept.length} lines kept in 3 files`)
})

test('log files: keep 0 rotates by truncating: only the current file remains', async (t) => {
  const dir = tempDir(t)
  const logs = new LogFiles({ dir, maxSize: 50, keep: 0 }, (message) => assert.fail(message), () => 0)
  for (let index = 0; index < 10; index++) logs.event(line(`line ${index}`))
  await logs.close()
  assert.deepEqual(readdirSync(dir), ['web.out.log'])
  assert.ok(readFileSync(join(dir, 'web.out.log'), 'utf8').endsWith('line 9\n'))
})

test('steward run --log-dir: the folder is created; every line of a child is in its file when steward returns (flushed at the end), stdout and stderr apart; without it nothing is written', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t)
  const logDir = join(dir, 'logs', 'nested')
  const script = `for (let i = 0; i < 3000; i++) process.stdout.write('out ' + i + '\\n'); for (let i = 0; i < 500; i++) process.stderr.write('err ' + i + '\\n')`
  const result = await inProcess(['run', '--restart', 'transient', '--name', 'burst', '--log-dir', logDir, '--', process.execPath, '-e', script])
  assert.equal(result.code, 0, result.stderr)
  // Read at once: steward returned, so the files are complete.
  const out = readFileSync(join(logDir, 'burst.out.log'), 'utf8').split('\n').slice(0, -1)
  const err = readFileSync(join(logDir, 'burst.err.log'), 'utf8').split('\n').slice(0, -1)
  assert.equal(out.length, 3000)
  assert.equal(err.length, 500)
  assert.match(out[0]!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \[\d+\] out 0$/)
  assert.ok(out.every((text, index) => text.endsWith(` out ${index}`)))
  assert.ok(err.every((text, index) => text.endsWith(` err ${index}`)))
  // Closed when steward returns: no descriptor of this process is left on a log file.
  const open = readdirSync('/proc/self/fd').flatMap((fd) => {
    try {
      return [readlinkSync(`/proc/self/fd/${fd}`)]
    } catch {
      return []
    }
  })
  assert.deepEqual(open.filter((target) => target.startsWith(logDir)), [])
  // The child's lines still go to steward's output too.
  assert.ok(result.stdout.includes('burst | out 2999'))

  const quiet = await inProcess(['run', '--restart', 'transient', '--cwd', dir, '--', process.execPath, '-e', `console.log('hi')`])
  assert.equal(quiet.code, 0)
  assert.deepEqual(readdirSync(dir), ['logs'], 'nothing else written')
})

test('a log folder that cannot be written is a usage error before anything starts: --log-dir, logs.dir; log flags and keys are checked', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t)
  const file = join(dir, 'a-file')
  writeFileSync(file, '')
  const run = await inProcess(['run', '--log-dir', join(file, 'logs'), '--', process.execPath, '-e', `console.log('started')`])
  assert.equal(run.code, 2)
  assert.match(run.stderr, /^steward run: --log-dir: cannot write log files in .*a-file\/logs \(ENOTDIR\)\n$/)
  assert.deepEqual(run.stdout, [], 'nothing started')

  const config = join(dir, 'steward.config.json')
  writeFileSync(config, JSON.stringify({ logs: { dir: 'a-file/logs' }, children: [{ name: 'web', command: process.execPath, args: ['-e', `console.log('started')`] }] }))
  const up = await inProcess(['up', config])
  assert.equal(up.code, 2)
  assert.match(up.stderr, /^steward up: steward\.config\.json: key 'logs\.dir': cannot write log files in .*a-file\/logs \(ENOTDIR\)\n$/)
  assert.deepEqual(up.stdout, [], 'nothing started')

  const usage = async (args: string[], pattern: RegExp): Promise<void> => {
    const result = await inProcess(args)
    assert.equal(result.code, 2, args.join(' '))
    assert.match(result.stderr, pattern)
  }
  await usage(['run', '--log-keep', '2', '--', 'true'], /--log-keep: applies to log files: give --log-dir DIR too/)
  await usage(['run', '--log-dir', dir, '--log-max-size', '0', '--', 'true'], /--log-max-size: must be greater than zero/)
  await usage(['run', '--log-dir', dir, '--log-keep', 'some', '--', 'true'], /--log-keep: must be a non-negative integer/)
  const bad = (logs: unknown): string => {
    writeFileSync(config, JSON.stringify({ logs, children: [{ name: 'web', command: 'true' }] }))
    return config
  }
  await usage(['up', bad({ dir: 'logs', kep: 2 })], /key 'logs\.kep' is unknown; did you mean 'logs\.keep'\?/)
  await usage(['up', bad({ maxSize: '1M' })], /key 'logs\.dir' must be a non-empty string/)
  await usage(['up', bad({ dir: 'logs', maxSize: '1X' })], /key 'logs\.maxSize': must be a size/)
  await usage(['up', bad({ dir: 'logs', keep: 1.5 })], /key 'logs\.keep': must be a non-negative integer/)
  await usage(['up', bad('logs')], /key 'logs' must be an object/)
  writeFileSync(config, JSON.stringify({ children: [{ name: 'web', command: 'true', logs: { dir: 'x' } }] }))
  await usage(['up', config], /child 'web': unknown key 'logs'/)
})

test('steward up with logs: each child in its own files, rotated at maxSize keeping keep files', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t)
  const ticker = (word: string): string[] => ['-e', `let i = 0; setInterval(() => { for (let k = 0; k < 20; k++) { process.stdout.write('${word} out ' + i + '\\n'); process.stderr.write('${word} err ' + i++ + '\\n') } }, 20)`]
  writeFileSync(
    join(dir, 'steward.config.json'),
    JSON.stringify({
      name: 'app',
      logs: { dir: 'var/log', maxSize: '2K', keep: 2 },
      children: [
        { name: 'api', command: process.execPath, args: ticker('api') },
        { name: 'web', command: process.execPath, args: ticker('web') },
      ],
    }),
  )
  const cli = startCli(['up', '--json'], { cwd: dir })
  t.after(() => cli.kill())
  const logDir = join(dir, 'var/log')
  const names = ['api.err.log', 'api.out.log', 'web.err.log', 'web.out.log']
  await waitFor('every file rotated twice', () => names.every((name) => existsSync(join(logDir, `${name}.2`))), 30_000)
  cli.process.kill('SIGTERM')
  assert.equal((await cli.exited).code, 143)
  assert.deepEqual(readdirSync(logDir).sort(), names.flatMap((name) => [name, `${name}.1`, `${name}.2`]))
  for (const name of readdirSync(logDir)) {
    const text = readFileSync(join(logDir, name), 'utf8')
    assert.ok(Buffer.byteLength(text) <= 2048, `${name} at most 2K`)
    const [child, stream] = name.split('.') as [string, string]
    const lines = text.split('\n').slice(0, -1)
    assert.ok(lines.length > 0, `${name} has lines`)
    for (const entry of lines) assert.match(entry, new RegExp(`^\\S+Z \\[\\d+\\] ${child} ${stream} \\d+$`), name)
  }
})
