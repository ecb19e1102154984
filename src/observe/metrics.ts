import type { RestartReason, StewardEvent, Subscription } from './events.js'
import type { WardStatus } from './status.js'
import type { Lifecycle } from '../steward/run-api.js'
import { systemClock, type Clock } from '../time/clock.js'
import { describe } from '../time/duration.js'

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

/** Counters of one ward path. */
class PathCounters {
  restarts: Partial<Record<RestartReason, number>> = {}
  hangs = 0
  stalls = 0
  idleTimeouts = 0
  failures = 0
  giveUps = 0
  deadLetters = 0
  stopDeadlinesMissed = 0
  /** The clock time its current incarnation started, from the last `started` event. */
  startedAt: number | undefined = undefined
}

const live = new Set(['working', 'idle', 'waiting'])

/**
 * Subscribes to `run`'s events and returns its metrics. Call it right
 * after `start()` (the first incarnation starts a microtask later, so no
 * event is missed). The subscription ends with the run, or with `dispose()`.
 *
 * Metrics (label `path` is the ward's path):
 * `steward_restarts_total{reason}`, `steward_hangs_total`, `steward_stalls_total`,
 * `steward_idle_timeouts_total`, `steward_failures_total`, `steward_give_ups_total`,
 * `steward_dead_letters_total`, `steward_stop_deadlines_missed_total` (counters, a series
 * appears at its first event); `steward_state{state}` (1 for the current state),
 * `steward_up`, `steward_attempt`, `steward_last_beat_age_seconds` (working wards only),
 * `steward_incarnation_uptime_seconds` (gauges, one per ward of the status tree);
 * `steward_hang_detection_lateness_seconds` (a histogram of how late hangs were noticed).
 */
export function stewardMetrics(run: Lifecycle, options: MetricsOptions = {}): StewardMetrics {
  if (typeof run !== 'object' || run === null || typeof run.status !== 'function' || typeof run.on !== 'function') {
    throw new TypeError(`stewardMetrics: run must be a steward or supervisor run (with status() and on()), got ${describe(run)}`)
  }
  if (typeof options !== 'object' || options === null) throw new TypeError(`stewardMetrics: options must be an object, got ${describe(options)}`)
  for (const key of Object.keys(options)) {
    if (key !== 'clock' && key !== 'latenessBuckets') throw new TypeError(`stewardMetrics: unknown option '${key}' (known: clock, latenessBuckets)`)
  }
  const clock = options.clock ?? systemClock
  if (typeof clock !== 'object' || clock === null || typeof clock.now !== 'function') {
    throw new TypeError(`stewardMetrics: option 'clock' must be a Clock (with now()), got ${describe(clock)}`)
  }
  const buckets: readonly unknown[] = options.latenessBuckets ?? defaultLatenessBuckets
  if (!Array.isArray(buckets) || buckets.some((b, i) => typeof b !== 'number' || !Number.isFinite(b) || b < 0 || (i > 0 && b <= (buckets[i - 1] as number)))) {
    throw new RangeError(`stewardMetrics: option 'latenessBuckets' must be increasing finite numbers of seconds ≥ 0, got ${describe(buckets)}`)
  }
  return new Metrics(run, clock, [...(buckets as readonly number[])])
}

class Metrics implements StewardMetrics {
  readonly #run: Lifecycle
  readonly #clock: Clock
  readonly #paths = new Map<string, PathCounters>()
  readonly #bounds: number[]
  readonly #bucketCounts: number[]
  #latenessSum = 0
  #latenessCount = 0
  #subscription: Subscription | undefined

  constructor(run: Lifecycle, clock: Clock, bounds: number[]) {
    this.#run = run
    this.#clock = clock
    this.#bounds = bounds
    this.#bucketCounts = bounds.map(() => 0)
    this.#subscription = run.on((event) => this.record(event))
  }

  #counters(path: string): PathCounters {
    let counters = this.#paths.get(path)
    if (counters === undefined) this.#paths.set(path, (counters = new PathCounters()))
    return counters
  }

  record(event: StewardEvent): void {
    switch (event.type) {
      case 'started':
        this.#counters(event.path).startedAt = event.at
        break
      case 'restarting': {
        const restarts = this.#counters(event.path).restarts
        restarts[event.reason] = (restarts[event.reason] ?? 0) + 1
        break
      }
      case 'hung': {
        this.#counters(event.path).hangs++
        const seconds = event.overdue / 1000
        this.#latenessSum += seconds
        this.#latenessCount++
        for (let i = 0; i < this.#bounds.length; i++) if (seconds <= this.#bounds[i]!) this.#bucketCounts[i]!++
        break
      }
      case 'stalled':
        this.#counters(event.path).stalls++
        break
      case 'idle-timeout':
        this.#counters(event.path).idleTimeouts++
        break
      case 'failed':
        this.#counters(event.path).failures++
        break
      case 'gave-up':
        this.#counters(event.path).giveUps++
        break
      case 'dead-letter':
        this.#counters(event.path).deadLetters++
        break
      case 'unstopped':
        this.#counters(event.path).stopDeadlinesMissed++
        break
      default:
        break
    }
  }

  render(): string {
    const now = this.#clock.now()
    const state: string[] = []
    const up: string[] = []
    const attempt: string[] = []
    const beatAge: string[] = []
    const uptime: string[] = []
    const walk = (status: WardStatus): void => {
      const path = label(status.path)
      state.push(`steward_state{path="${path}",kind="${status.kind}",state="${status.state}"} 1`)
      up.push(`steward_up{path="${path}"} ${status.up ? 1 : 0}`)
      attempt.push(`steward_attempt{path="${path}"} ${status.attempt}`)
      if (status.lastBeatAgo !== null) beatAge.push(`steward_last_beat_age_seconds{path="${path}"} ${status.lastBeatAgo / 1000}`)
      const startedAt = this.#paths.get(status.path)?.startedAt
      if (startedAt !== undefined && live.has(status.state)) uptime.push(`steward_incarnation_uptime_seconds{path="${path}"} ${Math.max(0, now - startedAt) / 1000}`)
      for (const child of status.children) walk(child)
    }
    walk(this.#run.status())

    const restarts: string[] = []
    const counters: Record<Exclude<keyof PathCounters, 'restarts' | 'startedAt'>, string[]> = {
      hangs: [],
      stalls: [],
      idleTimeouts: [],
      failures: [],
      giveUps: [],
      deadLetters: [],
      stopDeadlinesMissed: [],
    }
    for (const [rawPath, counts] of this.#paths) {
      const path = label(rawPath)
      for (const [reason, count] of Object.entries(counts.restarts)) restarts.push(`steward_restarts_total{path="${path}",reason="${reason}"} ${count}`)
      for (const key of Object.keys(counters) as Array<keyof typeof counters>) {
        if (counts[key] > 0) counters[key].push(`steward_${snake(key)}_total{path="${path}"} ${counts[key]}`)
      }
    }

    const out: string[] = []
    const family = (name: string, type: string, help: string, samples: readonly string[]): void => {
      out.push(`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...samples)
    }
    family('steward_restarts_total', 'counter', 'Restarts of a ward, by reason (hung, stalled, idle, failed, memory, start, returned, sibling, manual).', restarts)
    family('steward_hangs_total', 'counter', 'Heartbeat deadlines a ward missed.', counters.hangs)
    family('steward_stalls_total', 'counter', 'Progress deadlines a ward missed (livelock).', counters.stalls)
    family('steward_idle_timeouts_total', 'counter', 'Idle deadlines a ward missed.', counters.idleTimeouts)
    family('steward_failures_total', 'counter', 'Throws and rejections of a ward.', counters.failures)
    family('steward_give_ups_total', 'counter', 'Times a steward or supervisor gave up.', counters.giveUps)
    family('steward_dead_letters_total', 'counter', 'Inputs a ward dead-lettered.', counters.deadLetters)
    family('steward_stop_deadlines_missed_total', 'counter', 'Retired incarnations abandoned after their stop deadline.', counters.stopDeadlinesMissed)
    family('steward_state', 'gauge', 'The current state of a ward (1 on the series of its state).', state)
    family('steward_up', 'gauge', 'Whether the current incarnation showed it is up (1) or not (0).', up)
    family('steward_attempt', 'gauge', 'The current incarnation of a ward, 1-based.', attempt)
    family('steward_last_beat_age_seconds', 'gauge', 'Seconds since the last beat of a working ward.', beatAge)
    family('steward_incarnation_uptime_seconds', 'gauge', 'Seconds since the current incarnation of a ward started.', uptime)
    const histogram: string[] = []
    // record() counts a hang in every bucket it fits: the counts are cumulative already.
    for (let i = 0; i < this.#bounds.length; i++) histogram.push(`steward_hang_detection_lateness_seconds_bucket{le="${this.#bounds[i]}"} ${this.#bucketCounts[i]}`)
    histogram.push(
      `steward_hang_detection_lateness_seconds_bucket{le="+Inf"} ${this.#latenessCount}`,
      `steward_hang_detection_lateness_seconds_sum ${this.#latenessSum}`,
      `steward_hang_detection_lateness_seconds_count ${this.#latenessCount}`,
    )
    family('steward_hang_detection_lateness_seconds', 'histogram', 'How late hangs were noticed: seconds from the missed deadline to the restart decision.', histogram)
    return `${out.join('\n')}\n`
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

function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`)
}
