// The child-process side of a process ward with heartbeat 'ipc', for Node children:
//   import { beat, output, idle, deadLetter, poisoned, stopSignal, resume, attempt, failuresHere } from 'steward/child'
// What an in-process ward reads from its context, a child reads here. Every function is a no-op
// (and `poisoned()` false) when the process was not started by a process ward.
import { sameProgress } from '../steward/progress.js'
import { idleWait } from './idle-wait.js'

/** Messages a child sends its steward over IPC. @internal */
export type ChildMessage =
  | { readonly steward: 'beat'; readonly progress?: unknown }
  | { readonly steward: 'output'; readonly value: unknown; readonly progress?: unknown }
  | { readonly steward: 'idle' }
  | { readonly steward: 'busy' }
  | { readonly steward: 'dead-letter'; readonly input: unknown; readonly next: unknown }

/** Messages a process ward sends its child over IPC. @internal */
export type ToChild = { readonly steward: 'stop' }

function send(message: ChildMessage): void {
  // With a callback, a failed send (EPIPE: the steward's process died, its guardian stops this
  // one) is handed to it instead of crashing this process with an unhandled 'error'.
  if (typeof process.send === 'function' && process.connected) process.send(message, undefined, {}, ignoreSendError)
}

function ignoreSendError(): void {}

/** A heartbeat, optionally with progress (JSON data); the next process gets it as `resume`. */
export function beat(progress?: unknown): void {
  if (progress !== undefined) committed = progress
  send(progress === undefined ? { steward: 'beat' } : { steward: 'beat', progress })
}

/**
 * An output for the process ward's stream (option `stream: true`), with the
 * progress its delivery commits, as `ctx.output` does in-process. A process
 * ward made with `stream: false` (the default) fails with a `TypeError`
 * naming the option when it receives one.
 */
export function output(value: unknown, progress?: unknown): void {
  // The child does not wait for the delivery: for `poisoned()`, it has moved on once it sent it.
  if (progress !== undefined) committed = progress
  send(progress === undefined ? { steward: 'output', value } : { steward: 'output', value, progress })
}

/**
 * Dead-letters the input at the current progress and commits `next`, the
 * progress after it, as `ctx.deadLetter` does in-process: the run emits a
 * `dead-letter` event and calls its `onDeadLetter` option. Use it to skip an
 * input when {@link poisoned} says it is poison. `next` must not be
 * `undefined` (JSON data, as progress).
 */
export function deadLetter(input: unknown, next: unknown): void {
  if (next === undefined) throw new TypeError('deadLetter(input, next): next (the progress after the input) must not be undefined')
  committed = next
  send({ steward: 'dead-letter', input, next })
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

/**
 * How many processes in a row failed at the progress in {@link resume}
 * (`STEWARD_FAILURES_HERE`; 0 when the last one did not fail there), as
 * `ctx.failuresHere`.
 */
export const failuresHere: number = Number(process.env.STEWARD_FAILURES_HERE ?? 0)

/** What this process committed last: its `resume` until it beats with progress, dead-letters or outputs. */
let committed: unknown = resume
const poisonedAtStart = process.env.STEWARD_POISONED === '1'

/**
 * Whether the input at the progress in {@link resume} is poison: this process
 * started where `poisonAfter` processes in a row failed (`STEWARD_POISONED`),
 * and has not moved on since, as `ctx.poisoned` in-process (a function: a
 * module's export cannot be a getter). It turns false once this process beats
 * with a progress other than `resume`, dead-letters, or sends an output with
 * progress, and once its steward asks it to stop. Skip the input with
 * {@link deadLetter}: `if (poisoned()) deadLetter(input, position + 1)`.
 */
export function poisoned(): boolean {
  return poisonedAtStart && stopping?.signal.aborted !== true && sameProgress(committed, resume)
}
