// The entry of a thread ward's worker: loads the ward module, waits for `start`, runs the ward
// with a context whose beats are a counter in shared memory (so a worker stuck in a CPU loop is
// seen to stop beating from the main thread), and answers each `pull` with one output.
//
// The context reads as in-process: `poisoned` is live (true until this incarnation commits a
// progress other than `resume`: a beat with progress, a dead letter, or a tagged output delivered
// — which the worker learns from the next pull, the only time its generator resumes — and false
// once it is retired), and `output` and `deadLetter` refuse an `undefined` progress alike.
import { parentPort, workerData } from 'node:worker_threads'
import { systemClock } from '../time/clock.js'
import type { Output } from '../steward/output.js'
import { sameProgress } from '../steward/progress.js'
import type { WardContext } from '../steward/ward.js'
import { idleWait } from './idle-wait.js'
import { reasonFromWire, toWire, type FromWorker, type ToWorker } from './protocol.js'

interface Data {
  readonly module: string
  readonly exportName: string
  readonly beats: SharedArrayBuffer
}

const port = parentPort!
const { module, exportName, beats: buffer } = workerData as Data
const beats = new Int32Array(buffer)
const post = (message: FromWorker): void => port.postMessage(message)

/** An output made in the worker; crosses to the main thread as `{ value, progress }`. */
class WorkerOutput<T> {
  constructor(
    readonly value: T,
    readonly progress: unknown,
  ) {}
}

// A module that cannot be loaded, or lacks the export, is a load failure (the steward side's
// WardStartError: not retried), told apart from a failure of the ward itself.
let ward: unknown
try {
  const loaded = (await import(module)) as Record<string, unknown>
  ward = loaded[exportName]
  if (typeof ward !== 'function') {
    const functions = Object.keys(loaded).filter((name) => typeof loaded[name] === 'function')
    const found = functions.length === 0 ? 'it exports no function' : `its function exports: ${functions.join(', ')}`
    post({ type: 'load-failed', error: toWire(new TypeError(`no function export '${exportName}' (${found})`)) })
  } else {
    post({ type: 'ready' })
  }
} catch (error) {
  post({ type: 'load-failed', error: toWire(error) })
}

const controller = new AbortController()
let pulls = 0
let wakePull: (() => void) | undefined
/** What this incarnation committed last (its `resume` until it commits): `poisoned` compares it. */
let committed: unknown
/** The progress of the tagged output last sent: committed when the next pull shows it was delivered. */
let delivering: { readonly progress: unknown } | undefined

port.on('message', (message: ToWorker) => {
  if (message.type === 'start') void run(message)
  else if (message.type === 'pull') {
    if (delivering !== undefined) {
      committed = delivering.progress
      delivering = undefined
    }
    pulls++
    wakePull?.()
  } else if (message.type === 'abort') {
    controller.abort(reasonFromWire(message.reason))
    wakePull?.()
  }
})

/**
 * The next pull: resolves when the steward side asks for an output, or rejects once it asked the
 * worker to leave (a stream ward suspended at a `yield` is then closed, as in-process).
 */
function nextPull(): Promise<void> {
  return new Promise((resolve, reject) => {
    const take = (): boolean => {
      if (controller.signal.aborted) reject(controller.signal.reason)
      else if (pulls > 0) {
        pulls--
        resolve()
      } else return false
      return true
    }
    if (!take()) {
      wakePull = () => {
        if (take()) wakePull = undefined
      }
    }
  })
}

async function run(start: Extract<ToWorker, { type: 'start' }>): Promise<void> {
  committed = start.resume
  const ctx: WardContext = {
    name: start.name,
    signal: controller.signal,
    attempt: start.attempt,
    resume: start.resume,
    failuresHere: start.failuresHere,
    get poisoned(): boolean {
      return start.poisoned && !controller.signal.aborted && sameProgress(committed, start.resume)
    },
    pulseInterval: start.pulseInterval,
    timeout: start.timeout,
    clock: systemClock,
    beat(progress?: unknown): void {
      Atomics.add(beats, 0, 1)
      if (progress !== undefined) {
        committed = progress
        post({ type: 'progress', progress })
      }
    },
    idle<V>(input: PromiseLike<V> | V | ((signal: AbortSignal) => PromiseLike<V> | V)): Promise<V> {
      if (controller.signal.aborted) return Promise.reject(controller.signal.reason)
      if (typeof input === 'function') {
        try {
          input = (input as (signal: AbortSignal) => PromiseLike<V> | V)(controller.signal)
        } catch (error) {
          return Promise.reject(error)
        }
      }
      post({ type: 'idle' })
      const waiting = Promise.resolve(input)
      // The wait ends when the steward asks the worker to stop, whether or not the input can be cancelled.
      return idleWait(waiting, controller.signal, () => post({ type: 'busy' }))
    },
    output<T>(value: T, progress: unknown): Output<T> {
      if (progress === undefined) throw new TypeError('ctx.output(value, progress): progress must not be undefined (it is what the next incarnation resumes from)')
      return new WorkerOutput(value, progress)
    },
    deadLetter(input: unknown, next: unknown): void {
      if (next === undefined) throw new TypeError('ctx.deadLetter(input, next): next (the progress after the input) must not be undefined')
      committed = next
      post({ type: 'dead-letter', input, next })
    },
  }
  try {
    const result = (ward as (ctx: WardContext) => unknown)(ctx)
    let returned: unknown
    if (result !== null && typeof result === 'object' && Symbol.asyncIterator in result) {
      if (!start.stream) {
        // The steward side makes the error (it names the option): nothing of the stream runs.
        post({ type: 'stream-mismatch' })
        port.close()
        return
      }
      const iterator = (result as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      for (;;) {
        const left = await nextPull().then(
          () => false,
          () => true,
        )
        if (left) {
          // Retired while it waited on its consumer: its `finally` runs, as an in-process stream
          // ward's does when the steward closes it; the steward side waits for it (up to terminateAfter).
          await iterator.return?.()
          break
        }
        const step = await iterator.next()
        if (step.done === true) {
          returned = step.value
          break
        }
        const value = step.value
        if (value instanceof WorkerOutput) {
          post({ type: 'output', value: value.value, progress: value.progress, tagged: true })
          delivering = { progress: value.progress }
        } else {
          post({ type: 'output', value, tagged: false })
        }
      }
    } else {
      returned = await result
    }
    done(returned)
  } catch (error) {
    post({ type: 'failed', error: toWire(error) })
  }
  port.close()
}

/** The ward ended: `ctx.output(value, progress)` crosses as the run's commit and value, a plain value if it clones. */
function done(returned: unknown): void {
  if (returned instanceof WorkerOutput) return post({ type: 'done', value: returned.value, progress: returned.progress, tagged: true })
  try {
    post(returned === undefined ? { type: 'done' } : { type: 'done', value: returned })
  } catch {
    post({ type: 'done' }) // a value that does not clone (a function, a handle) stays in the worker
  }
}
