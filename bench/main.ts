// npm run bench [-- --quick] [-- --json] [-- --only=GROUP,…] [-- --check] [-- --node=MAJOR,…]:
// every figure beside its baseline or peer, measured in the same run, each group in a fresh process.
// A figure with a goal shows the floor or peer it is divided by, the ratio and the bound, and
// whether it is met. --check exits 1 when a goal of the groups run is missed (or its figures
// could not be measured); --node=20,24 runs the same groups on each of those Node versions (the
// binaries CI fetches, scripts/fetch-node.sh) one after the other, a table for each.
// Without --check it exits non-zero only when a figure could not be measured.
import { execFile, execFileSync } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { Figure, Figures } from './figure.js'

const run = promisify(execFile)
const args = process.argv.slice(2)
const quick = args.includes('--quick')
const json = args.includes('--json')
const check = args.includes('--check')
const option = (name: string): string | undefined => {
  const index = args.findIndex((arg) => arg === `--${name}` || arg.startsWith(`--${name}=`))
  if (index === -1) return undefined
  const arg = args[index]!
  return arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : args[index + 1]
}
const allGroups = ['beat', 'memory', 'load', 'lateness', 'stream', 'restart', 'isolation', 'go', 'cli', 'cluster', 'metrics', 'events']
const only = option('only')?.split(',')
for (const group of only ?? []) {
  if (!allGroups.includes(group)) {
    process.stderr.write(`bench: --only: unknown group '${group}'; groups: ${allGroups.join(', ')}\n`)
    process.exit(2)
  }
}
const groups = allGroups.filter((group) => only === undefined || only.includes(group))
const versions = option('node')?.split(',')
for (const version of versions ?? []) {
  if (!/^\d+$/.test(version)) {
    process.stderr.write(`bench: --node: a Node major version (20, 22, 24…) or a list of them, got '${version}'\n`)
    process.exit(2)
  }
}
const child = fileURLToPath(new URL('./child.ts', import.meta.url))
const root = fileURLToPath(new URL('..', import.meta.url))

/**
 * A goal: the figure it judges (`id`), what that figure is divided by (`over`: a floor or peer
 * measured in the same run; none for an absolute bound), the bound as text, and the test.
 */
interface Goal {
  readonly id: string
  readonly over?: string
  /** The ratio shown: `id / over` unless given. */
  readonly ratio?: (figures: Figures) => number | undefined
  readonly bound: string
  readonly met: (figures: Figures) => boolean | undefined
}

const value = (figures: Figures, id: string): number | undefined => figures[id]?.value
/** `test(a, b)` of two figures, or undefined when either is missing. */
function both(figures: Figures, a: string, b: string, test: (a: number, b: number) => boolean): boolean | undefined {
  const x = value(figures, a)
  const y = value(figures, b)
  return x === undefined || y === undefined ? undefined : test(x, y)
}

const goals: readonly Goal[] = [
  { id: 'beat.ns', bound: '≤ 5 ns', met: (f) => both(f, 'beat.ns', 'beat.ns', (v) => v <= 5) },
  // A ward pays for waiting only while it waits: a working ward within 600 bytes of a bare async
  // function; an idle one within that plus one promise it can settle itself (a wait that a
  // retirement ends cannot cost less than the promise it settles, measured in the same run).
  { id: 'working_ward.bytes', over: 'baseline.suspended_async.bytes', ratio: (f) => diff(f, 'working_ward.bytes', 'baseline.suspended_async.bytes'), bound: '≤ floor + 600 bytes', met: (f) => both(f, 'working_ward.bytes', 'baseline.suspended_async.bytes', (v, b) => v - b <= 600) },
  idleGoal('idle_ward.bytes', 600),
  idleGoal('idle_ward_signal.bytes', 1_400),
  idleGoal('idle_ward_1m.bytes', 600),
  { id: 'idle_ward.cpu_pct', bound: '≤ 1 %', met: (f) => both(f, 'idle_ward.cpu_pct', 'idle_ward.cpu_pct', (v) => v <= 1) },
  { id: 'false_restarts', bound: '0', met: (f) => both(f, 'false_restarts', 'false_restarts', (v) => v === 0) },
  {
    id: 'lateness.p99_ms',
    over: 'baseline.timer_1ms_lateness.p99_ms',
    bound: '≤ 1.3 × floor + 0.5 ms, none early',
    met: (f) => both(f, 'lateness.p99_ms', 'baseline.timer_1ms_lateness.p99_ms', (v, floor) => v <= 1.3 * floor + 0.5 && value(f, 'lateness.early') === 0),
  },
  // The ratio is the median of each repetition's side-by-side pair (stream.floor_ratio), steadier on a noisy machine than one median over the other.
  {
    id: 'stream.values_per_s',
    over: 'baseline.owned_promise_stream.values_per_s',
    ratio: (f) => value(f, 'stream.floor_ratio'),
    bound: '≥ 0.9 × floor',
    met: (f) => both(f, 'stream.floor_ratio', 'stream.floor_ratio', (ratio) => ratio >= 0.9),
  },
  { id: 'restart.p50_us', bound: '≤ 5 µs', met: (f) => both(f, 'restart.p50_us', 'restart.p50_us', (v) => v <= 5) },
  { id: 'restarts_per_s', over: 'peer.p_retry.attempts_per_s', bound: '> 1 × p-retry', met: (f) => both(f, 'restarts_per_s', 'peer.p_retry.attempts_per_s', (v, peer) => v > peer) },
  {
    id: 'restarts_signal_per_s',
    over: 'baseline.throw_abort_controller.ns',
    // ns per restart that reads its signal, over ns for what such a restart cannot avoid: the
    // ward's own throw caught, then an AbortController created, read and aborted. (Divided by the
    // AbortController alone, the goal asked a whole restart to cost less than the throw in it on
    // Node 24: 0.3 × 740 ns, where the throw alone is about 270 ns.)
    // The ratio is the median of side-by-side pairs (restarts_signal.floor_ratio), as for the stream.
    ratio: (f) => value(f, 'restarts_signal.floor_ratio'),
    bound: 'ns per restart ≤ 1.3 × floor',
    met: (f) => both(f, 'restarts_signal.floor_ratio', 'restarts_signal.floor_ratio', (ratio) => ratio <= 1.3),
  },
  { id: 'metrics.render_ms', over: 'peer.status_json_ms', bound: '< 100 ms and ≤ 5 × status JSON', met: (f) => both(f, 'metrics.render_ms', 'peer.status_json_ms', (v, peer) => v < 100 && v <= 5 * peer) },
  { id: 'heap_growth_1m_restarts.bytes', bound: '≤ 100,000 bytes', met: (f) => both(f, 'heap_growth_1m_restarts.bytes', 'heap_growth_1m_restarts.bytes', (v) => v <= 100_000) },
  {
    id: 'cli.crash_restart_ms',
    over: 'peer.pm2.crash_restart_ms',
    bound: '≤ PM2 / 1.5 (1.5 × faster)',
    met: (f) => both(f, 'cli.crash_restart_ms', 'peer.pm2.crash_restart_ms', (v, peer) => v * 1.5 <= peer),
  },
  { id: 'cluster.duplicates_per_failover.commit', over: 'cluster.duplicates_per_failover.plain', bound: '0 (lease.commit)', met: (f) => both(f, 'cluster.duplicates_per_failover.commit', 'cluster.duplicates_per_failover.commit', (v) => v === 0) },
  // The bench's nodes run with leaseTtl 1,500 ms and the default beat (leaseTtl / 3).
  { id: 'cluster.failover_ms.p99', bound: '≤ leaseTtl + beat + 500 ms (2,500 ms)', met: (f) => both(f, 'cluster.failover_ms.p99', 'cluster.failover_ms.p99', (v) => v <= 2_500) },
  { id: 'cluster.failover_10k_ms', bound: '≤ leaseTtl + beat + 1 s (3,000 ms)', met: (f) => both(f, 'cluster.failover_10k_ms', 'cluster.failover_10k_ms', (v) => v <= 3_000) },
  { id: 'cluster.assign_join_1m_100_ms', over: 'cluster.assign_1m_100_ms', bound: '≤ 0.2 × from scratch (grows with wards, not wards × nodes)', met: (f) => both(f, 'cluster.assign_join_1m_100_ms', 'cluster.assign_1m_100_ms', (v, full) => v <= 0.2 * full) },
  { id: 'cluster.assign_1m_100_ms', bound: '< 1,000 ms', met: (f) => both(f, 'cluster.assign_1m_100_ms', 'cluster.assign_1m_100_ms', (v) => v < 1_000) },
  { id: 'cli.run_rss_mb', over: 'baseline.node_rss_mb', ratio: (f) => diff(f, 'cli.run_rss_mb', 'baseline.node_rss_mb'), bound: '≤ floor + 10 MB', met: (f) => both(f, 'cli.run_rss_mb', 'baseline.node_rss_mb', (v, floor) => v - floor <= 10) },
]

/** An idle ward's memory goal: within `budget` bytes of a bare async function and a settleable promise together. */
function idleGoal(id: string, budget: number): Goal {
  const excess = (f: Figures): number | undefined => {
    const ward = value(f, id)
    const bare = value(f, 'baseline.suspended_async.bytes')
    const promise = value(f, 'baseline.settleable_promise.bytes')
    return ward === undefined || bare === undefined || promise === undefined ? undefined : ward - bare - promise
  }
  return {
    id,
    over: 'baseline.suspended_async.bytes + baseline.settleable_promise.bytes',
    ratio: excess,
    bound: `≤ floor + ${budget.toLocaleString('en-US')} bytes`,
    met: (f) => {
      const over = excess(f)
      return over === undefined ? undefined : over <= budget
    },
  }
}

/** `a - b`, shown instead of a ratio for a budget over a floor. */
function diff(figures: Figures, a: string, b: string): number | undefined {
  const x = value(figures, a)
  const y = value(figures, b)
  return x === undefined || y === undefined ? undefined : x - y
}

/** The groups measured by the Node binary `node`. */
async function measure(node: string): Promise<{ figures: Figures; failures: string[]; notes: string[] }> {
  const figures: Figures = {}
  const failures: string[] = []
  const notes: string[] = []
  for (const group of groups) {
    if (!json) process.stderr.write(`measuring ${group}…\n`)
    try {
      const childArgs = ['--expose-gc', '--import', 'tsx', child, group, ...(quick ? ['--quick'] : [])]
      // The Node version's own folder first on PATH: the children a group starts run on it too.
      const env = { ...process.env, PATH: `${join(node, '..')}:${process.env.PATH ?? ''}` }
      const { stdout, stderr } = await run(node, childArgs, { maxBuffer: 16 * 1024 * 1024, timeout: 15 * 60_000, env })
      if (stderr.trim() !== '') notes.push(...stderr.trim().split('\n').map((line) => `${group}: ${line}`))
      Object.assign(figures, JSON.parse(stdout.trim().split('\n').at(-1)!) as Figures)
    } catch (error) {
      failures.push(`${group}: ${(error as Error).message.split('\n').slice(0, 6).join(' | ')}`)
    }
  }
  return { figures, failures, notes }
}

/** A goal's verdict on `figures`: undefined when its figure was not measured (its group not run). */
function judge(goal: Goal, figures: Figures): { ratio: number | undefined; met: boolean } | undefined {
  if (figures[goal.id] === undefined) return undefined
  const ratio = goal.ratio?.(figures) ?? (goal.over === undefined ? undefined : both(figures, goal.id, goal.over, () => true) === undefined ? undefined : value(figures, goal.id)! / value(figures, goal.over)!)
  return { ratio, met: goal.met(figures) === true }
}

const binaries = versions === undefined ? [{ label: process.version, node: process.execPath }] : versions.map((major) => ({ label: `Node ${major}`, node: join(execFileSync('bash', [join(root, 'scripts/fetch-node.sh'), major], { encoding: 'utf8' }).trim(), 'node') }))
const results: Array<{ node: string; figures: Figures }> = []
let missed = 0
let failed = 0
for (const binary of binaries) {
  const { figures, failures, notes } = await measure(binary.node)
  const version = execFileSync(binary.node, ['--version'], { encoding: 'utf8' }).trim()
  results.push({ node: version, figures })
  failed += failures.length
  const verdicts = goals.map((goal) => ({ goal, verdict: judge(goal, figures) })).filter((entry) => entry.verdict !== undefined)
  missed += verdicts.filter((entry) => !entry.verdict!.met).length
  if (!json) {
    const rows = Object.entries(figures).map(([id, figure]: [string, Figure]) => {
      const goal = goals.find((candidate) => candidate.id === id)
      const verdict = goal === undefined ? undefined : judge(goal, figures)
      const ratio = verdict?.ratio === undefined ? '' : goal!.ratio !== undefined && goal!.bound.includes('floor +') ? `floor ${signed(verdict.ratio)}` : `${verdict.ratio.toFixed(2)}×`
      const text = goal === undefined ? '' : `${verdict!.met ? 'met' : 'MISSED'} (${goal.bound}${goal.over === undefined ? '' : `; floor/peer: ${goal.over}`})`
      return [id, format(figure.value), figure.unit, ratio, text]
    })
    const widths = [0, 1, 2, 3].map((column) => Math.max(...rows.map((row) => row[column]!.length)))
    console.log(`steward benchmarks — node ${version}${quick ? ', quick' : ''}`)
    for (const row of rows) console.log(`${row[0]!.padEnd(widths[0]!)}  ${row[1]!.padStart(widths[1]!)}  ${row[2]!.padEnd(widths[2]!)}  ${row[3]!.padStart(widths[3]!)}  ${row[4]}`)
    for (const note of notes) console.log(note)
    const judged = verdicts.length
    if (judged > 0) console.log(`goals: ${judged - verdicts.filter((entry) => !entry.verdict!.met).length} of ${judged} met on ${version}${verdicts.some((entry) => !entry.verdict!.met) ? `; missed: ${verdicts.filter((entry) => !entry.verdict!.met).map((entry) => entry.goal.id).join(', ')}` : ''}`)
    console.log('')
  }
  for (const failure of failures) process.stderr.write(`could not measure ${failure}\n`)
}

if (json) process.stdout.write(`${JSON.stringify(results.length === 1 ? { node: results[0]!.node, quick, figures: results[0]!.figures } : { quick, runs: results }, null, 2)}\n`)
process.exitCode = failed > 0 || (check && missed > 0) ? 1 : 0

function signed(n: number): string {
  return `${n >= 0 ? '+' : ''}${format(n)}`
}

function format(value: number): string {
  if (Number.isInteger(value) && Math.abs(value) < 1e4) return String(value)
  if (Math.abs(value) >= 1e4) return Math.round(value).toLocaleString('en-US')
  return value.toFixed(Math.abs(value) < 10 ? 2 : 1)
}
