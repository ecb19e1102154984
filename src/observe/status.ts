import type { ErrorInfo } from './error-info.js'
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
   * Incarnations (this run's or nested ones) abandoned after their stop deadline during
   * restarts; those abandoned by a `stop()` are in that stop's report instead.
   */
  readonly abandoned: number
  /** The last of them: its path, attempt and clock time. */
  readonly lastAbandoned: { readonly path: string; readonly attempt: number; readonly at: number } | null
  /** Stewards nested inside this ward (a steward used as the ward of another); a supervisor's children. */
  readonly children: readonly WardStatus[]
}
