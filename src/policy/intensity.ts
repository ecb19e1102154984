import { nextRestart, noRestarts, type RestartHistory } from './restart-limit.js'

/**
 * How many restarts are allowed before giving up (a steward) or escalating
 * (a supervisor stops its children and fails, for its own parent to handle):
 * - `{ maxRestarts, within }`: OTP's intensity and period — more than
 *   `maxRestarts` restarts within any `within` ms is refused;
 * - `{ threshold, halfLife }`: suture's decaying failure count — each failure
 *   adds 1 to a count that halves every `halfLife` ms; a count above
 *   `threshold` is refused.
 */
export type Intensity =
  | { readonly maxRestarts: number; readonly within: number }
  | { readonly threshold: number; readonly halfLife: number }

/** The state of an {@link Intensity} policy. Immutable. */
export type IntensityState = RestartHistory | { readonly count: number; readonly at: number }

/** The state of a policy that has not restarted anything yet. */
export function initialIntensity(intensity: Intensity): IntensityState {
  return 'threshold' in intensity ? { count: 0, at: 0 } : noRestarts
}

/**
 * A pure step: may a restart happen at `now`, and the next state. `counted`
 * is the measure the decision was made on: the restarts within the window
 * (this one included when allowed), or the decayed count with this failure.
 */
export function nextIntensity(
  intensity: Intensity,
  state: IntensityState,
  now: number,
): { readonly allowed: boolean; readonly state: IntensityState; readonly counted: number } {
  if ('threshold' in intensity) {
    const { count, at } = state as { count: number; at: number }
    const decayed = count * Math.pow(0.5, Math.max(0, now - at) / intensity.halfLife) + 1
    return { allowed: decayed <= intensity.threshold, state: { count: decayed, at: now }, counted: decayed }
  }
  const decision = nextRestart(intensity, state as RestartHistory, intensity.maxRestarts === Infinity ? 0 : now)
  const counted = decision.allowed ? decision.history.length : decision.history.length + 1
  return { allowed: decision.allowed, state: decision.history, counted }
}
