import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { readdirSync, readFileSync } from 'node:fs'
import { main } from './main.js'
import { lineReader } from '../isolation/lines.js'
import { waitFor } from '../testing/wait.js'

const bin = fileURLToPath(new URL('./bin.cts', import.meta.url))
const builtBin = fileURLToPath(new URL('../../dist/cli/bin.cjs', import.meta.url))

async function cli(args: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = []
  const code = await main(args, (line) => lines.push(line))
  return { code, lines }
}

test('demo all --virtual --json prints the library events of the seed scenarios, one per line, each with its path', { timeout: 60_000 }, async () => {
  const { code, lines } = await cli(['demo', 'all', '--virtual', '--json'])
  assert.equal(code, 0)
  const events = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  for (const event of events) {
    for (const field of ['type', 'ward', 'path', 'scenario']) assert.equal(typeof event[field], 'string', `${field} in ${JSON.stringify(event)}`)
    for (const field of ['at', 'attempt']) assert.equal(typeof event[field], 'number', `${field} in ${JSON.stringify(event)}`)
  }
  const types = new Set(events.map((event) => event.type))
  for (const type of ['started', 'hung', 'restarting', 'dead-letter', 'gave-up', 'completed', 'stopped']) assert.ok(types.has(type), type)
  const brief = (scenario: string): string[] =>
    events
      .filter((event) => event.scenario === scenario)
      .map((event) => `${String(event.at)} ${String(event.type)} ${String(event.attempt)}${event.reason === undefined ? '' : ` ${event.reason as string}`}`)
  assert.deepEqual(brief('s1'), [
    '0 started 1',
    '4000 hung 1',
    '4000 restarting 1 hung',
    '4000 started 2',
    '8000 hung 2',
    '8000 restarting 2 hung',
    '8000 started 3',
    '9000 stopped 3',
  ])
  assert.deepEqual(brief('s4'), ['0 started 1', '1000 hung 1', '1000 restarting 1 hung', '1000 started 2', '1000 dead-letter 2', '1000 completed 2'])
  const letter = events.find((event) => event.scenario === 's4' && event.type === 'dead-letter')!
  assert.deepEqual([letter.path, letter.input, letter.position], ['doWork', -1, 2])
})

test('demo tree --virtual --json: every line is a library event with its path; the tree heals and stops in order', { timeout: 60_000 }, async () => {
  const { code, lines } = await cli(['demo', 'tree', '--virtual', '--json'])
  assert.equal(code, 0)
  const events = lines.map((line) => JSON.parse(line) as { scenario: string; type: string; path: string; at: number; attempt: number; reason?: string; child?: string; restarting?: string[] })
  assert.ok(events.every((event) => event.scenario === 'tree' && typeof event.at === 'number' && typeof event.attempt === 'number'))
  const brief = events
    .filter((event) => event.type !== 'started' && event.type !== 'stopped')
    .map((event) =>
      event.type === 'decision'
        ? `${event.at} ${event.path} decision ${event.child} ${event.reason} → ${event.restarting!.join(',')}`
        : `${event.at} ${event.path} ${event.type}${event.reason === undefined ? '' : ` ${event.reason}`}`,
    )
  assert.deepEqual(brief, [
    '2000 tree/writer failed failed', // a failed event's reason: 'failed' (or 'memory')
    '2000 tree decision writer failed → writer',
    '2000 tree/writer restarting failed',
    '3500 tree/reader hung',
    '3500 tree decision reader hung → reader,writer',
    '3500 tree/reader restarting hung',
    '3500 tree/writer restarting sibling',
    '6000 tree/connection failed failed',
    '6000 tree decision connection failed → connection,reader,writer',
    '6000 tree/connection restarting failed',
    '6000 tree/writer restarting sibling',
    '6000 tree/reader restarting sibling',
  ])
  assert.ok(!events.some((event) => event.type === 'gave-up'), 'no child gave up')
  assert.deepEqual(
    events.filter((event) => event.type === 'stopped').map((event) => `${event.at} ${event.path}`),
    ['8000 tree/writer', '8000 tree/reader', '8000 tree/connection', '8000 tree'],
  )
  const all = await cli(['demo', 'all', '--virtual', '--json'])
  assert.deepEqual([...new Set(all.lines.map((line) => (JSON.parse(line) as { scenario: string }).scenario))], ['s1', 's2', 's3', 's4'])
})

test('the human timeline reads like the seed output', { timeout: 60_000 }, async () => {
  const { code, lines } = await cli(['demo', 's3', '--virtual'])
  assert.equal(code, 0)
  assert.match(lines[0]!, /^s3: .*\[virtual time\]$/)
  assert.equal(lines[1], '   0.000s  main: Received: 1')
  assert.ok(lines.includes('   1.000s  steward: ward unhealthy; restarting (attempt 2)'))
  assert.match(lines.at(-2)!, /^ {3}5\.000s {2}steward: gave up after 4 restarts/)
})

test('usage errors exit 2 and name the problem; --help exits 0', { timeout: 60_000 }, async () => {
  const stderr: string[] = []
  const write = process.stderr.write.bind(process.stderr)
  process.stderr.write = (chunk: string | Uint8Array): boolean => stderr.push(String(chunk)) > 0
  try {
    assert.equal((await cli(['demo', 's9'])).code, 2)
    assert.equal((await cli(['demo', 's1', '--speed=-3'])).code, 2)
    assert.equal((await cli(['demo', '--fast'])).code, 2)
    assert.equal((await cli(['deploy'])).code, 2)
  } finally {
    process.stderr.write = write
  }
  assert.match(stderr.join(''), /unknown scenario 's9'/)
  assert.match(stderr.join(''), /--speed must be a positive number, got '-3'/)
  assert.match(stderr.join(''), /Unknown option '--fast'/)
  assert.match(stderr.join(''), /unknown command 'deploy'/)
  const help = await cli(['--help'])
  assert.equal(help.code, 0)
  assert.match(help.lines[0]!, /^steward — /)
})

/** Runs the real executable; resolves with its exit code and stdout lines. `onLine` may signal it. */
function spawnCli(args: string[], onLine: (line: string, child: ReturnType<typeof spawn>) => void = () => {}, built = false) {
  return new Promise<{ code: number | null; lines: string[] }>((resolve, reject) => {
    const argv = built ? [builtBin, ...args] : ['--import', 'tsx', bin, ...args]
    const child = spawn(process.execPath, argv, { stdio: ['ignore', 'pipe', 'inherit'] })
    const lines: string[] = []
    child.stdout.on(
      'data',
      lineReader((line) => {
        lines.push(line)
        onLine(line, child)
      }),
    )
    const guard = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`steward ${args.join(' ')} did not exit within 30 s; output: ${lines.join('\n')}`))
    }, 30_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(guard)
      resolve({ code, lines })
    })
  })
}

test('real time: SIGINT stops the demo gracefully and exits 130; SIGTERM exits 143', { timeout: 60_000 }, async () => {
  for (const [signal, expected] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    let sent = false
    const { code, lines } = await spawnCli(['demo', 's1'], (line, child) => {
      if (!sent && line.includes('Hello')) {
        sent = true
        child.kill(signal)
      }
    })
    assert.equal(code, expected, `${signal}: ${lines.join('\n')}`)
    assert.deepEqual(
      lines.slice(1).map((line) => line.replace(/^ *[\d.]+s {2}/, '')),
      ["ward: Hello, I'm irresponsible!", 'ward: I am halting.', 'steward: stopped', 'Done'],
    )
  }
})

test('real time at --speed 20: the poison scenario heals and the process exits on its own', { timeout: 60_000 }, async () => {
  const { code, lines } = await spawnCli(['demo', 's4', '--speed', '20'])
  assert.equal(code, 0)
  assert.deepEqual(
    lines.flatMap((line) => /main: Received: (\d+)/.exec(line)?.[1] ?? []).map(Number),
    [1, 2, 3, 4, 5],
  )
  assert.match(lines.at(-1)!, /steward: ward completed/)
  const json = await spawnCli(['demo', 's4', '--json', '--speed', '20'])
  assert.equal(json.code, 0)
  const events = json.lines.map((line) => JSON.parse(line) as { type: string; at: number })
  const restart = events.find((event) => event.type === 'restarting')!
  assert.ok(restart.at >= 1000, `restarted early, at ${restart.at}`)
  assert.equal(events.at(-1)?.type, 'completed')
})

test('demo cpu-hang: the frozen worker is replaced, every value arrives once, and the process exits', { timeout: 60_000 }, async () => {
  const { code, lines } = await spawnCli(['demo', 'cpu-hang', '--speed', '2'], () => {}, true)
  assert.equal(code, 0, lines.join('\n'))
  assert.deepEqual(
    lines.flatMap((line) => /main: Received: (\d+)/.exec(line)?.[1] ?? []).map(Number),
    [1, 2, 3, 4, 5, 6],
  )
  assert.deepEqual(
    lines.flatMap((line) => /steward: (ward unhealthy; restarting|ward completed)/.exec(line)?.[1] ?? []),
    ['ward unhealthy; restarting', 'ward completed'],
  )
})

test('demo process: the silent child is killed, the next resumes at its progress, and the process exits', { timeout: 60_000 }, async () => {
  const { code, lines } = await spawnCli(['demo', 'process'], () => {}, true)
  assert.equal(code, 0, lines.join('\n'))
  assert.deepEqual(
    lines.slice(1).map((line) => line.replace(/^ *[\d.]+s {2}/, '')),
    [
      'steward: child started (attempt 1, resume none)',
      'steward: child unhealthy (no heartbeat for 1000 ms)',
      'steward: ward unhealthy; restarting (attempt 2)',
      'steward: child started (attempt 2, resume 3)',
      'steward: ward completed',
      'main: the child finished at progress 6',
    ],
  )
  const json = await spawnCli(['demo', 'process', '--json'], () => {}, true)
  assert.equal(json.code, 0, json.lines.join('\n'))
  assert.deepEqual(
    json.lines.map((line) => JSON.parse(line) as { type: string; path: string; attempt: number }).filter((event) => event.type !== 'line').map((event) => `${event.path} ${event.type} ${event.attempt}`),
    ['child started 1', 'child spawned 1', 'child hung 1', 'child restarting 1', 'child started 2', 'child spawned 2', 'child completed 2'],
  )
})

test('--virtual is refused for the real-time demos', { timeout: 60_000 }, async () => {
  const write = process.stderr.write.bind(process.stderr)
  const stderr: string[] = []
  process.stderr.write = (chunk: string | Uint8Array): boolean => stderr.push(String(chunk)) > 0
  try {
    assert.equal((await cli(['demo', 'cpu-hang', '--virtual'])).code, 2)
  } finally {
    process.stderr.write = write
  }
  assert.match(stderr.join(''), /--virtual is not available for cpu-hang/)
})

/** Pids of processes whose command line mentions `needle` (from /proc). */
function pidsRunning(needle: string): number[] {
  const pids: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(needle)) pids.push(Number(entry))
    } catch {
      // gone meanwhile
    }
  }
  return pids
}

test('SIGTERM under the CLI stops a process ward and leaves no child behind', { timeout: 60_000 }, async () => {
  let children: number[] = []
  const { code } = await spawnCli(
    ['demo', 'process'],
    (line, cli) => {
      if (line.includes('child started (attempt 1')) {
        // SIGTERM once the child is seen in /proc (the assertion below says if it never was).
        const seen = (): boolean => (children = pidsRunning('hanging-child.js')).length > 0
        void waitFor('the hanging child in /proc', seen, 10_000)
          .catch(() => {})
          .then(() => cli.kill('SIGTERM'))
      }
    },
    true,
  )
  assert.equal(code, 143)
  assert.ok(children.length > 0, 'the child was seen running')
  for (const pid of children) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `child ${pid} outlived the CLI`)
})

test('steward demo all | head: a reader that closes the pipe early ends the command with 0, no error', { timeout: 60_000 }, async () => {
  // In real time (20× faster) the demo writes again a moment after the reader has gone.
  const child = spawn(process.execPath, [builtBin, 'demo', 'all', '--speed', '20'], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const exited = new Promise<number | null>((resolve) => child.once('close', (code) => resolve(code)))
  await new Promise((resolve) => child.stdout.once('data', resolve))
  child.stdout.destroy()
  assert.equal(await exited, 0, `exit code, stderr: ${stderr}`)
  assert.equal(stderr, '')
})
