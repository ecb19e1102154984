import type { ErrorInfo } from './error-info.js'
import type { RestartReason } from './events.js'
import type { ProbeFailure } from './probe-failure.js'

/**
 * Where a run is:
 * - `starting`: created, the first incarnation not started yet;
 * - `working`: the ward runs and must beat;
 * - `idle`: the ward waits for input (`ctx.idle`), healthy without beating;
 * - `waiting`: the ward is suspended at a `yield` its consumer has not asked for;
 * - `stopping`: an incarnation is being retired (for a restart, or `stop()` tears down);
 * - `backoff`: the next incarnation waits for its backoff;
 * - `restarting`: the last incarnation is retired and the next not started yet;
 * - `completed`, `stopped`, `gave-up`: settled.
 */
export type RunState =
  | 'starting'
  | 'working'
  | 'idle'
  | 'waiting'
  | 'stopping'
  | 'backoff'
  | 'restarting'
  | 'completed'
  | 'stopped'
  | 'gave-up'

/** A JSON-serialisable snapshot of a run and the runs nested in it. */
export interface WardStatus {
  readonly name: string
  readonly path: string
  readonly kind: 'steward' | 'supervisor'
  /** A supervisor's strategy (absent for a steward). */
  readonly strategy?: 'one-for-one' | 'one-for-all' | 'rest-for-one' | 'independent'
  readonly state: RunState
  /** The current (or last) incarnation, 1-based; 0 before the first start. */
  readonly attempt: number
  readonly restarts: number
  /**
   * The reasons this run can be restarted for (each a `reason` its `restarting` events may carry),
   * from its options and its place in a tree: `hung` always (`timeout` is finite),
   * `stalled` with a `progressTimeout`, `idle` with an `idleTimeout`, `failed` always, `memory`
   * for a process ward with `maxMemory` or a thread ward with `resourceLimits`, `start` with a
   * `shouldRestart`, `returned` under `restart: 'permanent'` (none of these under `temporary`),
   * `sibling` under a one-for-all or rest-for-one supervisor, `manual` under any supervisor.
   * Empty for a supervisor (its children's restarts are theirs). Metrics export a zero counter
   * series for each from the ward's first status, so `increase()` sees its first restart.
   */
  readonly restartReasons: readonly RestartReason[]
  /**
   * The current incarnation has shown it is up (its first beat, output, idle
   * wait or dead letter); for a supervisor, every child is. A readiness check.
   */
  readonly up: boolean
  /** Milliseconds since the last beat (or start of work); `null` when not working. */
  readonly lastBeatAgo: number | null
  /** The last progress reported with `beat(progress)`, or `undefined`. */
  readonly progress: unknown
  /** Incarnations in a row that failed at the current progress. */
  readonly failuresHere: number
  readonly lastFailure: ErrorInfo | null
  /**
   * A process ward's last probe failure (`http`, `tcp`, `exec`, `probe` heartbeats), kept until a
   * probe answers healthy; `null` when its probes answer, or it has none. Always `null` for a supervisor.
   */
  readonly probeFailure: ProbeFailure | null
  /**
   * A process ward's probe (an `http`, `tcp`, `exec` or `probe` heartbeat) while its child runs: what
   * it asks and how often, in the words its failures begin with — `http GET
   * http://127.0.0.1:8080/health every 1000 ms`, `tcp 127.0.0.1:6379 every 500 ms`, `exec redis-cli
   * every 2000 ms`, `probe every 1000 ms`. Absent otherwise (no probe, not running, not a process ward).
   */
  readonly probe?: string
  /** A process ward's child process id while its current incarnation runs; `null` otherwise (and for a thread ward or a supervisor). */
  readonly pid: number | null
  /** A thread ward's worker thread id while its current incarnation runs; `null` otherwise. */
  readonly threadId: number | null
  /**
   * Milliseconds the current incarnation has run (on the run's clock), `null` between
   * incarnations and once settled; `null` for a supervisor.
   */
  readonly uptime: number | null
  /**
   * A process ward's resident memory in bytes while its child runs: the sum of `VmRSS` over its
   * process group's live members (as `maxMemory` measures it), from /proc: one scan for every
   * process ward's group at most once a second, made when a status is built, so a figure may be up
   * to a second old; `null` otherwise, on systems without /proc, for a thread ward and a supervisor.
   */
  readonly rss: number | null
  /** The CPU time (user + system, seconds) of the same processes, as `rss`; `null` when `rss` is. */
  readonly cpu: number | null
  /** Open file descriptors of the same processes (entries of `/proc/<pid>/fd`, summed), as `rss`; `null` when `rss` is. */
  readonly fds: number | null
  /**
   * When the child process started, in unix seconds (from `/proc/<pid>/stat`, to the clock
   * tick), as `rss`; `null` when `rss` is.
   */
  readonly startTime: number | null
  /**
   * Incarnations (this run's or nested ones) abandoned after their stop deadline during
   * restarts; those abandoned by a `stop()` are in that stop's report instead.
   */
  readonly abandoned: number
  /** The last of them: its path, attempt and clock time. */
  readonly lastAbandoned: { readonly path: string; readonly attempt: number; readonly at: number } | null
  /**
   * A supervisor's child not started yet under `startOrder: 'ready'`: the child it waits for to
   * be up (absent otherwise).
   */
  readonly waitingFor?: string
  /**
   * `true` on a child that will not be started: the child before it ended without being up (a
   * `blocked` event said so). Absent otherwise.
   */
  readonly blocked?: true
  /** Stewards nested inside this ward (a steward used as the ward of another); a supervisor's children. */
  readonly children: readonly WardStatus[]
}
