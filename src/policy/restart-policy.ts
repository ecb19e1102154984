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

/** A failed incarnation, as {@link decide} weighs it. @internal */
export interface Failure {
  /** It could not be started (a command not found, a module that does not load): it would fail the same way again. */
  readonly cannotStart: boolean
  /** Its restart type is `temporary`: never restarted. */
  readonly temporary: boolean
  /** What the ward's `shouldRestart` answered: `false` declines a restart, only `true` restarts a start error; `undefined` when not asked. */
  readonly answer: unknown
  /** When it failed, on the run's clock. */
  readonly now: number
  /** How long it ran, in ms (a backoff may start over after a long run). */
  readonly uptime: number
}

/**
 * What a failure leads to:
 * - `restart`, after `delay` ms;
 * - `give-up` (`why`: `start`, `temporary`, or `limit` — the intensity is
 *   exceeded: a steward gives up, a supervisor escalates to its parent, an
 *   `independent` supervisor's child gives up alone);
 * - `decline`: `shouldRestart` said no, and the run stops.
 * @internal
 */
export interface Decision {
  readonly action: 'restart' | 'give-up' | 'decline'
  readonly why: 'start' | 'temporary' | 'limit' | undefined
  readonly delay: number
  /** The policy's state after this failure (`undefined` when it was and stays untouched). */
  readonly state: RestartPolicyState | undefined
  /** The intensity's measure (see {@link RestartVerdict}); 0 when the policy was not consulted. */
  readonly counted: number
}

/** A restart at once that the policy need not count: no limit and no backoff. @internal */
export const RESTART_NOW: Decision = Object.freeze({ action: 'restart', why: undefined, delay: 0, state: undefined, counted: 0 })

/**
 * Whether the policy allows every restart at once without counting it: no limit, no backoff, and
 * no state yet. {@link decide} then answers an ordinary failure (neither a start error nor a
 * temporary ward's, and no `shouldRestart` answer) with {@link RESTART_NOW}. @internal
 */
export function restartsAtOnce(policy: RestartPolicy, state: RestartPolicyState | undefined): boolean {
  const intensity = policy.intensity
  return state === undefined && policy.backoff === undefined && 'maxRestarts' in intensity && intensity.maxRestarts === Infinity
}

function ending(action: 'give-up' | 'decline', why: Decision['why'], state: RestartPolicyState | undefined): Decision {
  return { action, why, delay: 0, state, counted: 0 }
}

/**
 * The one decision on a failure, pure: a steward makes it for its ward, a
 * supervisor for its child (whose run has made it first with the checks that
 * are the child's own: start error, restart type, `shouldRestart`, and no
 * limit). In order: a start error gives up unless `shouldRestart` insists; a
 * temporary ward gives up; a `false` answer declines; then the intensity
 * allows the restart or not, and the backoff sets its delay. Without a limit
 * and a backoff, and with no state yet, it allocates nothing.
 * @internal
 */
export function decide(policy: RestartPolicy, state: RestartPolicyState | undefined, failure: Failure): Decision {
  if (failure.cannotStart && failure.answer !== true) return ending('give-up', 'start', state)
  if (failure.temporary) return ending('give-up', 'temporary', state)
  if (!failure.cannotStart && failure.answer === false) return ending('decline', undefined, state)
  if (restartsAtOnce(policy, state)) return RESTART_NOW
  const verdict = nextRestartStep(policy, state ?? initialRestartState(policy), failure.now, failure.uptime)
  if (!verdict.allowed) return { action: 'give-up', why: 'limit', delay: 0, state: verdict.state, counted: verdict.counted }
  return { action: 'restart', why: undefined, delay: verdict.delay, state: verdict.state, counted: verdict.counted }
}
