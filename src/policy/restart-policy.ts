import type { Backoff } from './backoff.js'
import { initialIntensity, nextIntensity, type Intensity, type IntensityState } from './intensity.js'

/**
 * When a restart is allowed and how long to wait before it: an intensity
 * (OTP's window or suture's decaying count) and an optional backoff. The one
 * policy both a steward and a supervisor apply. @internal
 */
export interface RestartPolicy {
  readonly intensity: Intensity
  readonly backoff: Backoff | undefined
}

/** What a {@link RestartPolicy} remembers between restarts. Immutable. @internal */
export interface RestartPolicyState {
  /** Restarts allowed so far. */
  readonly restarts: number
  readonly intensity: IntensityState
  /** The backoff's state; `undefined` before the first restart. */
  readonly backoff: { readonly state: unknown } | undefined
}

/** The outcome of {@link nextRestartStep}. @internal */
export interface RestartVerdict {
  readonly allowed: boolean
  readonly state: RestartPolicyState
  /** The wait before the restart, in ms (0 without a backoff, or when not allowed). */
  readonly delay: number
  /** The intensity's measure after this step: restarts within the window, or the decayed count. */
  readonly counted: number
}

/** The state of a policy that has not restarted anything. @internal */
export function initialRestartState(policy: RestartPolicy): RestartPolicyState {
  return { restarts: 0, intensity: initialIntensity(policy.intensity), backoff: undefined }
}

/**
 * A pure step: may a restart happen at `now`, after an incarnation that ran
 * for `uptime` ms, and after which delay? @internal
 */
export function nextRestartStep(
  policy: RestartPolicy,
  state: RestartPolicyState,
  now: number,
  uptime: number,
): RestartVerdict {
  const decision = nextIntensity(policy.intensity, state.intensity, now)
  if (!decision.allowed) {
    return { allowed: false, state: { ...state, intensity: decision.state }, delay: 0, counted: decision.counted }
  }
  const restarts = state.restarts + 1
  let delay = 0
  let backoff = state.backoff
  if (policy.backoff !== undefined) {
    const step = policy.backoff.next(backoff === undefined ? policy.backoff.initial : backoff.state, { restart: restarts, uptime })
    backoff = { state: step.state }
    delay = Math.max(0, step.delay)
  }
  return { allowed: true, state: { restarts, intensity: decision.state, backoff }, delay, counted: decision.counted }
}
