// metrics.render_ms: rendering the Prometheus exposition of a 10,000-ward tree (100 supervisors of
// 100 idle wards under one root: 10,201 runs with the groups' own), every counter series each ward
// can have exported at 0 from its start, and the process figures (pid, RSS, CPU, open fds, start
// time) of every ward as if each were a process ward — the worst case: the status each render reads
// is the tree's with those five figures set on every ward, memory, CPU and open files new at each
// render (as they are from one scrape to the next). Beside it, in the same run, its peer: JSON.stringify of that same status, the walk the
// exposition starts from. Also the exposition's size, and the plain tree's render (no process
// figures).
//
// usage.scan_us_per_ward: the /proc sampler behind status()'s figures — N real `sleep` process
// wards under one supervisor; the CPU time (user + system, this process) of one scan of /proc for
// all of them, per ward. At the sampler's one scan a second, that is also its cost per ward per
// second.
import { processWard, supervisor, type ChildSpec, type Lifecycle, type WardContext, type WardStatus } from '../dist/index.js'
import { stewardMetrics } from '../dist/observe/metrics.js'
// Internal (stripped from dist's declarations): read from the source, as bench/isolation.ts does.
import { groupsUsage } from '../src/isolation/process-group.js'
import { usageSampler } from '../src/isolation/memory-sampler.js'
import { readdirSync } from 'node:fs'
import { median, quick, turn, type Figures } from './figure.js'

const groups = 100
const perGroup = 100
const repetitions = quick ? 5 : 15
const warmups = 5
const processWards = quick ? 20 : 50

const idle = (ctx: WardContext): Promise<void> => ctx.idle(new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true })))

/**
 * The median time of `body` after a warm-up: a service renders at every scrape for months, so the
 * steady state is the figure (the first renders on Node 24 run before its optimising tiers and
 * took 2–4 times as long). The peer gets the same warm-up.
 */
function time(body: () => unknown): number {
  for (let i = 0; i < warmups; i++) body()
  const samples: number[] = []
  for (let r = 0; r < repetitions; r++) {
    const start = performance.now()
    body()
    samples.push(performance.now() - start)
  }
  return median(samples)
}

type Figured = { -readonly [K in 'pid' | 'rss' | 'cpu' | 'fds' | 'startTime']: number | null }

/**
 * `status` (a fresh tree, status() makes one per call) with a process ward's five figures set on
 * every steward, as status() sets them on a process ward.
 */
function withFigures(status: WardStatus, pid = { next: 100_000 }): WardStatus {
  if (status.kind === 'steward') {
    const figured = status as unknown as Figured
    figured.pid = pid.next++
    // Memory, CPU and open files change between scrapes: new values each render.
    figured.rss = 31_457_280 + renders * 4096
    figured.cpu = 12.34 + renders / 100
    figured.fds = 23 + (renders % 7)
    figured.startTime = 1_764_800_000.5
  }
  for (const child of status.children) withFigures(child, pid)
  return status
}

let renders = 0

async function render(): Promise<Figures> {
  const children: ChildSpec[] = []
  for (let g = 0; g < groups; g++) {
    const wards: ChildSpec[] = []
    for (let w = 0; w < perGroup; w++) wards.push({ name: `ward-${w}`, ward: idle })
    children.push({ name: `group-${g}`, ward: supervisor({ name: `group-${g}`, startOrder: 'started' }, wards) })
  }
  const run = supervisor({ name: 'root' }, children).start()
  // Every ward started and idle.
  while (!run.status().up) await turn()
  const figured: Lifecycle = { status: () => (renders++, withFigures(run.status())), on: run.on.bind(run) } as Lifecycle
  const metrics = stewardMetrics(figured)
  const plain = stewardMetrics(run)
  let text = ''
  const rendered = time(() => (text = metrics.render()))
  const json = time(() => JSON.stringify(figured.status()))
  const plainRender = time(() => plain.render())
  const count = (prefix: string): number => text.split('\n').filter((line) => line.startsWith(prefix)).length
  // The root, each group's child run and the supervisor nested in it, and the wards.
  const expected = 1 + 2 * groups + groups * perGroup
  if (count('steward_state{') !== expected) throw new Error(`expected ${expected} runs in the exposition, got ${count('steward_state{')}`)
  if (count('steward_process_open_fds{') < groups * perGroup) throw new Error('the process figures are missing')
  if (count('steward_restarts_total{') < 3 * groups * perGroup) throw new Error('the zero restart series are missing (hung, failed, manual per ward)')
  const series = text.split('\n').filter((line) => line !== '' && !line.startsWith('#')).length
  metrics.dispose()
  plain.dispose()
  await run.stop()
  return {
    'metrics.render_ms': { value: rendered, unit: `ms (10,000 wards, 10,201 runs, ${series.toLocaleString('en')} series: zeros and process figures)` },
    'peer.status_json_ms': { value: json, unit: 'ms (same status)' },
    'metrics.render_ratio': { value: rendered / json, unit: '× status JSON' },
    'metrics.render_plain_ms': { value: plainRender, unit: 'ms (same tree, no process figures)' },
    'metrics.exposition.bytes': { value: Buffer.byteLength(text), unit: 'bytes' },
  }
}

async function sampler(): Promise<Figures> {
  const run = supervisor(
    { name: 'sleepers' },
    Array.from({ length: processWards }, (_, i) => ({ name: `s${i}`, ward: processWard('sleep', ['600'], { heartbeat: 'none' }) })),
  ).start()
  try {
    const deadline = Date.now() + 30_000
    while (!run.status().children.every((child) => child.fds !== null)) {
      if (Date.now() > deadline) throw new Error(`not every one of ${processWards} process wards had its figures within 30 s`)
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const pgids = new Set(run.status().children.map((child) => child.pid!))
    const scans = quick ? 20 : 100
    const before = process.cpuUsage()
    const started = performance.now()
    for (let i = 0; i < scans; i++) if (groupsUsage(pgids).size !== processWards) throw new Error('a scan missed a group')
    const wall = (performance.now() - started) / scans
    const cpu = process.cpuUsage(before)
    const cpuPerScanUs = (cpu.user + cpu.system) / scans
    const processes = readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).length
    return {
      'usage.scan_ms': { value: wall, unit: `ms wall per scan (${processWards} process wards, ${processes} processes on the machine)` },
      'usage.scan_us_per_ward': { value: cpuPerScanUs / processWards, unit: `µs CPU per ward per scan = per ward per second at one scan per ${usageSampler.every} ms` },
      'usage.cpu_pct_per_100_wards': { value: ((cpuPerScanUs / processWards) * 100) / 1e4, unit: '% of one core for 100 process wards, one scan a second' },
    }
  } finally {
    await run.stop()
  }
}

export async function measure(): Promise<Figures> {
  return { ...(await render()), ...(await sampler()) }
}
