// Messages between a thread ward's steward side (main thread) and its worker. @internal

/** A serialised error: what crosses the thread boundary of a failure. */
export interface WireError {
  readonly name: string
  readonly message: string
  readonly stack?: string
  readonly code?: string
}

/** Main → worker. */
export type ToWorker =
  | {
      readonly type: 'start'
      readonly name: string
      readonly attempt: number
      readonly resume: unknown
      readonly failuresHere: number
      readonly poisoned: boolean
      readonly pulseInterval: number
      readonly timeout: number
    }
  | { readonly type: 'pull' }
  | { readonly type: 'abort'; readonly reason: WireError }

/** Worker → main. */
export type FromWorker =
  | { readonly type: 'ready' }
  | { readonly type: 'progress'; readonly progress: unknown }
  | { readonly type: 'idle' }
  | { readonly type: 'busy' }
  | { readonly type: 'output'; readonly value: unknown; readonly progress?: unknown; readonly tagged: boolean }
  | { readonly type: 'dead-letter'; readonly input: unknown; readonly next: unknown }
  | { readonly type: 'done' }
  | { readonly type: 'failed'; readonly error: WireError }
  /** The ward's module could not be loaded, or has no function export of the name asked for. */
  | { readonly type: 'load-failed'; readonly error: WireError }

export function toWire(error: unknown): WireError {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code
    return {
      name: error.name,
      message: error.message,
      ...(error.stack === undefined ? {} : { stack: error.stack }),
      ...(typeof code === 'string' ? { code } : {}),
    }
  }
  return { name: 'Error', message: String(error) }
}

export function fromWire(wire: WireError): Error {
  const error = new Error(wire.message)
  error.name = wire.name
  if (wire.stack !== undefined) error.stack = wire.stack
  if (wire.code !== undefined) (error as Error & { code: string }).code = wire.code
  return error
}
