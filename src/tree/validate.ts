import type { EventListener } from '../observe/events.js'
import type { Backoff } from '../policy/backoff.js'
import type { Intensity } from '../policy/intensity.js'
import type { ResolvedOptions, RestartType, StartOrder, StewardOptions } from '../steward/options.js'
import {
  count,
  duration,
  isObject,
  nonEmptyString,
  oneOf,
  optionalBackoff,
  optionalFunction,
  optionsObject,
  rangeError,
  refuseUnknownKeys,
  resolveShared,
  supervisorScope,
  typeError,
  type ChildStewardOptionKey,
  type ChildStewardOptions,
  type OptionScope,
  childStewardOptionKeys,
} from '../steward/validate.js'
import type { Ward } from '../steward/ward.js'
import { describe } from '../time/duration.js'
import type { ChildSpec, SupervisorOptions, Strategy } from './supervisor.js'

// The validation of supervisor() and its children: the engine's checks of each kind of option
// (src/steward/validate.ts), applied to what only a tree has — a strategy, an intensity that may
// decay, a start order, children with names and restart types, and the steward options a child
// may not have because its supervisor decides its restarts.

// Each list must name every key of its type: a key added to a type and forgotten here fails to compile.
type Unlisted<All, Listed> = [Exclude<All, Listed>] extends [never] ? true : Exclude<All, Listed>

/** Every key a child spec may have. @internal */
export const childSpecKeys = ['name', 'ward', 'restart', ...childStewardOptionKeys] as const

/** The steward options a child may not have (see {@link childRefusedKeys}). @internal */
export const childRefusedOptionKeys = ['maxRestarts', 'within', 'backoff', 'onEvent'] as const satisfies readonly (keyof StewardOptions)[]

const restartsReason = 'its supervisor decides restarts (give maxRestarts/within/backoff to supervisor())'

/**
 * The steward options a child may not have, each with the reason its
 * message gives: the supervisor decides restarts and receives the events. @internal
 */
export const childRefusedKeys: ReadonlyMap<string, string> = new Map<(typeof childRefusedOptionKeys)[number], string>([
  ['maxRestarts', restartsReason],
  ['within', restartsReason],
  ['backoff', restartsReason],
  ['onEvent', "its events go to its supervisor's listeners (give onEvent to supervisor() or to start())"],
])

/** Every key of `supervisor()`'s options. @internal */
export const supervisorOptionKeys = [
  'name',
  'strategy',
  'maxRestarts',
  'within',
  'decay',
  'backoff',
  'onEvent',
  'startOrder',
] as const satisfies readonly (keyof SupervisorOptionsToCheck)[]

/** The keys of a supervisor's `decay` option. @internal */
export const decayKeys = ['threshold', 'halfLife'] as const

const _childKeysListed: Unlisted<
  keyof StewardOptions,
  ChildStewardOptionKey | (typeof childRefusedOptionKeys)[number] | 'name' | 'restart'
> = true
const _supervisorKeysListed: Unlisted<keyof SupervisorOptionsToCheck, (typeof supervisorOptionKeys)[number]> = true

const childRestartTypes: readonly RestartType[] = ['permanent', 'transient', 'temporary']
const strategies: readonly Strategy[] = ['one-for-one', 'one-for-all', 'rest-for-one', 'independent']
const startOrders: readonly StartOrder[] = ['started', 'ready']

// ---------------------------------------------------------------------------
// supervisor()

/** `supervisor()`'s options as this module checks them. @internal */
export type SupervisorOptionsToCheck = SupervisorOptions

/**
 * A supervisor's options after validation, durations in ms. `intensity` is
 * `{ maxRestarts, within }` (defaults 3 and 5,000 ms) or, when `decay` was
 * given, `{ threshold, halfLife }`. @internal
 */
export interface ResolvedSupervisorOptions {
  readonly name: string
  readonly strategy: Strategy
  readonly intensity: Intensity
  readonly backoff: Backoff | undefined
  readonly onEvent: EventListener | undefined
  readonly startOrder: StartOrder
}

/**
 * Validates `supervisor()`'s options: unknown keys (with a suggestion), also
 * inside `decay`; `decay` excludes `maxRestarts` and `within`; fills the
 * defaults (`'supervisor'`, `'one-for-one'`, 3 restarts within 5 s,
 * `startOrder: 'started'`). Throws an {@link OptionTypeError} or an
 * {@link OptionRangeError} with `where: 'supervisor'`. @internal
 */
export function resolveSupervisorOptions(options: SupervisorOptionsToCheck | undefined): ResolvedSupervisorOptions {
  const scope = supervisorScope
  const given: SupervisorOptionsToCheck = optionsObject(options, scope)
  refuseUnknownKeys(given, supervisorOptionKeys, scope)
  const name = nonEmptyString(given.name ?? 'supervisor', 'name', scope)
  const strategy = oneOf(given.strategy ?? 'one-for-one', 'strategy', strategies, scope)
  let intensity: Intensity
  if (given.decay !== undefined) {
    if (given.maxRestarts !== undefined || given.within !== undefined) {
      throw typeError(scope, 'decay', `replaces 'maxRestarts' and 'within'; give one or the other`)
    }
    const decay: unknown = given.decay
    if (!isObject(decay)) throw typeError(scope, 'decay', `must be an object { threshold, halfLife }, got ${describe(decay)}`)
    refuseUnknownKeys(decay, decayKeys, scope, undefined, 'decay.')
    const { threshold, halfLife } = decay as { threshold?: unknown; halfLife?: unknown }
    if (typeof threshold !== 'number' || !(threshold > 0)) {
      const message = `must be a positive number, got ${describe(threshold)}`
      throw typeof threshold === 'number' ? rangeError(scope, 'decay.threshold', message) : typeError(scope, 'decay.threshold', message)
    }
    intensity = { threshold, halfLife: duration(halfLife, 'decay.halfLife', scope, { zero: false }) }
  } else {
    intensity = {
      maxRestarts: count(given.maxRestarts ?? 3, 'maxRestarts', 0, scope),
      within: duration(given.within ?? 5_000, 'within', scope, { infinite: true, zero: false }),
    }
  }
  return {
    name,
    strategy,
    intensity,
    backoff: optionalBackoff(given.backoff, scope),
    onEvent: optionalFunction(given.onEvent, 'onEvent', scope),
    startOrder: oneOf(given.startOrder ?? 'started', 'startOrder', startOrders, scope),
  }
}

// ---------------------------------------------------------------------------
// A supervisor's children

/** A child as {@link resolveChildSpec} reads it: `ChildSpec` with every child option. @internal */
export type ChildSpecToCheck<T = unknown> = ChildSpec<T> & ChildStewardOptions

/**
 * A child after validation.
 * - `restart`: the child's restart type, for its supervisor to apply.
 * - `options`: the resolved options of the steward run the child lives in
 *   for its whole life. Its restart type is the child's; it has no restart
 *   limit or backoff of its own (`maxRestarts: Infinity`, no `backoff`)
 *   because each restart is the supervisor's decision (the run asks it), and
 *   no `onEvent` (events go through the supervisor); its `name` and `ward`
 *   are the child's, its deadlines, `poisonAfter`, `onDeadLetter` and
 *   `shouldRestart` the child's options.
 * @internal
 */
export interface ResolvedChild<T = unknown> {
  readonly name: string
  readonly ward: Ward<T>
  readonly restart: RestartType
  readonly options: ResolvedOptions
}

/**
 * Validates one child of a supervisor named `supervisorName`: `name` (a
 * non-empty string not in `siblingNames`), `ward` (a function), `restart`
 * (default `'permanent'`) and the steward options a child takes
 * ({@link childStewardOptionKeys}). The steward options a child does not take
 * (`maxRestarts`, `within`, `backoff`, `onEvent`) are refused with the
 * reason; other unknown keys with a suggestion. Each message starts
 * `supervisor 'tree': child 'reader':`; the errors have `where:
 * 'supervisor'` and `child` set (unset only when the name itself is bad). @internal
 */
export function resolveChildSpec<T>(
  spec: ChildSpecToCheck<T>,
  siblingNames: ReadonlySet<string>,
  supervisorName = 'supervisor',
): ResolvedChild<T> {
  const treeScope: OptionScope = { where: 'supervisor', prefix: `supervisor '${supervisorName}'`, child: undefined }
  const given: unknown = spec
  if (!isObject(given)) throw typeError(treeScope, 'child', `must be an object, got ${describe(given)}`)
  const name: unknown = spec.name
  if (typeof name !== 'string' || name === '') throw typeError(treeScope, 'name', `must be a non-empty string, got ${describe(name)}`)
  const scope: OptionScope = { ...treeScope, prefix: `${treeScope.prefix}: child '${name}'`, child: name }
  refuseUnknownKeys(spec, childSpecKeys, scope, childRefusedKeys)
  if (siblingNames.has(name)) throw rangeError({ ...treeScope, child: name }, 'name', `must be unique among the children, got '${name}' twice`)
  const ward: unknown = spec.ward
  if (typeof ward !== 'function') throw typeError(scope, 'ward', `must be a function, got ${describe(ward)}`)
  const restart = oneOf(spec.restart ?? 'permanent', 'restart', childRestartTypes, scope)
  const options: ResolvedOptions = {
    ward: spec.ward as Ward<unknown>,
    name,
    ...resolveShared(spec, scope),
    restart,
    maxRestarts: Infinity,
    within: Infinity,
    backoff: undefined,
    onEvent: undefined,
    policy: { intensity: { maxRestarts: Infinity, within: Infinity }, backoff: undefined },
  }
  return { name, ward: spec.ward, restart, options }
}
