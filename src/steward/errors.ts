import type { ErrorInfo } from '../observe/error-info.js'

// ErrorInfo lives with the events and status that carry it; it is re-exported here for the
// modules that read it beside errorInfo().
export type { ErrorInfo } from '../observe/error-info.js'

/** Converts any thrown value to an {@link ErrorInfo}. */
export function errorInfo(error: unknown): ErrorInfo {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return typeof code === 'string' ? { name: error.name, message: error.message, code } : { name: error.name, message: error.message }
  }
  return { name: 'Error', message: String(error) }
}

/**
 * The failure recorded when a working ward did not beat for `timeout`
 * milliseconds. `code` is `'ERR_WARD_HUNG'`.
 */
export class WardHungError extends Error {
  override readonly name = 'WardHungError'
  readonly code = 'ERR_WARD_HUNG'
  /** The ward's name. */
  readonly ward: string
  /** The heartbeat timeout it missed, in ms. */
  readonly timeout: number
  /** Why a process ward's probe failed, when it did (the `hung` event's `probeFailure.message`). */
  readonly probe: string | undefined

  constructor(ward: string, timeout: number, probe?: string) {
    super(`ward '${ward}' did not beat for ${timeout} ms${probe === undefined ? '' : `; probe: ${probe}`}`)
    this.ward = ward
    this.timeout = timeout
    this.probe = probe
  }
}

/**
 * The failure recorded when a working ward beat but its progress did not
 * change for `progressTimeout` milliseconds (a livelock). `code` is
 * `'ERR_WARD_STALLED'`.
 */
export class WardStalledError extends Error {
  override readonly name = 'WardStalledError'
  readonly code = 'ERR_WARD_STALLED'
  readonly ward: string
  readonly progressTimeout: number

  constructor(ward: string, progressTimeout: number) {
    super(`ward '${ward}' made no progress for ${progressTimeout} ms`)
    this.ward = ward
    this.progressTimeout = progressTimeout
  }
}

/**
 * The failure recorded when a ward waited for input (`ctx.idle`) longer than
 * `idleTimeout` milliseconds. `code` is `'ERR_WARD_IDLE_TIMEOUT'`.
 */
export class WardIdleTimeoutError extends Error {
  override readonly name = 'WardIdleTimeoutError'
  readonly code = 'ERR_WARD_IDLE_TIMEOUT'
  readonly ward: string
  readonly idleTimeout: number

  constructor(ward: string, idleTimeout: number) {
    super(`ward '${ward}' waited for input for ${idleTimeout} ms`)
    this.ward = ward
    this.idleTimeout = idleTimeout
  }
}

/**
 * Wraps a thrown value that is not an `Error` (`throw 'oops'`), so every
 * failure has a name, a message and a stack. The value is `cause`.
 * `code` is `'ERR_WARD_THREW_NON_ERROR'`.
 */
export class NonErrorThrown extends Error {
  override readonly name = 'NonErrorThrown'
  readonly code = 'ERR_WARD_THREW_NON_ERROR'

  constructor(value: unknown) {
    super(`ward threw a non-Error value: ${safeString(value)}`, { cause: value })
  }
}

/** What a {@link MemoryLimitError} says about the memory that was over its limit. */
export interface MemoryLimitDetails {
  /**
   * The limit in bytes: a process ward's `maxMemory`, or a thread ward's
   * `resourceLimits.maxOldGenerationSizeMb` in bytes (`undefined` when its worker ran out
   * under another of its limits, or none).
   */
  readonly limit: number | undefined
  /** The resident memory sampled, in bytes: of a process ward's process group; `undefined` for a worker (V8 stops it at its limit, nothing is sampled). */
  readonly rss: number | undefined
  /** The process: a process ward's child (the id of its process group), or this process for a worker. */
  readonly pid: number
  /** The worker's `threadId`; `undefined` for a process ward. */
  readonly threadId?: number | undefined
}

/**
 * The failure of a ward over its memory limit: a process ward whose process
 * group's resident memory (sampled every `memoryEvery`) exceeded `maxMemory`,
 * or a thread ward's worker that ran out of memory under its `resourceLimits`
 * (`cause` is the worker's `ERR_WORKER_OUT_OF_MEMORY` error). Its restart
 * reason is `'memory'`, in the `failed`, `restarting` and `decision` events.
 * `code` is `'ERR_WARD_MEMORY'`.
 */
export class MemoryLimitError extends Error implements MemoryLimitDetails {
  override readonly name = 'MemoryLimitError'
  readonly code = 'ERR_WARD_MEMORY'
  /** The ward's name. */
  readonly ward: string
  readonly limit: number | undefined
  readonly rss: number | undefined
  readonly pid: number
  readonly threadId: number | undefined

  constructor(ward: string, details: MemoryLimitDetails, options?: ErrorOptions) {
    const mb = (bytes: number): string => `${(bytes / 1_048_576).toFixed(1)} MiB`
    super(
      details.rss === undefined
        ? `ward '${ward}': its worker ran out of memory${details.limit === undefined ? '' : ` (heap limit ${mb(details.limit)})`}`
        : `ward '${ward}' used ${mb(details.rss)} of resident memory (process group ${details.pid}), over its limit of ${mb(details.limit ?? 0)}`,
      options,
    )
    this.ward = ward
    this.limit = details.limit
    this.rss = details.rss
    this.pid = details.pid
    this.threadId = details.threadId
  }
}

/** What a {@link WardStartError} says could not be started: a process ward's command, or a thread ward's module. */
export type StartTarget = { readonly command: string } | { readonly module: string }

/**
 * A ward that could not be started at all, a failure no restart heals: a process ward whose
 * command cannot be executed (`spawn` failed: `cause.code` `'ENOENT'`, not found; `'EACCES'`,
 * not executable), or a thread ward whose module cannot be loaded (not found, a syntax error,
 * its top-level code threw, a file type the worker cannot load: `cause` is the worker's error,
 * with its `code` such as `'ERR_MODULE_NOT_FOUND'`) or has no function export of the name asked
 * for. The run ends at once with a `gave-up` outcome (reason `'start'`, no restart spent) unless
 * `shouldRestart` returns `true` for it. `code` is `'ERR_WARD_START'`.
 */
export class WardStartError extends Error {
  override readonly name = 'WardStartError'
  readonly code = 'ERR_WARD_START'
  /** The ward's name. */
  readonly ward: string
  /** The command that could not be executed (a process ward), else `undefined`. */
  readonly command: string | undefined
  /** The module (its URL) that could not be loaded or lacks the export (a thread ward), else `undefined`. */
  readonly module: string | undefined
  declare readonly cause: Error

  /** `reason` says why for a person (default: the cause's message, and its `code`). */
  constructor(ward: string, target: StartTarget, cause: Error, reason?: string) {
    const what = 'command' in target ? `cannot start command '${target.command}'` : `cannot start module ${target.module}`
    const code = (cause as { code?: unknown }).code
    const why = reason ?? `${cause.message}${typeof code === 'string' && !cause.message.includes(code) ? ` (${code})` : ''}`
    super(`ward '${ward}': ${what}: ${why}`, { cause })
    this.ward = ward
    this.command = 'command' in target ? target.command : undefined
    this.module = 'module' in target ? target.module : undefined
  }
}

/**
 * The restart reason of a ward's failure: `'start'` for a start error (a {@link WardStartError},
 * or a nested run that gave up on one), `'memory'` for a {@link MemoryLimitError}, else
 * `'failed'`. The one place a failure is classed: a new kind of permanent start error is added
 * here. @internal
 */
export function failureReason(error: Error): 'failed' | 'memory' | 'start' {
  if (error instanceof WardStartError) return 'start'
  if (error instanceof GaveUpError && error.reason === 'start') return 'start'
  return error instanceof MemoryLimitError ? 'memory' : 'failed'
}

/**
 * Why a steward gave up: the restart limit was reached, the ward is `temporary`, or it could not
 * be started at all (`'start'`: a {@link WardStartError}, which no restart heals).
 */
export type GiveUpReason = 'limit' | 'temporary' | 'start'

/**
 * Ends the output stream of a run whose steward gave up, and is the
 * `error` of its `gave-up` outcome. `cause` is the last failure.
 * `code` is `'ERR_STEWARD_GAVE_UP'`.
 */
export class GaveUpError extends Error {
  override readonly name = 'GaveUpError'
  readonly code = 'ERR_STEWARD_GAVE_UP'
  /** The ward's name. */
  readonly ward: string
  /** Restarts made before giving up. */
  readonly restarts: number
  /** Why it gave up. */
  readonly reason: GiveUpReason
  declare readonly cause: Error

  constructor(ward: string, restarts: number, reason: GiveUpReason, cause: Error) {
    const why =
      reason === 'temporary'
        ? `its restart type is 'temporary'`
        : reason === 'start'
          ? `it could not be started, and restarting would not help`
          : `the restart limit was reached after ${restarts} restart${restarts === 1 ? '' : 's'}`
    super(`steward gave up on ward '${ward}': ${why}; last failure: ${cause.message}`, { cause })
    this.ward = ward
    this.restarts = restarts
    this.reason = reason
  }
}

/**
 * The abort reason an incarnation's signal carries when its steward
 * replaces it or the run stops. `code` is `'ERR_WARD_RETIRED'`.
 */
export class WardRetiredError extends Error {
  override readonly name = 'WardRetiredError'
  readonly code = 'ERR_WARD_RETIRED'
  /**
   * Why: `'hung'`, `'stalled'`, `'idle'`, `'failed'`, `'memory'`, `'returned'`, `'sibling'` or `'manual'` (an operator's restart) when a new
   * incarnation follows; `'completed'`, `'stopped'` or `'the steward gave up'` when the run ends.
   */
  readonly why: string

  constructor(ward: string, why: string, options?: ErrorOptions) {
    super(`ward '${ward}' was retired: ${why}`, options)
    this.why = why
  }
}

/**
 * Where a bad option was given: to `steward()`, to `supervisor()` (its own
 * options or one of its children), to a `start()`, or to `processWard()` or
 * `threadWard()`.
 */
export type OptionSite = 'steward' | 'supervisor' | 'start' | 'processWard' | 'threadWard'

/** What an {@link OptionTypeError} or an {@link OptionRangeError} says about the option. */
export interface OptionErrorDetails {
  /** The option's key, dotted for a nested one (`'decay.halfLife'`); `'options'` or `'child'` when the whole object is wrong. */
  readonly option: string
  /** The child's name when the option belongs to a supervisor's child. */
  readonly child: string | undefined
  /** Which call was given the option. */
  readonly where: OptionSite
  /**
   * What is wrong with it, as the message says it after the option's name:
   * `must be a positive integer or Infinity, got -1`. For an unknown key:
   * `is not a known option` (and `known` lists the known ones).
   */
  readonly problem: string
  /** The known key it is closest to, for an unknown key that looks misspelt (`timout` → `timeout`). */
  readonly suggestion: string | undefined
  /** For an unknown key: the keys known where it was given. */
  readonly known: readonly string[] | undefined
  /** The problem was found by the duration or size parser, whose messages put a colon after the name. */
  readonly parsed: boolean
}

/**
 * An option error's message without the call's prefix, naming the option as `word` does:
 * `option 'timeout' must be …` for the library, `key 'timeout' must be …` for a config file.
 * Every option error's message is this with `'option'` after its prefix. @internal
 */
export function optionMessage(details: OptionErrorDetails, word: 'option' | 'key'): string {
  const { option, problem, suggestion, known } = details
  if (known !== undefined) {
    const hint = suggestion === undefined ? ';' : `; did you mean '${suggestion}'?`
    return `unknown ${word} '${option}'${hint} known ${word}s: ${known.join(', ')}`
  }
  const subject = option === 'options' ? 'options' : option === 'child' ? 'a child' : `${word} '${option}'`
  return `${subject}${details.parsed ? ':' : ''} ${problem}`
}

/**
 * A bad option of the wrong type, or an unknown one (the message suggests
 * the known key it is closest to), or one that does not apply where it was
 * given (a child's `maxRestarts`). Thrown when the options are given, never
 * later. `code` is `'ERR_STEWARD_OPTION'`, as for {@link OptionRangeError}.
 */
export class OptionTypeError extends TypeError implements OptionErrorDetails {
  override readonly name = 'OptionTypeError'
  readonly code = 'ERR_STEWARD_OPTION'
  readonly option: string
  readonly child: string | undefined
  readonly where: OptionSite
  readonly problem: string
  readonly suggestion: string | undefined
  readonly known: readonly string[] | undefined
  readonly parsed: boolean

  /** `prefix` names the call (`steward`, `supervisor 'tree': child 'reader'`); the message is the prefix, then the option and its problem (`option 'timeout' must be …`). */
  constructor(prefix: string, details: OptionErrorDetails) {
    super(`${prefix}: ${optionMessage(details, 'option')}`)
    this.option = details.option
    this.child = details.child
    this.where = details.where
    this.problem = details.problem
    this.suggestion = details.suggestion
    this.known = details.known
    this.parsed = details.parsed
  }
}

/**
 * An option of the right type with a value out of range (a negative
 * duration, `pulseInterval` not below `timeout`, a restart type that does
 * not exist). Thrown when the options are given, never later.
 * `code` is `'ERR_STEWARD_OPTION'`, as for {@link OptionTypeError}.
 */
export class OptionRangeError extends RangeError implements OptionErrorDetails {
  override readonly name = 'OptionRangeError'
  readonly code = 'ERR_STEWARD_OPTION'
  readonly option: string
  readonly child: string | undefined
  readonly where: OptionSite
  readonly problem: string
  readonly suggestion: string | undefined
  readonly known: readonly string[] | undefined
  readonly parsed: boolean

  /** `prefix` names the call (`steward`, `supervisor 'tree': child 'reader'`); the message is the prefix, then the option and its problem (`option 'timeout' must be …`). */
  constructor(prefix: string, details: OptionErrorDetails) {
    super(`${prefix}: ${optionMessage(details, 'option')}`)
    this.option = details.option
    this.child = details.child
    this.where = details.where
    this.problem = details.problem
    this.suggestion = details.suggestion
    this.known = details.known
    this.parsed = details.parsed
  }
}

/** Either error a bad option throws: test `instanceof` each, or `code === 'ERR_STEWARD_OPTION'`. */
export type OptionError = OptionTypeError | OptionRangeError

/** The thrown value as an `Error` (wrapping non-errors in {@link NonErrorThrown}). */
export function asError(value: unknown): Error {
  return value instanceof Error ? value : new NonErrorThrown(value)
}

function safeString(value: unknown): string {
  try {
    return typeof value === 'string' ? JSON.stringify(value) : String(value)
  } catch {
    return Object.prototype.toString.call(value)
  }
}

/**
 * A supervisor was asked to act on a child it does not have (`restartChild`, `stopChild`,
 * `startChild`, `replaceChild`, `remove`). `code` is `'ERR_STEWARD_NO_CHILD'`; `known` lists the
 * names it has, in start order.
 */
export class UnknownChildError extends RangeError {
  override readonly name = 'UnknownChildError'
  readonly code = 'ERR_STEWARD_NO_CHILD'
  readonly supervisor: string
  readonly child: string
  readonly known: readonly string[]

  constructor(supervisor: string, child: string, known: readonly string[]) {
    super(`supervisor '${supervisor}' has no child '${child}' (its children: ${known.length === 0 ? 'none' : known.join(', ')})`)
    this.supervisor = supervisor
    this.child = child
    this.known = known
  }
}

/**
 * What `restartChild`, `startChild` or `replaceChild` with `{ wait: 'up' }` rejects with when the
 * incarnation it started ended before it was up: it failed (crashed, or missed its start deadline,
 * `startTimeout`), its run ended (gave up, was stopped, completed), or the supervisor began to stop.
 * The supervisor handles the child as it always does (a failure is restarted as its policy says);
 * only the caller's wait ends. `code` is `'ERR_STEWARD_CHILD_NOT_UP'`; `cause` is the failure, when
 * there is one.
 */
export class ChildNotUpError extends Error {
  override readonly name = 'ChildNotUpError'
  readonly code = 'ERR_STEWARD_CHILD_NOT_UP'
  readonly supervisor: string
  readonly child: string

  constructor(supervisor: string, child: string, why: string, cause?: Error) {
    super(`child '${child}' of supervisor '${supervisor}' did not come up: ${why}`, cause === undefined ? undefined : { cause })
    this.supervisor = supervisor
    this.child = child
  }
}
