import type { EventListener, RestartReason } from '../observe/events.js'
import type { RestartPolicy } from '../policy/restart-policy.js'
import type { DeadLetter } from './output.js'
import { isBackoff, type Backoff } from '../policy/backoff.js'
import type { Ward } from './ward.js'
import { describe, toMs, type Duration } from '../time/duration.js'

/**
 * When a ward is started again (OTP's restart types):
 * - `transient`: after a failure (throw, rejection, missed heartbeat), not after a normal return;
 * - `permanent`: after a failure and after a normal return;
 * - `temporary`: never; a failure gives up at once.
 */
export type RestartType = 'transient' | 'permanent' | 'temporary'

/** What `shouldRestart` is told about the failure it decides on. */
export interface RestartInfo {
  /** The incarnation that failed (1 for the first). */
  readonly attempt: number
  /** Restarts so far, before this one. */
  readonly restarts: number
  /** How it failed. */
  readonly reason: RestartReason
}

/** Options of {@link steward}. Every field is optional and validated at construction. */
export interface StewardOptions {
  /**
   * Name in events, status and errors.
   * @default the ward function's name, or `'ward'`
   */
  readonly name?: string
  /**
   * A working ward that does not beat for this long is stopped and replaced.
   * @default '10s'
   */
  readonly timeout?: Duration
  /**
   * The deadline for an incarnation's *first* sign of life (a beat, an
   * output, an idle wait), as Kubernetes' startup probe and systemd's
   * `TimeoutStartSec`: a slow start (a worker loading its module, a process
   * booting) is not a hang. After it, `timeout` applies.
   * @default timeout
   */
  readonly startTimeout?: Duration
  /**
   * How often the ward is asked to beat (`ctx.pulseInterval`). Must be below `timeout`.
   * @default timeout / 2
   */
  readonly pulseInterval?: Duration
  /**
   * When to start the ward again; see {@link RestartType}.
   * @default 'transient'
   */
  readonly restart?: RestartType
  /**
   * Restarts allowed within `within` before the steward gives up. `Infinity` never gives up.
   * @default 5
   */
  readonly maxRestarts?: number
  /**
   * The window `maxRestarts` counts in. `Infinity` counts every restart of the run.
   * @default '1m'
   */
  readonly within?: Duration
  /**
   * How long a retired incarnation (replaced, or the run stopping) may take to
   * settle after its signal aborts. Past it, the ward is reported (event
   * `unstopped`, the stop report) and abandoned, so nothing blocks forever.
   * @default '5s'
   */
  readonly stopTimeout?: Duration
  /**
   * A working ward that beats but whose progress (`beat(progress)`, or an
   * output's) has not changed for this long is stalled — a livelock — and is
   * replaced. The clock restarts whenever the ward resumes work after waiting.
   * @default Infinity (off)
   */
  readonly progressTimeout?: Duration
  /**
   * A ward that has waited for input (`ctx.idle`) this long is replaced: the
   * "no input for N minutes" watchdog.
   * @default Infinity (off)
   */
  readonly idleTimeout?: Duration
  /**
   * How long to wait before each restart, as a pure policy: `exponential()`,
   * `fixed()`, `jittered()`, `upTo()`, `resetAfter()`. A stop during the wait
   * ends the run at once.
   * @default none: restart at once
   */
  readonly backoff?: Backoff
  /**
   * After this many incarnations in a row failed at the same progress, the
   * input there is poison: the next incarnation sees `ctx.poisoned` and
   * dead-letters it (`walk` does so by itself). `Infinity` never does.
   * @default Infinity
   */
  readonly poisonAfter?: number
  /** Called with each dead-lettered input (also reported as a `dead-letter` event). */
  readonly onDeadLetter?: (letter: DeadLetter) => void
  /**
   * Decides whether a failure is worth a restart, as p-retry's `shouldRetry`:
   * `false` ends the run as `DoNotRestart` does (outcome `stopped`, its
   * reason a `DoNotRestart` whose `cause` is the failure), so a configuration
   * error does not burn the restart budget. A throw counts as `true`.
   * @default every failure restarts
   */
  readonly shouldRestart?: (error: Error, info: RestartInfo) => boolean
  /** Receives every event of every run of this steward. */
  readonly onEvent?: EventListener
}

/** Options after validation, durations in ms. @internal */
export interface ResolvedOptions {
  /** The ward itself, kept here so that a run needs no field of its own for it. */
  readonly ward: Ward<unknown>
  readonly name: string
  readonly timeout: number
  readonly startTimeout: number
  readonly pulseInterval: number
  readonly restart: RestartType
  readonly maxRestarts: number
  readonly within: number
  readonly stopTimeout: number
  readonly progressTimeout: number
  readonly idleTimeout: number
  readonly backoff: Backoff | undefined
  readonly poisonAfter: number
  readonly onDeadLetter: ((letter: DeadLetter) => void) | undefined
  readonly shouldRestart: ((error: Error, info: RestartInfo) => boolean) | undefined
  readonly onEvent: EventListener | undefined
  /** maxRestarts/within and backoff, as the one restart policy. */
  readonly policy: RestartPolicy
}

const restartTypes: readonly RestartType[] = ['transient', 'permanent', 'temporary']
const known = new Set([
  'name',
  'timeout',
  'pulseInterval',
  'restart',
  'maxRestarts',
  'within',
  'stopTimeout',
  'progressTimeout',
  'idleTimeout',
  'backoff',
  'poisonAfter',
  'onDeadLetter',
  'onEvent',
  'startTimeout',
  'shouldRestart',
])

/** Validates {@link StewardOptions}; every error names the option and the reason. @internal */
export function resolveOptions(ward: Ward<unknown>, options: StewardOptions | undefined, fallbackName: string): ResolvedOptions {
  if (options === undefined) options = {}
  if (typeof options !== 'object' || options === null) {
    throw new TypeError(`steward: options must be an object, got ${describe(options)}`)
  }
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new TypeError(`steward: unknown option '${key}'; known options: ${[...known].join(', ')}`)
  }
  const name = options.name ?? fallbackName
  if (typeof name !== 'string' || name.length === 0) {
    throw new TypeError(`steward: option 'name' must be a non-empty string, got ${describe(name)}`)
  }
  const timeout = toMs(options.timeout ?? 10_000, `steward: option 'timeout'`, { zero: false })
  const pulseInterval =
    options.pulseInterval === undefined ? timeout / 2 : toMs(options.pulseInterval, `steward: option 'pulseInterval'`, { zero: false })
  if (pulseInterval >= timeout) {
    throw new RangeError(`steward: option 'pulseInterval' (${pulseInterval} ms) must be below 'timeout' (${timeout} ms)`)
  }
  const startTimeout = options.startTimeout === undefined ? timeout : toMs(options.startTimeout, `steward: option 'startTimeout'`, { zero: false })
  const shouldRestart = options.shouldRestart
  if (shouldRestart !== undefined && typeof shouldRestart !== 'function') {
    throw new TypeError(`steward: option 'shouldRestart' must be a function, got ${describe(shouldRestart)}`)
  }
  const restart = options.restart ?? 'transient'
  if (!restartTypes.includes(restart)) {
    throw new RangeError(`steward: option 'restart' must be one of ${restartTypes.map((t) => `'${t}'`).join(', ')}, got ${describe(restart)}`)
  }
  const maxRestarts = options.maxRestarts ?? 5
  if (typeof maxRestarts !== 'number' || !(maxRestarts === Infinity || (Number.isInteger(maxRestarts) && maxRestarts >= 0))) {
    throw new RangeError(`steward: option 'maxRestarts' must be a non-negative integer or Infinity, got ${describe(maxRestarts)}`)
  }
  const within = toMs(options.within ?? 60_000, `steward: option 'within'`, { infinite: true, zero: false })
  const stopTimeout = toMs(options.stopTimeout ?? 5_000, `steward: option 'stopTimeout'`)
  const progressTimeout = toMs(options.progressTimeout ?? Infinity, `steward: option 'progressTimeout'`, { infinite: true, zero: false })
  const idleTimeout = toMs(options.idleTimeout ?? Infinity, `steward: option 'idleTimeout'`, { infinite: true, zero: false })
  const backoff = options.backoff
  if (backoff !== undefined && !isBackoff(backoff)) {
    throw new TypeError(`steward: option 'backoff' must be a backoff policy (exponential(), fixed() …), got ${describe(backoff)}`)
  }
  const poisonAfter = options.poisonAfter ?? Infinity
  if (typeof poisonAfter !== 'number' || !(poisonAfter === Infinity || (Number.isInteger(poisonAfter) && poisonAfter >= 1))) {
    throw new RangeError(`steward: option 'poisonAfter' must be a positive integer or Infinity, got ${describe(poisonAfter)}`)
  }
  const onDeadLetter = options.onDeadLetter
  if (onDeadLetter !== undefined && typeof onDeadLetter !== 'function') {
    throw new TypeError(`steward: option 'onDeadLetter' must be a function, got ${describe(onDeadLetter)}`)
  }
  const onEvent = options.onEvent
  if (onEvent !== undefined && typeof onEvent !== 'function') {
    throw new TypeError(`steward: option 'onEvent' must be a function, got ${describe(onEvent)}`)
  }
  return {
    ward,
    name,
    timeout,
    startTimeout,
    pulseInterval,
    restart,
    maxRestarts,
    within,
    stopTimeout,
    progressTimeout,
    idleTimeout,
    backoff,
    poisonAfter,
    onDeadLetter,
    shouldRestart,
    onEvent,
    policy: { intensity: { maxRestarts, within }, backoff },
  }
}
