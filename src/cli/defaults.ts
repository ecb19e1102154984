import { exponential, jittered, type Backoff } from '../policy/backoff.js'

// The restart defaults `steward run` and `steward up` share: one place in code, one table in the
// CLI guide (docs/guides/cli.md, "Restart defaults of run and up"). They keep a service alive: a crash loop is slowed by a backoff that
// grows to a cap, never abandoned, and a crash after a healthy run is restarted at once again.
// The library's own defaults (`steward()`, `supervisor()`) are not these: a library user's options
// keep their documented defaults.

/** A backoff as the CLI and the config file state it: durations in ms. */
export interface BackoffRange {
  /** The first delay, and the floor of every delay (jitter included). */
  readonly min: number
  /** The cap of every delay (jitter included). */
  readonly max: number
  /** A failed incarnation that ran at least this long is restarted at once and starts the backoff over; `Infinity` never does. */
  readonly resetAfter: number
}

/** What `steward run` and `steward up` use when a flag or key is not given. */
export const restartDefaults = {
  /** Never give up: the backoff slows a crash loop instead (Kubernetes and PM2 never give up either). */
  maxRestarts: Infinity,
  /** The window of an explicit `--max-restarts` / `maxRestarts`. */
  within: 60_000,
  /** 100 ms, doubling up to 30 s; a crash after 10 s of running is restarted at once, and the backoff starts over. */
  backoff: { min: 100, max: 30_000, resetAfter: 10_000 } satisfies BackoffRange,
  /** Each delay is spread by ±20 % (then kept inside [min, max]), so apps that fail together do not restart together. */
  jitter: 0.2,
} as const

/**
 * The CLI's backoff: exponential from `min` doubling up to `max`, spread by ±{@link restartDefaults}.jitter
 * and then kept inside [min, max] (the spread is applied after the cap, so without the clamp a
 * capped delay would reach max × 1.2). A failed incarnation that ran `resetAfter` or longer was
 * healthy: it is restarted at once (no delay, as PM2 and a one-off crash want), and the backoff
 * starts over (a crash right after that waits `min`). `random` is injected by tests.
 */
export function cliBackoff(range: BackoffRange, random: () => number = Math.random): Backoff {
  const spread = jittered(exponential({ initial: range.min, factor: 2, max: range.max }), { ratio: restartDefaults.jitter, random })
  const inside: Backoff<number> = {
    initial: spread.initial,
    next: (state, step) => {
      const { delay, state: next } = spread.next(state, step)
      return { delay: Math.min(range.max, Math.max(range.min, delay)), state: next }
    },
  }
  if (range.resetAfter === Infinity) return inside
  const stable = range.resetAfter
  const healed: Backoff<number> = { initial: inside.initial, next: (state, step) => (step.uptime >= stable ? { delay: 0, state: inside.initial } : inside.next(state, step)) }
  return healed
}
