import { isBackoff, type Backoff } from '../policy/backoff.js'
import { describe, toMs, type DurationRules } from '../time/duration.js'
import { OptionRangeError, OptionTypeError, type OptionErrorDetails, type OptionSite } from './errors.js'
import type { ResolvedOptions, RestartInfo, RestartType, StewardOptions } from './options.js'
import type { DeadLetter } from './output.js'
import type { StartOptions } from './run-api.js'
import type { Ward } from './ward.js'

// The one validation of steward options and start options, and the checks of each kind of
// option that src/tree/validate.ts applies to supervisor options and children too. Each option
// is checked by one function below, whoever is given it; the scope only changes the message's
// prefix and the error's fields.

export { OptionRangeError, OptionTypeError } from './errors.js'

/**
 * Where checked options sit. Every message starts with `prefix`
 * (`steward`, `supervisor`, `start`, `supervisor 'tree': child 'reader'`);
 * `where` and `child` become the error's fields. @internal
 */
export interface OptionScope {
  readonly where: OptionSite
  readonly prefix: string
  readonly child: string | undefined
}

/** The scope of `steward()`'s options. @internal */
export const stewardScope: OptionScope = { where: 'steward', prefix: 'steward', child: undefined }
/** The scope of `supervisor()`'s own options. @internal */
export const supervisorScope: OptionScope = { where: 'supervisor', prefix: 'supervisor', child: undefined }
/** The scope of a `start()`'s options. @internal */
export const startScope: OptionScope = { where: 'start', prefix: 'start', child: undefined }
/** The scope of `processWard()`'s options. @internal */
export const processWardScope: OptionScope = { where: 'processWard', prefix: 'processWard', child: undefined }
/** The scope of `threadWard()`'s options. @internal */
export const threadWardScope: OptionScope = { where: 'threadWard', prefix: 'threadWard', child: undefined }

// ---------------------------------------------------------------------------
// The option keys

/** Every key of {@link StewardOptions}, in the order messages list them. @internal */
export const stewardOptionKeys = [
  'name',
  'timeout',
  'startTimeout',
  'pulseInterval',
  'restart',
  'maxRestarts',
  'within',
  'stopTimeout',
  'progressTimeout',
  'idleTimeout',
  'backoff',
  'poisonAfter',
  'onDeadLetter',
  'shouldRestart',
  'onEvent',
] as const satisfies readonly (keyof StewardOptions)[]

/**
 * The steward options a supervisor's child takes beside `name`, `ward` and
 * `restart`: its own deadlines and dead letters. A `ChildSpec` is
 * `Pick<StewardOptions, ChildStewardOptionKey>` and these. @internal
 */
export const childStewardOptionKeys = [
  'timeout',
  'startTimeout',
  'pulseInterval',
  'progressTimeout',
  'idleTimeout',
  'stopTimeout',
  'poisonAfter',
  'onDeadLetter',
  'shouldRestart',
] as const satisfies readonly (keyof StewardOptions)[]

/** A key of {@link childStewardOptionKeys}. @internal */
export type ChildStewardOptionKey = (typeof childStewardOptionKeys)[number]

/** The steward options of a child: `Pick<StewardOptions, ChildStewardOptionKey>`. @internal */
export type ChildStewardOptions = Pick<StewardOptions, ChildStewardOptionKey>

/** Every key of a steward's `start()` options. @internal */
export const startOptionKeys = ['signal', 'clock', 'resume', 'failuresHere', 'onEvent'] as const satisfies readonly (keyof StartOptions)[]

// Each list must name every key of its type: a key added to a type and
// forgotten here fails to compile.
type Unlisted<All, Listed> = [Exclude<All, Listed>] extends [never] ? true : Exclude<All, Listed>
const _stewardKeysListed: Unlisted<keyof StewardOptions, (typeof stewardOptionKeys)[number]> = true
const _startKeysListed: Unlisted<keyof StartOptions, (typeof startOptionKeys)[number]> = true

const restartTypes: readonly RestartType[] = ['transient', 'permanent', 'temporary']

// ---------------------------------------------------------------------------
// Unknown keys

/**
 * The known key `key` was probably meant to be: the closest, case ignored
 * (`maxrestarts` → `maxRestarts`), within an edit distance of 2 (1 for a key
 * of up to 4 characters), a swap of two neighbours counting as one edit. The
 * first in `known` wins a tie; `undefined` when none is close. @internal
 */
export function suggestKey(key: string, known: readonly string[]): string | undefined {
  const typed = key.toLowerCase()
  const limit = key.length <= 4 ? 1 : 2
  let best: string | undefined
  let bestDistance = limit + 1
  for (const candidate of known) {
    const lower = candidate.toLowerCase()
    // Lengths this far apart cannot be closer than the best so far.
    if (Math.abs(lower.length - typed.length) >= bestDistance) continue
    const distance = editDistance(typed, lower)
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  return best
}

/**
 * The optimal-string-alignment distance (Damerau–Levenshtein without
 * repeated edits of one substring): insertions, deletions, substitutions and
 * swaps of two neighbouring characters, each counting 1. @internal
 */
export function editDistance(a: string, b: string): number {
  // Three rows of the (a.length + 1) × (b.length + 1) table: two before and the current one.
  let before = new Array<number>(b.length + 1).fill(0)
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  let current = new Array<number>(b.length + 1).fill(0)
  for (let i = 1; i <= a.length; i++) {
    current[0] = i
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min(previous[j]! + 1, current[j - 1]! + 1, previous[j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, before[j - 2]! + 1)
      current[j] = d
    }
    ;[before, previous, current] = [previous, current, before]
  }
  return previous[b.length]!
}

/**
 * Throws an {@link OptionTypeError} for the first own key of `options` that
 * is not in `known`: one in `refused` with its reason (`option 'backoff' does
 * not apply to a child: …`), any other as unknown, with the closest known key
 * (`unknown option 'timout'; did you mean 'timeout'? known options: …`).
 * `path` prefixes nested keys (`'decay.'`). @internal
 */
export function refuseUnknownKeys(
  options: object,
  known: readonly string[],
  scope: OptionScope,
  refused?: ReadonlyMap<string, string>,
  path = '',
): void {
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue
    const option = path + key
    const reason = refused?.get(key)
    if (reason !== undefined) throw typeError(scope, option, `does not apply to a child: ${reason}`)
    throw unknownKey(scope, key, known, path)
  }
}

/** The error of an unknown key `key` (under `path`): the known keys, and the closest one. @internal */
export function unknownKey(scope: OptionScope, key: string, known: readonly string[], path = ''): OptionTypeError {
  const suggestion = suggestKey(key, known)
  return new OptionTypeError(scope.prefix, {
    ...details(scope, path + key, 'is not a known option'),
    suggestion: suggestion === undefined ? undefined : path + suggestion,
    known: known.map((k) => path + k),
  })
}

/**
 * Checks the options of a `start()` (a steward's, with `keys` = {@link startOptionKeys}, or a
 * supervisor's, which has no `resume` or `failuresHere`): an object of known keys, `signal` an
 * AbortSignal, `clock` a Clock, `failuresHere` a whole number >= 0, `onEvent` a function. Throws
 * an {@link OptionTypeError} or an {@link OptionRangeError} with `where: 'start'`. @internal
 */
export function checkStartOptions(options: unknown, keys: readonly string[]): void {
  if (!isObject(options)) throw typeError(startScope, 'options', `must be an object, got ${describe(options)}`)
  refuseUnknownKeys(options, keys, startScope)
  const { signal, clock, failuresHere, onEvent } = options as StartOptions
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw typeError(startScope, 'signal', `must be an AbortSignal, got ${describe(signal)}`)
  }
  if (clock !== undefined && (!isObject(clock) || typeof clock.now !== 'function' || typeof clock.setTimer !== 'function')) {
    throw typeError(startScope, 'clock', `must be a Clock (now, setTimer, sleep), got ${describe(clock)}`)
  }
  if (failuresHere !== undefined && !(Number.isInteger(failuresHere) && failuresHere >= 0)) {
    throw rangeError(startScope, 'failuresHere', `must be a whole number >= 0, got ${describe(failuresHere)}`)
  }
  if (onEvent !== undefined && typeof onEvent !== 'function') {
    throw typeError(startScope, 'onEvent', `must be a function, got ${describe(onEvent)}`)
  }
}

// ---------------------------------------------------------------------------
// One check per kind of option

/** The structured problem of `option` in `scope` (see {@link OptionErrorDetails}). @internal */
export function details(scope: OptionScope, option: string, problem: string, parsed = false): OptionErrorDetails {
  return { option, child: scope.child, where: scope.where, problem, suggestion: undefined, known: undefined, parsed }
}

/** An {@link OptionTypeError}: `problem` is what follows the option's name (`must be a function, got 5`). @internal */
export function typeError(scope: OptionScope, option: string, problem: string): OptionTypeError {
  return new OptionTypeError(scope.prefix, details(scope, option, problem))
}

/** An {@link OptionRangeError}: `problem` is what follows the option's name. @internal */
export function rangeError(scope: OptionScope, option: string, problem: string): OptionRangeError {
  return new OptionRangeError(scope.prefix, details(scope, option, problem))
}

/**
 * `parse(value)` by a value parser (`toMs`, the size parser), its error an option error of
 * `option` carrying the parser's problem. @internal
 */
export function parsedOption<T>(scope: OptionScope, option: string, parse: () => T): T {
  try {
    return parse()
  } catch (error) {
    const problem = (error as { problem?: unknown }).problem
    if (typeof problem !== 'string') throw error
    const found = details(scope, option, problem, true)
    throw error instanceof RangeError ? new OptionRangeError(scope.prefix, found) : new OptionTypeError(scope.prefix, found)
  }
}

/** @internal */
export function isObject(value: unknown): value is object {
  return typeof value === 'object' && value !== null
}

/** A duration option in ms, by the one parser `toMs`, its errors typed. */
/** @internal */
export function duration(value: unknown, option: string, scope: OptionScope, rules: DurationRules): number {
  return parsedOption(scope, option, () => toMs(value, option, rules))
}

/** @internal */
export function nonEmptyString(value: unknown, option: string, scope: OptionScope): string {
  if (typeof value !== 'string' || value === '') throw typeError(scope, option, `must be a non-empty string, got ${describe(value)}`)
  return value
}

/** @internal */
export function oneOf<T extends string>(value: unknown, option: string, allowed: readonly T[], scope: OptionScope): T {
  if (allowed.includes(value as T)) return value as T
  const message = `must be one of ${allowed.map((a) => `'${a}'`).join(', ')}, got ${describe(value)}`
  throw typeof value === 'string' ? rangeError(scope, option, message) : typeError(scope, option, message)
}

/** An integer count of at least `min`, or `Infinity`. */
/** @internal */
export function count(value: unknown, option: string, min: 0 | 1, scope: OptionScope): number {
  if (typeof value === 'number' && (value === Infinity || (Number.isInteger(value) && value >= min))) return value
  const message = `must be a ${min === 0 ? 'non-negative' : 'positive'} integer or Infinity, got ${describe(value)}`
  throw typeof value === 'number' ? rangeError(scope, option, message) : typeError(scope, option, message)
}

/** @internal */
export function optionalFunction<F extends (...args: never[]) => unknown>(value: F | undefined, option: string, scope: OptionScope): F | undefined {
  if (value !== undefined && typeof value !== 'function') throw typeError(scope, option, `must be a function, got ${describe(value)}`)
  return value
}

/** @internal */
export function optionalBackoff(value: Backoff | undefined, scope: OptionScope): Backoff | undefined {
  if (value !== undefined && !isBackoff(value)) {
    throw typeError(scope, 'backoff', `must be a backoff policy (exponential(), fixed() …), got ${describe(value)}`)
  }
  return value
}

/** @internal */
export function optionsObject(value: unknown, scope: OptionScope): object {
  if (value === undefined) return {}
  if (!isObject(value)) throw typeError(scope, 'options', `must be an object, got ${describe(value)}`)
  return value
}

/** The resolved options a steward and a supervisor's child share. */
type SharedResolved = Pick<
  ResolvedOptions,
  'timeout' | 'startTimeout' | 'pulseInterval' | 'stopTimeout' | 'progressTimeout' | 'idleTimeout' | 'poisonAfter' | 'onDeadLetter' | 'shouldRestart'
>

/** Checks the options a steward and a supervisor's child share, once for both. */
/** @internal */
export function resolveShared(options: ChildStewardOptions, scope: OptionScope): SharedResolved {
  const timeout = duration(options.timeout ?? 10_000, 'timeout', scope, { zero: false })
  const startTimeout = options.startTimeout === undefined ? timeout : duration(options.startTimeout, 'startTimeout', scope, { zero: false })
  const pulseInterval = options.pulseInterval === undefined ? timeout / 2 : duration(options.pulseInterval, 'pulseInterval', scope, { zero: false })
  if (pulseInterval >= timeout) {
    throw rangeError(scope, 'pulseInterval', `must be below 'timeout' (${timeout} ms), got ${pulseInterval} ms`)
  }
  return {
    timeout,
    startTimeout,
    pulseInterval,
    stopTimeout: duration(options.stopTimeout ?? 5_000, 'stopTimeout', scope, {}),
    progressTimeout: duration(options.progressTimeout ?? Infinity, 'progressTimeout', scope, { infinite: true, zero: false }),
    idleTimeout: duration(options.idleTimeout ?? Infinity, 'idleTimeout', scope, { infinite: true, zero: false }),
    poisonAfter: count(options.poisonAfter ?? Infinity, 'poisonAfter', 1, scope),
    onDeadLetter: optionalFunction<(letter: DeadLetter) => void>(options.onDeadLetter, 'onDeadLetter', scope),
    shouldRestart: optionalFunction<(error: Error, info: RestartInfo) => boolean>(options.shouldRestart, 'shouldRestart', scope),
  }
}

// ---------------------------------------------------------------------------
// steward()

/**
 * Validates `steward()`'s options: unknown keys (with a suggestion), types
 * and ranges, `pulseInterval` below `timeout`; fills the defaults, durations
 * in ms (`startTimeout` defaults to the resolved `timeout`). Throws an
 * {@link OptionTypeError} or an {@link OptionRangeError} with `where:
 * 'steward'`. `fallbackName` is the name when `options.name` is not given. @internal
 */
export function resolveStewardOptions(ward: Ward<unknown>, options: StewardOptions | undefined, fallbackName: string): ResolvedOptions {
  const scope = stewardScope
  const given: StewardOptions = optionsObject(options, scope)
  refuseUnknownKeys(given, stewardOptionKeys, scope)
  const name = nonEmptyString(given.name ?? fallbackName, 'name', scope)
  const shared = resolveShared(given, scope)
  const maxRestarts = count(given.maxRestarts ?? 5, 'maxRestarts', 0, scope)
  const within = duration(given.within ?? 60_000, 'within', scope, { infinite: true, zero: false })
  const backoff = optionalBackoff(given.backoff, scope)
  return {
    ward,
    name,
    ...shared,
    restart: oneOf(given.restart ?? 'transient', 'restart', restartTypes, scope),
    maxRestarts,
    within,
    backoff,
    onEvent: optionalFunction(given.onEvent, 'onEvent', scope),
    policy: { intensity: { maxRestarts, within }, backoff },
  }
}

