/**
 * OTP-style restart intensity: at most `maxRestarts` restarts within any
 * `within` milliseconds. One more gives up.
 */
export interface RestartLimit {
  /** Restarts allowed in the window; `Infinity` never gives up. */
  readonly maxRestarts: number
  /** Window length in ms; `Infinity` counts every restart of the run. */
  readonly within: number
}

/** The times of the restarts that still count, oldest first. Immutable. */
export type RestartHistory = readonly number[]

/** The result of {@link nextRestart}. */
export type RestartDecision =
  | { readonly allowed: true; readonly history: RestartHistory }
  | { readonly allowed: false; readonly history: RestartHistory }

/** The history of a run that has not restarted yet. */
export const noRestarts: RestartHistory = Object.freeze([])

/**
 * A pure step: may the run restart at `now`, given the restarts so far?
 * Restarts older than `now - within` no longer count. Keeps at most
 * `maxRestarts` entries, so memory stays flat however long the run lives.
 */
export function nextRestart(limit: RestartLimit, history: RestartHistory, now: number): RestartDecision {
  if (limit.maxRestarts === Infinity) return { allowed: true, history }
  const horizon = now - limit.within
  let first = 0
  while (first < history.length && history[first]! <= horizon) first++
  const counted = history.length - first
  if (counted >= limit.maxRestarts) {
    return { allowed: false, history: first === 0 ? history : history.slice(first) }
  }
  const next = history.slice(Math.max(first, history.length - limit.maxRestarts + 1))
  next.push(now)
  return { allowed: true, history: next }
}
