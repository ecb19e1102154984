import { describe, toMs, type Duration } from '../time/duration.js'

/** What a {@link Backoff} step is told about the restart it delays. */
export interface BackoffStep {
  /** The restart this delay is for: 1 for the first restart of the run. */
  readonly restart: number
  /** How long the failed incarnation ran, in ms (a long run can reset the backoff). */
  readonly uptime: number
}

/**
 * A backoff policy as a pure step function: from a state and a step, the
 * delay before the next restart and the next state. No timers, no clocks;
 * tables of delays test it. `initial` is the state of a run that has not
 * restarted yet. States are immutable.
 */
export interface Backoff<S = unknown> {
  readonly initial: S
  /** The delay (ms) before the restart `step` describes, and the state after it. */
  next(state: S, step: BackoffStep): { readonly delay: number; readonly state: S }
}

/** Options of {@link exponential}. */
export interface ExponentialOptions {
  /** The first delay. @default '100ms' */
  readonly initial?: Duration
  /** Each delay is the previous one times this (≥ 1). @default 2 */
  readonly factor?: number
  /** No delay is longer than this. @default '30s' (or `initial`, if that is longer) */
  readonly max?: Duration
}

/** Delays `initial`, `initial × factor`, `initial × factor²` … capped at `max`. */
export function exponential(options: ExponentialOptions = {}): Backoff<number> {
  const initial = toMs(options.initial ?? 100, `exponential: option 'initial'`)
  const factor = options.factor ?? 2
  if (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 1) {
    throw new RangeError(`exponential: option 'factor' must be a finite number ≥ 1, got ${describe(factor)}`)
  }
  const max = options.max === undefined ? Math.max(30_000, initial) : toMs(options.max, `exponential: option 'max'`, { infinite: true })
  if (max < initial) throw new RangeError(`exponential: option 'max' (${max} ms) must not be below 'initial' (${initial} ms)`)
  return {
    initial: initial,
    next: (delay) => ({ delay: Math.min(delay, max), state: Math.min(delay * factor, max) }),
  }
}

/** The same delay before every restart. */
export function fixed(delay: Duration): Backoff<null> {
  const ms = toMs(delay, 'fixed: delay')
  return { initial: null, next: (state) => ({ delay: ms, state }) }
}

/** Options of {@link jittered}. */
export interface JitterOptions {
  /**
   * Each delay is scaled by a random factor in `[1 - ratio, 1 + ratio]` (0..1),
   * so many wards that fail together do not restart together. @default 0.5
   */
  readonly ratio?: number
  /** The random source, `() => [0, 1)`; inject one to make tests exact. @default Math.random */
  readonly random?: () => number
}

/** `backoff` with each delay spread by a random factor. */
export function jittered<S>(backoff: Backoff<S>, options: JitterOptions = {}): Backoff<S> {
  const ratio = options.ratio ?? 0.5
  if (typeof ratio !== 'number' || !(ratio >= 0 && ratio <= 1)) {
    throw new RangeError(`jittered: option 'ratio' must be a number from 0 to 1, got ${describe(ratio)}`)
  }
  const random = options.random ?? Math.random
  if (typeof random !== 'function') throw new TypeError(`jittered: option 'random' must be a function, got ${describe(random)}`)
  return {
    initial: backoff.initial,
    next: (state, step) => {
      const { delay, state: nextState } = backoff.next(state, step)
      return { delay: Math.max(0, delay * (1 - ratio + 2 * ratio * random())), state: nextState }
    },
  }
}

/** `backoff` with no delay above `max`. */
export function upTo<S>(backoff: Backoff<S>, max: Duration): Backoff<S> {
  const cap = toMs(max, 'upTo: max')
  return {
    initial: backoff.initial,
    next: (state, step) => {
      const result = backoff.next(state, step)
      return { delay: Math.min(result.delay, cap), state: result.state }
    },
  }
}

/**
 * `backoff` that starts over when the failed incarnation had run for
 * `stable` or longer — as Kubernetes forgets a crash loop after ten minutes
 * of clean running.
 */
export function resetAfter<S>(backoff: Backoff<S>, stable: Duration): Backoff<S> {
  const period = toMs(stable, 'resetAfter: stable', { zero: false })
  return {
    initial: backoff.initial,
    next: (state, step) => backoff.next(step.uptime >= period ? backoff.initial : state, step),
  }
}

/** Checks that `value` is a {@link Backoff}; used to validate options. @internal */
export function isBackoff(value: unknown): value is Backoff {
  return typeof value === 'object' && value !== null && 'initial' in value && typeof (value as Backoff).next === 'function'
}
