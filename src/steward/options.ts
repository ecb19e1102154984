import type { EventListener, RestartReason } from '../observe/events.js'
import type { RestartPolicy } from '../policy/restart-policy.js'
import type { DeadLetter } from './output.js'
import type { Backoff } from '../policy/backoff.js'
import type { Ward } from './ward.js'
import type { Duration } from '../time/duration.js'

/**
 * When a ward is started again (OTP's restart types):
 * - `transient`: after a failure (throw, rejection, missed heartbeat), not after a normal return;
 * - `permanent`: after a failure and after a normal return;
 * - `temporary`: never; a failure gives up at once.
 */
export type RestartType = 'transient' | 'permanent' | 'temporary'

/** What {@link StewardOptions.shouldRestart} is told about the incarnation that ended. */
export interface RestartInfo {
  /** The incarnation that ended, counting from 1. */
  readonly attempt: number
  /** Restarts the run made before this one. */
  readonly restarts: number
  /** How it ended: `'hung'`, `'stalled'`, `'idle'`, `'failed'`, `'memory'` (a {@link MemoryLimitError}), or `'returned'` (a `permanent` ward's normal return). */
  readonly reason: RestartReason
}

/**
 * How a supervisor starts its children, in order:
 * - `started`: each child right after the previous one was started;
 * - `ready`: each child after the previous one's first beat (a connection
 *   before the reader that uses it).
 */
export type StartOrder = 'started' | 'ready'

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
   * The deadline for an incarnation's first sign of life (a beat, an output
   * delivered, an idle wait or a dead letter): an incarnation that shows none
   * this long after it started is hung and replaced; after it, `timeout`
   * applies. For a ward slow to start (a worker loading its module, a
   * process booting, a connection), like Kubernetes' startup probe or
   * systemd's `TimeoutStartSec`. Finite and greater than zero.
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
   * replaced. Its clock starts at the incarnation's first sign of life (a slow
   * start is governed by `startTimeout`, not counted as a livelock) and
   * restarts whenever the ward resumes work after waiting.
   * @default Infinity (off)
   */
  readonly progressTimeout?: Duration
  /**
   * A ward that has waited for input (`ctx.idle`) this long is replaced: the
   * "no input for N minutes" watchdog. It fires at `idleTimeout` after the
   * wait began, whether it is shorter or longer than `timeout`.
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
   * Asked before each restart, with the failure and {@link RestartInfo}.
   * Returning `false` ends the run as a `DoNotRestart` does, so a failure no
   * restart heals (a configuration error) does not burn the restart budget.
   * @default none: every failure is restarted within the restart limit
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
  /** The first beat's deadline, in ms: `timeout` unless `startTimeout` was given. */
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
  /** Asked before each restart; `undefined`: every failure is restarted within the limit. */
  readonly shouldRestart: ((error: Error, info: RestartInfo) => boolean) | undefined
  readonly onEvent: EventListener | undefined
  /** `maxRestarts`/`within` and `backoff` as the one restart policy (see `policy/restart-policy.ts`). */
  readonly policy: RestartPolicy
}

/**
 * Validates {@link StewardOptions}; every error names the option and the
 * reason. The one implementation is `resolveStewardOptions` in `validate.ts`,
 * which also checks supervisors' options and children. @internal
 */
export { resolveStewardOptions as resolveOptions } from './validate.js'
