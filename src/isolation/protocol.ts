// Messages between a thread ward's steward side (main thread) and its worker. @internal
import { asError, WardRetiredError } from '../steward/errors.js'

/** A serialised error: what crosses the thread boundary of a failure. */
export interface WireError {
  readonly name: string
  readonly message: string
  readonly stack?: string
  readonly code?: string
  /** A `WardRetiredError`'s `why`: the worker's signal is aborted with a `WardRetiredError` again. */
  readonly why?: string
}

/** An abort reason on the wire: an error, or a value that clones as it is (a caller's `stop('shutdown')`). */
export type WireReason = { readonly error: WireError } | { readonly value: unknown }

/** Main → worker. */
export type ToWorker =
  | {
      readonly type: 'start'
      readonly name: string
      readonly attempt: number
      readonly resume: unknown
      readonly failuresHere: number
      /** `ctx.poisoned` as the incarnation starts; the worker's own turns false as in-process. */
      readonly poisoned: boolean
      readonly pulseInterval: number
      readonly timeout: number
      /** The thread ward's `stream` option: a ward that returns an async iterable without it is refused. */
      readonly stream: boolean
    }
  | { readonly type: 'pull' }
  | { readonly type: 'abort'; readonly reason: WireReason }

/** Worker → main. */
export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'progress'; readonly progress: unknown }
  | { readonly type: 'idle' }
  | { readonly type: 'busy' }
  | { readonly type: 'output'; readonly value: unknown; readonly progress?: unknown; readonly tagged: boolean }
  | { readonly type: 'dead-letter'; readonly input: unknown; readonly next: unknown }
  /** The ward ended; `tagged`: it returned `ctx.output(value, progress)`. */
  | { readonly type: 'done'; readonly value?: unknown; readonly progress?: unknown; readonly tagged?: boolean }
  | { readonly type: 'failed'; readonly error: WireError }
  /** The ward returned an async iterable, and the thread ward was made without `stream: true`. */
  | { readonly type: 'stream-mismatch' }
  /** The ward's module could not be loaded, or has no function export of the name asked for. */
  | { readonly type: 'load-failed'; readonly error: WireError }

/** An error as it crosses: a non-Error thrown becomes a `NonErrorThrown` first, as in-process. */
export function toWire(thrown: unknown): WireError {
  const error = asError(thrown)
  const code = (error as { code?: unknown }).code
  return {
    name: error.name,
    message: error.message,
    ...(error.stack === undefined ? {} : { stack: error.stack }),
    ...(typeof code === 'string' ? { code } : {}),
    // By name, not class: the run may come from another copy of the library than this file.
    ...(error.name === 'WardRetiredError' && typeof (error as { why?: unknown }).why === 'string' ? { why: (error as WardRetiredError).why } : {}),
  }
}

/** An abort reason as it crosses: an error as {@link toWire} sends it, anything else as it is if it clones. */
export function reasonToWire(reason: unknown): WireReason {
  if (!(reason instanceof Error)) {
    try {
      return { value: structuredClone(reason) }
    } catch {
      // Not cloneable (a function, a class instance with private state): as an error.
    }
  }
  return { error: toWire(reason) }
}

export function reasonFromWire(wire: WireReason): unknown {
  return 'error' in wire ? fromWire(wire.error) : wire.value
}

export function fromWire(wire: WireError): Error {
  if (wire.why !== undefined) {
    const retired = new WardRetiredError('', wire.why)
    retired.message = wire.message
    if (wire.stack !== undefined) retired.stack = wire.stack
    return retired
  }
  const error = new Error(wire.message)
  error.name = wire.name
  if (wire.stack !== undefined) error.stack = wire.stack
  if (wire.code !== undefined) (error as Error & { code: string }).code = wire.code
  return error
}
