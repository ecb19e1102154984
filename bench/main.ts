// npm run bench [-- --quick] [-- --json]: every figure beside its baseline or peer, measured in
// the same run, each group in a fresh process. Exits non-zero only when a figure could not be measured.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { Figure, Figures } from './figure.js'

const run = promisify(execFile)
const quick = process.argv.includes('--quick')
const json = process.argv.includes('--json')
const only = process.argv.find((arg) => arg.startsWith('--only='))?.slice('--only='.length).split(',')
const groups = ['beat', 'memory', 'load', 'lateness', 'stream', 'restart', 'isolation', 'go', 'cli', 'cluster', 'metrics', 'events'].filter((group) => only === undefined || only.includes(group))
const child = fileURLToPath(new URL('./child.ts', import.meta.url))

/** Goals from the benchmark issue: [id, test, goal as text]. */
const goals: Array<[string, (figures: Figures) => boolean | undefined, string]> = [
  ['beat.ns', (f) => at(f, 'beat.ns', (v) => v <= 5), '≤ 5 ns'],
  ['idle_ward.bytes', (f) => overhead(f, 'idle_ward.bytes', 600), '≤ baseline + 600'],
  ['idle_ward_signal.bytes', (f) => overhead(f, 'idle_ward_signal.bytes', 1_400), '≤ baseline + 1,400'],
  ['idle_ward_1m.bytes', (f) => overhead(f, 'idle_ward_1m.bytes', 600), '≤ baseline + 600'],
  ['idle_ward.cpu_pct', (f) => at(f, 'idle_ward.cpu_pct', (v) => v <= 1), '≤ 1 %'],
  ['false_restarts', (f) => at(f, 'false_restarts', (v) => v === 0), '0'],
  ['lateness.p99_ms', (f) => at(f, 'lateness.p99_ms', (v) => v <= 2 && f['lateness.early']?.value === 0), '≤ 2 ms, none early'],
  ['stream.values_per_s', (f) => at(f, 'stream.ratio', (v) => v >= 0.8 && (f['stream.values_per_s']?.value ?? 0) > (f['peer.effect_stream.values_per_s']?.value ?? Infinity)), '≥ 0.8 × raw, > Effect'],
  ['restart.p50_us', (f) => at(f, 'restart.p50_us', (v) => v <= 5), '≤ 5 µs'],
  ['restarts_per_s', (f) => at(f, 'restarts_per_s', (v) => v >= 1_000_000 && v > (f['peer.p_retry.attempts_per_s']?.value ?? Infinity)), '≥ 1,000,000/s, > p-retry'],
  ['restarts_signal_per_s', (f) => at(f, 'restarts_signal_per_s', (v) => v >= 150_000 && v > (f['peer.effect_retry.attempts_per_s']?.value ?? Infinity)), '≥ 150,000/s, > Effect'],
  ['metrics.render_ms', (f) => at(f, 'metrics.render_ratio', (v) => v <= 5 && (f['metrics.render_ms']?.value ?? Infinity) < 100), '< 100 ms and ≤ 5 × status JSON'],
  ['heap_growth_1m_restarts.bytes', (f) => at(f, 'heap_growth_1m_restarts.bytes', (v) => v <= 100_000), '≤ 100,000 bytes'],
]

function at(figures: Figures, id: string, test: (value: number) => boolean): boolean | undefined {
  const figure = figures[id]
  return figure === undefined ? undefined : test(figure.value)
}

function overhead(figures: Figures, id: string, limit: number): boolean | undefined {
  const base = figures['baseline.suspended_async.bytes']
  return base === undefined ? undefined : at(figures, id, (v) => v - base.value <= limit)
}

const figures: Figures = {}
const failures: string[] = []
const notes: string[] = []
for (const group of groups) {
  if (!json) process.stderr.write(`measuring ${group}…\n`)
  try {
    const args = ['--expose-gc', '--import', 'tsx', child, group, ...(quick ? ['--quick'] : [])]
    const { stdout, stderr } = await run(process.execPath, args, { maxBuffer: 16 * 1024 * 1024, timeout: 15 * 60_000 })
    if (stderr.trim() !== '') notes.push(...stderr.trim().split('\n').map((line) => `${group}: ${line}`))
    Object.assign(figures, JSON.parse(stdout.trim().split('\n').at(-1)!) as Figures)
  } catch (error) {
    failures.push(`${group}: ${(error as Error).message.split('\n').slice(0, 6).join(' | ')}`)
  }
}

if (json) {
  process.stdout.write(`${JSON.stringify({ node: process.version, quick, figures }, null, 2)}\n`)
} else {
  const rows = Object.entries(figures).map(([id, figure]: [string, Figure]) => {
    const goal = goals.find(([goalId]) => goalId === id)
    const verdict = goal === undefined ? '' : goal[1](figures) === true ? `met (${goal[2]})` : `missed (${goal[2]})`
    return [id, format(figure.value), figure.unit, verdict]
  })
  const widths = [0, 1, 2].map((column) => Math.max(...rows.map((row) => row[column]!.length)))
  console.log(`steward benchmarks — node ${process.version}${quick ? ', quick' : ''}`)
  for (const row of rows) console.log(`${row[0]!.padEnd(widths[0]!)}  ${row[1]!.padStart(widths[1]!)}  ${row[2]!.padEnd(widths[2]!)}  ${row[3]}`)
  for (const note of notes) console.log(note)
}
for (const failure of failures) process.stderr.write(`could not measure ${failure}\n`)
process.exitCode = failures.length > 0 ? 1 : 0

function format(value: number): string {
  if (Number.isInteger(value) && Math.abs(value) < 1e4) return String(value)
  if (Math.abs(value) >= 1e4) return Math.round(value).toLocaleString('en-US')
  return value.toFixed(Math.abs(value) < 10 ? 2 : 1)
}
