import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { readdirSync, readFileSync } from 'node:fs'
import { main } from './main.js'

const bin = fileURLToPath(new URL('./bin.ts', import.meta.url))
const builtBin = fileURLToPath(new URL('../../dist/cli/bin.js', import.meta.url))

async function cli(args: string[]): Promise<{ code: number; lines: string[] }> {
  const lines: string[] = []
  const code = await main(args, (line) => lines.push(line))
  return { code, lines }
}

test('demo all --virtual --json prints one JSON object per line, with the seed timelines', async () => {
  const { code, lines } = await cli(['demo', 'all', '--virtual', '--json'])
  assert.equal(code, 0)
  const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  for (const entry of entries) {
    assert.equal(typeof entry.t, 'number')
    assert.equal(typeof entry.type, 'string')
    assert.equal(typeof entry.ward, 'string')
  }
  const types = new Set(entries.map((entry) => entry.type))
  for (const type of ['output', 'restart', 'log', 'dead-letter', 'gave-up', 'completed', 'stopped']) assert.ok(types.has(type), type)
  const s1 = entries.filter((entry) => entry.scenario === 's1')
  assert.deepEqual(s1, [
    { t: 0, ward: 'irresponsible', type: 'log', from: 'ward', message: "ward: Hello, I'm irresponsible!", scenario: 's1' },
    { t: 4000, ward: 'irresponsible', type: 'restart', attempt: 2, reason: 'hung', scenario: 's1' },
    { t: 4000, ward: 'irresponsible', type: 'log', from: 'ward', message: 'ward: I am halting.', scenario: 's1' },
    { t: 4000, ward: 'irresponsible', type: 'log', from: 'ward', message: "ward: Hello, I'm irresponsible!", scenario: 's1' },
    { t: 8000, ward: 'irresponsible', type: 'restart', attempt: 3, reason: 'hung', scenario: 's1' },
    { t: 8000, ward: 'irresponsible', type: 'log', from: 'ward', message: 'ward: I am halting.', scenario: 's1' },
    { t: 8000, ward: 'irresponsible', type: 'log', from: 'ward', message: "ward: Hello, I'm irresponsible!", scenario: 's1' },
    { t: 9000, ward: 'irresponsible', type: 'log', from: 'main', message: 'main: halting steward and ward.', scenario: 's1' },
    { t: 9000, ward: 'irresponsible', type: 'log', from: 'ward', message: 'ward: I am halting.', scenario: 's1' },
    { t: 9000, ward: 'irresponsible', type: 'stopped', scenario: 's1' },
    { t: 9000, ward: 'irresponsible', type: 'log', from: 'main', message: 'Done', scenario: 's1' },
  ])
  const s4 = entries
    .filter((entry) => entry.scenario === 's4')
    .map((entry) => `${String(entry.t)} ${String(entry.type)} ${JSON.stringify(entry.value) ?? ''}`)
  assert.deepEqual(s4, [
    '0 output 1',
    '0 output 2',
    '0 log ',
    '1000 restart ',
    '1000 dead-letter -1',
    '1000 output 3',
    '1000 output 4',
    '1000 output 5',
    '1000 completed ',
  ])
})

test('demo tree --virtual --json: the tree heals and stops in order; all replays only the seed', async () => {
  const { code, lines } = await cli(['demo', 'tree', '--virtual', '--json'])
  assert.equal(code, 0)
  const entries = lines.map((line) => JSON.parse(line) as { t: number; type: string; ward: string; scenario: string })
  assert.ok(entries.every((entry) => entry.scenario === 'tree' && entry.ward === 'tree'))
  assert.deepEqual(
    entries.filter((entry) => entry.type === 'restart').map((entry) => entry.t),
    [2000, 3500, 6000],
  )
  assert.deepEqual(entries.at(-1), { t: 8000, ward: 'tree', type: 'stopped', scenario: 'tree' })
  const all = await cli(['demo', 'all', '--virtual', '--json'])
  assert.deepEqual([...new Set(all.lines.map((line) => (JSON.parse(line) as { scenario: string }).scenario))], ['s1', 's2', 's3', 's4'])
})

test('the human timeline reads like the seed output', async () => {
  const { code, lines } = await cli(['demo', 's3', '--virtual'])
  assert.equal(code, 0)
  assert.match(lines[0]!, /^s3: .*\[virtual time\]$/)
  assert.equal(lines[1], '   0.000s  main: Received: 1')
  assert.ok(lines.includes('   1.000s  steward: ward unhealthy; restarting (attempt 2)'))
  assert.match(lines.at(-2)!, /^ {3}5\.000s {2}steward: gave up after 4 restarts/)
})

test('usage errors exit 2 and name the problem; --help exits 0', async () => {
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
    let buffer = ''
    child.stdout.setEncoding('utf8')
    child.stdout.on('data', (chunk: string) => {
      buffer += chunk
      let newline
      while ((newline = buffer.indexOf('\n')) !== -1) {
        const line = buffer.slice(0, newline)
        buffer = buffer.slice(newline + 1)
        lines.push(line)
        onLine(line, child)
      }
    })
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

test('real time: SIGINT stops the demo gracefully and exits 130; SIGTERM exits 143', async () => {
  for (const [signal, expected] of [['SIGINT', 130], ['SIGTERM', 143]] as const) {
    let sent = false
    const { code, lines } = await spawnCli(['demo', 's1', '--json'], (line, child) => {
      if (!sent && line.includes('Hello')) {
        sent = true
        child.kill(signal)
      }
    })
    assert.equal(code, expected, `${signal}: ${lines.join('\n')}`)
    const types = lines.map((line) => {
      const entry = JSON.parse(line) as { type: string; message?: string }
      return entry.message ?? entry.type
    })
    assert.deepEqual(types, ["ward: Hello, I'm irresponsible!", 'ward: I am halting.', 'stopped', 'Done'])
  }
})

test('real time at --speed 20: the poison scenario heals and the process exits on its own', async () => {
  const { code, lines } = await spawnCli(['demo', 's4', '--json', '--speed', '20'])
  assert.equal(code, 0)
  const entries = lines.map((line) => JSON.parse(line) as { type: string; value?: number; t: number })
  assert.deepEqual(
    entries.filter((entry) => entry.type === 'output').map((entry) => entry.value),
    [1, 2, 3, 4, 5],
  )
  assert.equal(entries.at(-1)?.type, 'completed')
  const restart = entries.find((entry) => entry.type === 'restart')!
  assert.ok(restart.t >= 1000, `restarted early, at ${restart.t}`)
})

test('demo cpu-hang: the frozen worker is replaced, every value arrives once, and the process exits', async () => {
  const { code, lines } = await spawnCli(['demo', 'cpu-hang', '--json', '--speed', '2'], () => {}, true)
  assert.equal(code, 0, lines.join('\n'))
  const entries = lines.map((line) => JSON.parse(line) as { type: string; value?: number })
  assert.deepEqual(
    entries.filter((entry) => entry.type === 'output').map((entry) => entry.value),
    [1, 2, 3, 4, 5, 6],
  )
  assert.deepEqual(
    entries.filter((entry) => entry.type === 'restart' || entry.type === 'completed').map((entry) => entry.type),
    ['restart', 'completed'],
  )
})

test('demo process: the silent child is killed, the next resumes at its progress, and the process exits', async () => {
  const { code, lines } = await spawnCli(['demo', 'process', '--json'], () => {}, true)
  assert.equal(code, 0, lines.join('\n'))
  const messages = lines.map((line) => JSON.parse(line) as { type: string; message?: string }).map((entry) => entry.message ?? entry.type)
  assert.deepEqual(messages, [
    'steward: child started (attempt 1, resume none)',
    'steward: child unhealthy (no heartbeat for 1000 ms)',
    'restart',
    'steward: child started (attempt 2, resume 3)',
    'completed',
    'main: the child finished at progress 6',
  ])
})

test('--virtual is refused for the real-time demos', async () => {
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

test('SIGTERM under the CLI stops a process ward and leaves no child behind', async () => {
  let children: number[] = []
  const { code } = await spawnCli(
    ['demo', 'process', '--json'],
    (line, cli) => {
      if (line.includes('child started (attempt 1')) {
        setTimeout(() => {
          children = pidsRunning('hanging-child.js')
          cli.kill('SIGTERM')
        }, 100)
      }
    },
    true,
  )
  assert.equal(code, 143)
  assert.ok(children.length > 0, 'the child was seen running')
  for (const pid of children) assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `child ${pid} outlived the CLI`)
})
