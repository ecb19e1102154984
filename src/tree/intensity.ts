import { nextRestart, noRestarts, type RestartHistory } from '../policy/restart-limit.js'

/**
 * How many restarts a supervisor allows before it escalates (stops its
 * children and fails, for its own parent to handle):
 * - `{ maxRestarts, within }`: OTP's intensity and period — more than
 *   `maxRestarts` restarts within any `within` ms escalates;
 * - `{ threshold, halfLife }`: suture's decaying failure count — each failure
 *   adds 1 to a count that halves every `halfLife` ms; a count above
 *   `threshold` escalates.
 */
export type Intensity =
  | { readonly maxRestarts: number; readonly within: number }
  | { readonly threshold: number; readonly halfLife: number }

/** The state of an {@link Intensity} policy. Immutable. */
export type IntensityState = RestartHistory | { readonly count: number; readonly at: number }

/** The state of a supervisor that has not restarted anything yet. */
export function initialIntensity(intensity: Intensity): IntensityState {
  return 'threshold' in intensity ? { count: 0, at: 0 } : noRestarts
}

/** A pure step: may the supervisor restart at `now`, and the next state. */
export function nextIntensity(
  intensity: Intensity,
  state: IntensityState,
  now: number,
): { readonly allowed: boolean; readonly state: IntensityState } {
  if ('threshold' in intensity) {
    const { count, at } = state as { count: number; at: number }
    const decayed = count * Math.pow(0.5, Math.max(0, now - at) / intensity.halfLife) + 1
    return { allowed: decayed <= intensity.threshold, state: { count: decayed, at: now } }
  }
  const decision = nextRestart(intensity, state as RestartHistory, now)
  return { allowed: decision.allowed, state: decision.history }
}
