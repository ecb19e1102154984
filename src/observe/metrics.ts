import type { RestartReason, StewardEvent, Subscription } from './events.js'
import type { WardStatus } from './status.js'
import type { Lifecycle } from '../steward/run-api.js'
import { systemClock, type Clock } from '../time/clock.js'
import { describe } from '../time/duration.js'
import { usageSampler } from '../isolation/memory-sampler.js'

/** The `Content-Type` of the Prometheus text exposition format that {@link StewardMetrics.render} writes. */
export const metricsContentType = 'text/plain; version=0.0.4; charset=utf-8'

/** The default buckets of `steward_hang_detection_lateness_seconds`, in seconds. */
export const defaultLatenessBuckets: readonly number[] = Object.freeze([0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5])

/** Options of {@link stewardMetrics}. */
export interface MetricsOptions {
  /**
   * The clock the run uses (its events' `at`), for the uptime of each incarnation.
   * @default systemClock
   */
  readonly clock?: Clock
  /**
   * Upper bounds (seconds, increasing, finite) of the hang-detection lateness histogram's buckets; `+Inf` is added.
   * @default defaultLatenessBuckets
   */
  readonly latenessBuckets?: readonly number[]
  /**
   * Whether to add this process's own standard figures, unlabelled: `process_resident_memory_bytes`,
   * `process_cpu_seconds_total`, `process_open_fds` (Linux), `process_start_time_seconds`. Turn it
   * off where another exporter in the same exposition (prom-client's default metrics) writes them.
   * @default true
   */
  readonly processMetrics?: boolean
}

/**
 * The Prometheus metrics of one run (a steward's or a supervisor's, and
 * everything nested in it). Counters are accumulated from the run's events
 * from the moment {@link stewardMetrics} subscribes, so they only grow: a
 * ward's restart never resets them. Gauges are read from `run.status()` at
 * each {@link StewardMetrics.render}.
 */
export interface StewardMetrics extends Disposable {
  /** Counts one event (the subscription calls it; exposed for events recorded elsewhere). */
  record(event: StewardEvent): void
  /** The metrics in the Prometheus text exposition format (version 0.0.4), ending with a newline. */
  render(): string
  /** Unsubscribes from the run. Idempotent; `render()` still works (the counters stop growing). */
  dispose(): void
}

// The counter families of a ward path, in the order they are written.
const RESTARTS = 0
const HANGS = 1
const STALLS = 2
const IDLE_TIMEOUTS = 3
const FAILURES = 4
const GIVE_UPS = 5
const DEAD_LETTERS = 6
const STOP_DEADLINES_MISSED = 7
const families = 8
const counterNames = [
  'steward_restarts_total',
  'steward_hangs_total',
  'steward_stalls_total',
  'steward_idle_timeouts_total',
  'steward_failures_total',
  'steward_give_ups_total',
  'steward_dead_letters_total',
  'steward_stop_deadlines_missed_total',
] as const
const counterHelp = [
  'Restarts of a ward, by reason (hung, stalled, idle, failed, memory, start, returned, sibling, manual).',
  'Heartbeat deadlines a ward missed.',
  'Progress deadlines a ward missed (livelock).',
  'Idle deadlines a ward missed.',
  'Throws and rejections of a ward.',
  'Times a steward or supervisor gave up.',
  'Inputs a ward dead-lettered.',
  'Retired incarnations abandoned after their stop deadline.',
] as const

/** Every restart reason, in the order their series are written. */
const reasons: readonly RestartReason[] = ['hung', 'stalled', 'idle', 'failed', 'memory', 'start', 'returned', 'sibling', 'manual']
const reasonIndex = new Map(reasons.map((reason, i) => [reason, i]))

/** What every steward run can count from its start: failures, give-ups, dead letters, missed stop deadlines. */
const stewardBasics = (1 << FAILURES) | (1 << GIVE_UPS) | (1 << DEAD_LETTERS) | (1 << STOP_DEADLINES_MISSED)

/**
 * The counters of one ward path, and which of its series exist: a series is written from the
 * moment it applies to the ward (a zero, so that Prometheus' `increase()` sees the first event)
 * or is counted, and then for good. Each family's lines stay rendered until they change.
 */
class PathCounters {
  /** The path as a label value. */
  readonly label: string
  /** Restarts by reason, indexed as {@link reasons}. */
  readonly restarts: number[] = reasons.map(() => 0)
  /** Which reasons have a series (bit i: `reasons[i]`). */
  restartSeries = 0
  /** Counts of the other families, indexed by family (the restarts' slot unused). */
  readonly counts: number[] = new Array<number>(families).fill(0)
  /** Which families have a series (bit i: family i). */
  series = 0
  /** The last restart-reason list seen in a status (lists are shared): the same, nothing to do. */
  seenReasons: readonly RestartReason[] | undefined = undefined
  /** Each family's rendered lines ('' for none), `undefined` once stale. */
  readonly lines: Array<string | undefined> = new Array<string | undefined>(families).fill(undefined)
  /** The clock time its current incarnation started, from the last `started` event. */
  startedAt: number | undefined = undefined
  /**
   * The gauge lines that change seldom (state, up, attempt, pid, start time), kept with what they
   * were made of: a render makes a line again only when its value changed.
   */
  gauges: GaugeLines | undefined = undefined

  /** Where a family whose lines change here is marked, so that its joined block is made again. */
  readonly #stale: StaleFamilies

  constructor(path: string, stale: StaleFamilies) {
    this.label = label(path)
    this.#stale = stale
  }

  /** Family `family`'s lines for this path are to be made again (and so is its block). */
  #invalidate(family: number): void {
    this.lines[family] = undefined
    this.#stale.mask |= 1 << family
  }

  /** Counts one event of `family` (not a restart). */
  count(family: number): void {
    this.counts[family]!++
    this.series |= 1 << family
    this.#invalidate(family)
  }

  /** Counts one restart for `reason`. */
  restart(reason: RestartReason): void {
    const index = reasonIndex.get(reason)
    if (index === undefined) return
    this.restarts[index]!++
    this.restartSeries |= 1 << index
    this.#invalidate(RESTARTS)
  }

  /** The series of `mask`'s families exist from now on (at 0 until counted). */
  seed(mask: number): void {
    if ((this.series & mask) === mask) return
    this.series |= mask
    for (let family = 1; family < families; family++) if ((mask & (1 << family)) !== 0) this.#invalidate(family)
  }

  /** The series of these restart reasons exist from now on, with the counters their events feed. */
  seedReasons(list: readonly RestartReason[]): void {
    this.seenReasons = list
    let mask = 0
    let fed = stewardBasics
    for (const reason of list) {
      const index = reasonIndex.get(reason)
      if (index === undefined) continue
      mask |= 1 << index
      if (reason === 'hung') fed |= 1 << HANGS
      else if (reason === 'stalled') fed |= 1 << STALLS
      else if (reason === 'idle') fed |= 1 << IDLE_TIMEOUTS
    }
    if ((this.restartSeries & mask) !== mask) {
      this.restartSeries |= mask
      this.#invalidate(RESTARTS)
    }
    this.seed(fed)
  }

  /** The lines of `family` for this path, joined by newlines (none after the last); '' when it has none. */
  rendered(family: number): string {
    const cached = this.lines[family]
    if (cached !== undefined) return cached
    let text = ''
    if (family === RESTARTS) {
      for (let i = 0; i < reasons.length; i++) {
        if ((this.restartSeries & (1 << i)) !== 0) text += `${text === '' ? '' : '\n'}steward_restarts_total{path="${this.label}",reason="${reasons[i]}"} ${this.restarts[i]}`
      }
    } else if ((this.series & (1 << family)) !== 0) {
      text = `${counterNames[family]}{path="${this.label}"} ${this.counts[family]}`
    }
    this.lines[family] = text
    return text
  }
}

/** The counter families whose joined block is out of date (bit i: family i), shared by a metrics' paths. */
interface StaleFamilies {
  mask: number
}

const live = new Set(['working', 'idle', 'waiting'])

/** A ward's seldom-changing gauge lines and their values (see {@link PathCounters.gauges}). */
class GaugeLines {
  kind = ''
  state = ''
  stateLine = ''
  up: boolean | undefined = undefined
  upLine = ''
  attempt = -1
  attemptLine = ''
  /** -1 while it has no pid line (no process, or not a process ward). */
  pid = -1
  pidLine = ''
  /** -1 while it has no start-time line. */
  startTime = -1
  startTimeLine = ''
}

/** This process's start, in unix seconds (to the millisecond). */
const processStart = Math.round(performance.timeOrigin) / 1000

/**
 * Subscribes to `run`'s events and returns its metrics. Call it right
 * after `start()` (the first incarnation starts a microtask later, so no
 * event is missed). The subscription ends with the run, or with `dispose()`.
 *
 * Metrics (label `path` is the ward's path):
 * `steward_restarts_total{reason}`, `steward_hangs_total`, `steward_stalls_total`,
 * `steward_idle_timeouts_total`, `steward_failures_total`, `steward_give_ups_total`,
 * `steward_dead_letters_total`, `steward_stop_deadlines_missed_total` (counters: every series
 * that applies to a ward — each reason of its status' `restartReasons`, hangs with `hung`,
 * stalls with `stalled`, idle timeouts with `idle`, the other four for every steward run,
 * give-ups for a supervisor — is written at 0 from the ward's `started` event or its first
 * status, whichever comes first, and never goes away); `steward_state{state}` (1 for the
 * current state), `steward_up`, `steward_attempt`, `steward_last_beat_age_seconds` (working
 * wards only), `steward_incarnation_uptime_seconds` (gauges, one per ward of the status tree);
 * a process ward's `steward_process_pid`, `steward_process_resident_memory_bytes`,
 * `steward_process_cpu_seconds_total` (its live processes' CPU time: it starts from 0 with
 * each incarnation, as a process's own does), `steward_process_open_fds` and
 * `steward_process_start_time_seconds`, while its child runs (from its status); this process's
 * own `process_resident_memory_bytes`, `process_cpu_seconds_total`, `process_open_fds` (Linux)
 * and `process_start_time_seconds` (option `processMetrics`);
 * `steward_hang_detection_lateness_seconds` (a histogram of how late hangs were noticed).
 */
export function stewardMetrics(run: Lifecycle, options: MetricsOptions = {}): StewardMetrics {
  if (typeof run !== 'object' || run === null || typeof run.status !== 'function' || typeof run.on !== 'function') {
    throw new TypeError(`stewardMetrics: run must be a steward or supervisor run (with status() and on()), got ${describe(run)}`)
  }
  if (typeof options !== 'object' || options === null) throw new TypeError(`stewardMetrics: options must be an object, got ${describe(options)}`)
  for (const key of Object.keys(options)) {
    if (key !== 'clock' && key !== 'latenessBuckets' && key !== 'processMetrics') {
      throw new TypeError(`stewardMetrics: unknown option '${key}' (known: clock, latenessBuckets, processMetrics)`)
    }
  }
  const clock = options.clock ?? systemClock
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function') {
    throw new TypeError(`stewardMetrics: option 'clock' must be a Clock (with now()), got ${describe(clock)}`)
  }
  const buckets: readonly unknown[] = options.latenessBuckets ?? defaultLatenessBuckets
  if (!Array.isArray(buckets) || buckets.some((b, i) => typeof b !== 'number' || !Number.isFinite(b) || b < 0 || (i > 0 && b <= (buckets[i - 1] as number)))) {
    throw new RangeError(`stewardMetrics: option 'latenessBuckets' must be increasing finite numbers of seconds ≥ 0, got ${describe(buckets)}`)
  }
  const processMetrics: unknown = options.processMetrics ?? true
  if (typeof processMetrics !== 'boolean') throw new TypeError(`stewardMetrics: option 'processMetrics' must be true or false, got ${describe(processMetrics)}`)
  return new Metrics(run, clock, [...(buckets as readonly number[])], processMetrics)
}

class Metrics implements StewardMetrics {
  readonly #run: Lifecycle
  readonly #clock: Clock
  readonly #paths = new Map<string, PathCounters>()
  /**
   * Each counter family's lines over every path, joined: the counters are mostly zeros that
   * seldom change, and joining 100,000 of them anew at each render was most of its time. A block
   * is made again when a line of its family changed.
   */
  readonly #blocks: string[] = new Array<string>(families).fill('')
  readonly #stale: StaleFamilies = { mask: 0 }
  /**
   * The seldom-changing gauge families (state, up, attempt, pid, start time), joined as the last
   * render wrote them, and the paths it walked in order: while no line and no path changed, a
   * render writes these blocks again instead of joining 50,000 lines.
   */
  #gaugeBlocks: readonly string[] | undefined = undefined
  readonly #walked: PathCounters[] = []
  readonly #bounds: number[]
  readonly #bucketCounts: number[]
  readonly #processMetrics: boolean
  #latenessSum = 0
  #latenessCount = 0
  #subscription: Subscription | undefined

  constructor(run: Lifecycle, clock: Clock, bounds: number[], processMetrics: boolean) {
    this.#run = run
    this.#clock = clock
    this.#bounds = bounds
    this.#processMetrics = processMetrics
    this.#bucketCounts = bounds.map(() => 0)
    this.#subscription = run.on((event) => this.record(event))
  }

  #counters(path: string): PathCounters {
    let counters = this.#paths.get(path)
    // A new path has no line yet: the blocks stay as they are until it has one.
    if (counters === undefined) this.#paths.set(path, (counters = new PathCounters(path, this.#stale)))
    return counters
  }

  record(event: StewardEvent): void {
    switch (event.type) {
      case 'started': {
        const counters = this.#counters(event.path)
        counters.startedAt = event.at
        // Its restart reasons come with its status, read at each render before any line is written.
        counters.seed(stewardBasics)
        break
      }
      case 'restarting':
        // One per event, never `event.restarts`: that counts one run's restarts, and a nested run
        // restarted with its parent is a new run counting from 1 again (a counter going down).
        this.#counters(event.path).restart(event.reason)
        break
      case 'hung': {
        this.#counters(event.path).count(HANGS)
        const seconds = event.overdue / 1000
        this.#latenessSum += seconds
        this.#latenessCount++
        for (let i = 0; i < this.#bounds.length; i++) if (seconds <= this.#bounds[i]!) this.#bucketCounts[i]!++
        break
      }
      case 'stalled':
        this.#counters(event.path).count(STALLS)
        break
      case 'idle-timeout':
        this.#counters(event.path).count(IDLE_TIMEOUTS)
        break
      case 'failed':
        this.#counters(event.path).count(FAILURES)
        break
      case 'gave-up':
        this.#counters(event.path).count(GIVE_UPS)
        break
      case 'dead-letter':
        this.#counters(event.path).count(DEAD_LETTERS)
        break
      case 'unstopped':
        this.#counters(event.path).count(STOP_DEADLINES_MISSED)
        break
      default:
        break
    }
  }

  render(): string {
    const now = this.#clock.now()
    // One array per family and one join at the end: a flat string, no rope of 100,000 pieces.
    const state: string[] = []
    const up: string[] = []
    const attempt: string[] = []
    const beatAge: string[] = []
    const uptime: string[] = []
    const pid: string[] = []
    const rss: string[] = []
    const cpu: string[] = []
    const fds: string[] = []
    const started: string[] = []
    const walked = this.#walked
    let visited = 0
    // A gauge line or the walk's order changed since the last render: the gauge blocks are made again.
    let changed = this.#gaugeBlocks === undefined
    const walk = (status: WardStatus): void => {
      const counters = this.#counters(status.path)
      if (walked[visited] !== counters) {
        walked[visited] = counters
        changed = true
      }
      visited++
      if (status.kind === 'supervisor') counters.seed(1 << GIVE_UPS)
      else if (counters.seenReasons !== status.restartReasons) counters.seedReasons(status.restartReasons ?? [])
      const path = counters.label
      const gauges = (counters.gauges ??= new GaugeLines())
      if (gauges.state !== status.state || gauges.kind !== status.kind) {
        gauges.kind = status.kind
        gauges.state = status.state
        gauges.stateLine = `steward_state{path="${path}",kind="${status.kind}",state="${status.state}"} 1`
        changed = true
      }
      state.push(gauges.stateLine)
      if (gauges.up !== status.up) {
        gauges.up = status.up
        gauges.upLine = `steward_up{path="${path}"} ${status.up ? 1 : 0}`
        changed = true
      }
      up.push(gauges.upLine)
      if (gauges.attempt !== status.attempt) {
        gauges.attempt = status.attempt
        gauges.attemptLine = `steward_attempt{path="${path}"} ${status.attempt}`
        changed = true
      }
      attempt.push(gauges.attemptLine)
      if (status.lastBeatAgo !== null) beatAge.push(`steward_last_beat_age_seconds{path="${path}"} ${status.lastBeatAgo / 1000}`)
      const startedAt = counters.startedAt
      if (startedAt !== undefined && live.has(status.state)) uptime.push(`steward_incarnation_uptime_seconds{path="${path}"} ${Math.max(0, now - startedAt) / 1000}`)
      const processId = status.pid ?? -1
      if (gauges.pid !== processId) {
        gauges.pid = processId
        gauges.pidLine = `steward_process_pid{path="${path}"} ${processId}`
        changed = true
      }
      const startTime = status.pid === null ? -1 : (status.startTime ?? -1)
      if (gauges.startTime !== startTime) {
        gauges.startTime = startTime
        gauges.startTimeLine = `steward_process_start_time_seconds{path="${path}"} ${startTime}`
        changed = true
      }
      if (status.pid !== null) {
        pid.push(gauges.pidLine)
        if (status.rss !== null) rss.push(`steward_process_resident_memory_bytes{path="${path}"} ${status.rss}`)
        if (status.cpu !== null) cpu.push(`steward_process_cpu_seconds_total{path="${path}"} ${status.cpu}`)
        if (status.fds !== null) fds.push(`steward_process_open_fds{path="${path}"} ${status.fds}`)
        if (status.startTime !== null) started.push(gauges.startTimeLine)
      }
      for (const child of status.children) walk(child)
    }
    walk(this.#run.status())
    if (walked.length !== visited) {
      walked.length = visited
      changed = true
    }
    if (changed) this.#gaugeBlocks = [state, up, attempt, pid, started].map((lines) => lines.join('\n'))
    const [stateBlock, upBlock, attemptBlock, pidBlock, startedBlock] = this.#gaugeBlocks!
    const block = (text: string | undefined): string[] => (text === '' || text === undefined ? [] : [text])

    const out: string[] = []
    const family = (name: string, type: string, help: string, samples: readonly string[]): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`)
      for (const sample of samples) out.push(sample)
    }
    for (let index = 0; index < families; index++) {
      out.push(`# HELP ${counterNames[index]!} ${counterHelp[index]!}`, `# TYPE ${counterNames[index]!} counter`)
      if ((this.#stale.mask & (1 << index)) !== 0) {
        const lines: string[] = []
        for (const counters of this.#paths.values()) {
          const text = counters.rendered(index)
          if (text !== '') lines.push(text)
        }
        this.#blocks[index] = lines.join('\n')
        this.#stale.mask &= ~(1 << index)
      }
      if (this.#blocks[index] !== '') out.push(this.#blocks[index]!)
    }
    family('steward_state', 'gauge', 'The current state of a ward (1 on the series of its state).', block(stateBlock))
    family('steward_up', 'gauge', 'Whether the current incarnation showed it is up (1) or not (0).', block(upBlock))
    family('steward_attempt', 'gauge', 'The current incarnation of a ward, 1-based.', block(attemptBlock))
    family('steward_last_beat_age_seconds', 'gauge', 'Seconds since the last beat of a working ward.', beatAge)
    family('steward_incarnation_uptime_seconds', 'gauge', 'Seconds since the current incarnation of a ward started.', uptime)
    family('steward_process_pid', 'gauge', "The process id of a process ward's child.", block(pidBlock))
    family('steward_process_resident_memory_bytes', 'gauge', "Resident memory of a process ward's process group, in bytes.", rss)
    family('steward_process_cpu_seconds_total', 'counter', "CPU time (user + system) of a process ward's live processes, in seconds.", cpu)
    family('steward_process_open_fds', 'gauge', "Open file descriptors of a process ward's process group.", fds)
    family('steward_process_start_time_seconds', 'gauge', "Start time of a process ward's child since the unix epoch, in seconds.", block(startedBlock))
    if (this.#processMetrics) {
      const usage = process.cpuUsage()
      family('process_resident_memory_bytes', 'gauge', 'Resident memory size in bytes.', [`process_resident_memory_bytes ${process.memoryUsage.rss()}`])
      family('process_cpu_seconds_total', 'counter', 'Total user and system CPU time spent in seconds.', [`process_cpu_seconds_total ${(usage.user + usage.system) / 1e6}`])
      const openFds = usageSampler.selfFds()
      if (openFds !== null) family('process_open_fds', 'gauge', 'Number of open file descriptors.', [`process_open_fds ${openFds}`])
      family('process_start_time_seconds', 'gauge', 'Start time of the process since unix epoch in seconds.', [`process_start_time_seconds ${processStart}`])
    }
    const histogram: string[] = []
    // record() counts a hang in every bucket it fits: the counts are cumulative already.
    for (let i = 0; i < this.#bounds.length; i++) histogram.push(`steward_hang_detection_lateness_seconds_bucket{le="${this.#bounds[i]}"} ${this.#bucketCounts[i]}`)
    histogram.push(
      `steward_hang_detection_lateness_seconds_bucket{le="+Inf"} ${this.#latenessCount}`,
      `steward_hang_detection_lateness_seconds_sum ${this.#latenessSum}`,
      `steward_hang_detection_lateness_seconds_count ${this.#latenessCount}`,
    )
    family('steward_hang_detection_lateness_seconds', 'histogram', 'How late hangs were noticed: seconds from the missed deadline to the restart decision.', histogram)
    // The last newline by the join itself: no second copy of the text to append it.
    out.push('')
    return out.join('\n')
  }

  dispose(): void {
    this.#subscription?.dispose()
    this.#subscription = undefined
  }

  [Symbol.dispose](): void {
    this.dispose()
  }
}

/** A label value in the exposition format: backslash, double quote and newline escaped. */
function label(value: string): string {
  return value.replace(/[\\"\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))
}
