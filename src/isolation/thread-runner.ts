// The entry of a thread ward's worker: loads the ward module, waits for `start`, runs the ward
// with a context whose beats are a counter in shared memory (so a worker stuck in a CPU loop is
// seen to stop beating from the main thread), and answers each `pull` with one output.
import { parentPort, workerData } from 'node:worker_threads'
import { systemClock } from '../time/clock.js'
import type { Output } from '../steward/output.js'
import type { WardContext } from '../steward/ward.js'
import { idleWait } from './idle-wait.js'
import { fromWire, toWire, type FromWorker, type ToWorker } from './protocol.js'

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

port.on('message', (message: ToWorker) => {
  if (message.type === 'start') void run(message)
  else if (message.type === 'pull') {
    pulls++
    wakePull?.()
  } else if (message.type === 'abort') {
    controller.abort(fromWire(message.reason))
  }
})

function nextPull(): Promise<void> {
  if (pulls > 0) {
    pulls--
    return Promise.resolve()
  }
  return new Promise((resolve) => {
    wakePull = () => {
      wakePull = undefined
      pulls--
      resolve()
    }
  })
}

async function run(start: Extract<ToWorker, { type: 'start' }>): Promise<void> {
  const ctx: WardContext = {
    name: start.name,
    signal: controller.signal,
    attempt: start.attempt,
    resume: start.resume,
    failuresHere: start.failuresHere,
    poisoned: start.poisoned,
    pulseInterval: start.pulseInterval,
    timeout: start.timeout,
    clock: systemClock,
    beat(progress?: unknown): void {
      Atomics.add(beats, 0, 1)
      if (progress !== undefined) post({ type: 'progress', progress })
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
      return new WorkerOutput(value, progress)
    },
    deadLetter(input: unknown, next: unknown): void {
      post({ type: 'dead-letter', input, next })
    },
  }
  try {
    const result = (ward as (ctx: WardContext) => unknown)(ctx)
    if (result !== null && typeof result === 'object' && Symbol.asyncIterator in result) {
      const iterator = (result as AsyncIterable<unknown>)[Symbol.asyncIterator]()
      for (;;) {
        await nextPull()
        const step = await iterator.next()
        if (step.done === true) break
        const value = step.value
        if (value instanceof WorkerOutput) post({ type: 'output', value: value.value, progress: value.progress, tagged: true })
        else post({ type: 'output', value, tagged: false })
      }
    } else {
      await result
    }
    post({ type: 'done' })
  } catch (error) {
    post({ type: 'failed', error: toWire(error) })
  }
  port.close()
}
