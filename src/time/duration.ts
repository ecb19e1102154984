/**
 * A span of time: a number of milliseconds, or a string of one number and a
 * unit: `'250ms'`, `'4s'`, `'1.5m'`, `'2h'`. Units: `ms`, `s`, `m`, `h`.
 * `Infinity` is accepted where an option says so (for example `within`).
 */
export type Duration = number | `${number}${DurationUnit}`

/** The units a {@link Duration} string may end with. */
export type DurationUnit = 'ms' | 's' | 'm' | 'h'

const unitMs: Record<DurationUnit, number> = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }
const pattern = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s|m|h)\s*$/

/** How {@link toMs} checks a value. */
export interface DurationRules {
  /** Accept `Infinity`. Default `false`. */
  readonly infinite?: boolean
  /** Accept `0`. Default `true`. */
  readonly zero?: boolean
}

/**
 * The error of a value parser ({@link toMs}, the size parser): the message is `${option}: ${problem}`,
 * and `problem` is kept, so an option error can name the option its own way. @internal
 */
export function valueError(Kind: TypeErrorConstructor | RangeErrorConstructor, option: string, problem: string): Error & { readonly problem: string } {
  return Object.assign(new Kind(`${option}: ${problem}`), { problem })
}

/**
 * Converts a {@link Duration} to milliseconds.
 *
 * Throws a `TypeError` for a value that is neither a number nor a duration
 * string, and a `RangeError` for a negative, `NaN`, zero (when
 * `rules.zero` is false) or infinite (unless `rules.infinite`) one. The
 * message names `option` so a user can tell which setting was wrong.
 */
export function toMs(value: unknown, option: string, rules: DurationRules = {}): number {
  let ms: number
  if (typeof value === 'number') {
    ms = value
  } else if (typeof value === 'string') {
    const match = pattern.exec(value)
    if (match === null) {
      throw valueError(TypeError, option, `${JSON.stringify(value)} is not a duration; use milliseconds or a string like '500ms', '4s', '1m', '2h'`)
    }
    ms = Number(match[1]) * unitMs[match[2] as DurationUnit]
  } else {
    throw valueError(TypeError, option, `expected a duration (milliseconds or a string like '4s'), got ${describe(value)}`)
  }
  if (Number.isNaN(ms)) throw valueError(RangeError, option, `must be a number of milliseconds, got NaN`)
  if (ms < 0) throw valueError(RangeError, option, `must not be negative, got ${String(value)}`)
  if (ms === Infinity && rules.infinite !== true) {
    throw valueError(RangeError, option, `must be finite, got ${String(value)}`)
  }
  if (ms === 0 && rules.zero === false) throw valueError(RangeError, option, `must be greater than zero`)
  return ms
}

/**
 * A value as an error message shows it, with an article for a primitive: `the number 8080`,
 * `the boolean true`, otherwise as {@link describe}. @internal
 */
export function describeValue(value: unknown): string {
  return typeof value === 'number' || typeof value === 'boolean' || typeof value === 'bigint' ? `the ${describe(value)}` : describe(value)
}

/** A short description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null'
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'function') return 'a function'
  if (typeof value === 'object') return Array.isArray(value) ? 'an array' : 'an object'
  if (typeof value === 'symbol') return value.toString()
  if (value === undefined) return 'undefined'
  return `${typeof value} ${(value as number | boolean | bigint).toString()}`
}
