// The child-process side of a process ward with heartbeat 'ipc', for Node children:
//   import { beat, output, idle, stopSignal, resume, attempt } from 'steward/child'
// Every function is a no-op when the process was not started by a process ward.
import { idleWait } from './idle-wait.js'

/** Messages a child sends its steward over IPC. @internal */
export type ChildMessage =
  | { readonly steward: 'beat'; readonly progress?: unknown }
  | { readonly steward: 'output'; readonly value: unknown; readonly progress?: unknown }
  | { readonly steward: 'idle' }
  | { readonly steward: 'busy' }

/** Messages a process ward sends its child over IPC. @internal */
export type ToChild = { readonly steward: 'stop' }

function send(message: ChildMessage): void {
  if (typeof process.send === 'function' && process.connected) process.send(message)
}

/** A heartbeat, optionally with progress (structured-cloneable); the next process gets it as `resume`. */
export function beat(progress?: unknown): void {
  send(progress === undefined ? { steward: 'beat' } : { steward: 'beat', progress })
}

/**
 * An output for the process ward's stream (option `stream: true`), with the
 * progress its delivery commits, as `ctx.output` does in-process.
 */
export function output(value: unknown, progress?: unknown): void {
  send(progress === undefined ? { steward: 'output', value } : { steward: 'output', value, progress })
}

let stopping: AbortController | undefined

/**
 * A signal aborted when the steward asks this process to stop (a process ward
 * with heartbeat `'ipc'` says so over IPC just before it sends `killSignal`),
 * for the child's own waits: `fetch(url, { signal: stopSignal() })`. Made on
 * first call; listening does not keep the process alive. Never aborts in a
 * process not started by a process ward.
 */
export function stopSignal(): AbortSignal {
  if (stopping !== undefined) return stopping.signal
  const controller = (stopping = new AbortController())
  if (typeof process.send === 'function' && process.channel !== undefined) {
    process.on('message', (message: unknown) => {
      if (typeof message === 'object' && message !== null && (message as { steward?: unknown }).steward === 'stop') {
        controller.abort(new Error('steward asked this process to stop'))
      }
    })
    // A 'message' listener keeps the IPC channel, and so the process, alive: this one must not.
    process.channel.unref()
  }
  return controller.signal
}

/**
 * Waits for input, as `ctx.idle` does in-process: until `input` settles the
 * child is waiting for input — healthy without beating — and its steward's
 * deadline starts afresh when it settles. `input` is a promise or a function
 * given {@link stopSignal} (so the wait itself is cancelled). The returned
 * promise rejects at once when the steward asks this process to stop, so
 * `await idle(…)` unwinds and the child can leave on its own.
 */
export function idle<V>(input: PromiseLike<V> | V | ((signal: AbortSignal) => PromiseLike<V> | V)): Promise<V> {
  const signal = stopSignal()
  if (signal.aborted) return Promise.reject(signal.reason)
  if (typeof input === 'function') {
    try {
      input = (input as (signal: AbortSignal) => PromiseLike<V> | V)(signal)
    } catch (error) {
      return Promise.reject(error)
    }
  }
  const waiting = Promise.resolve(input)
  send({ steward: 'idle' })
  return idleWait(waiting, signal, () => send({ steward: 'busy' }))
}

function fromEnvironment(name: string): unknown {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return undefined
  try {
    return JSON.parse(raw) as unknown
  } catch {
    return undefined
  }
}

/** The progress the previous process reported last (`STEWARD_RESUME`, JSON), or `undefined`. */
export const resume: unknown = fromEnvironment('STEWARD_RESUME')

/** This process's attempt number (`STEWARD_ATTEMPT`): 1 for the first. */
export const attempt: number = Number(process.env.STEWARD_ATTEMPT ?? 1)
