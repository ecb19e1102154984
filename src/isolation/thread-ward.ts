import { existsSync } from 'node:fs'
import { isAbsolute } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Worker, type ResourceLimits } from 'node:worker_threads'
import type { Timer } from '../time/clock.js'
import { describe, toMs, type Duration } from '../time/duration.js'
import type { Output } from '../steward/output.js'
import type { Ward, WardContext } from '../steward/ward.js'
import { fromWire, reasonToWire, type FromWorker, type ToWorker } from './protocol.js'
import { streamOptionError } from './stream-option.js'
import { Mailbox } from './mailbox.js'
import { parsedOption, typeError, unknownKey, threadWardScope } from '../steward/validate.js'
import { wardHost } from '../steward/host.js'
import { markMemoryLimited } from '../steward/restart-reasons.js'
import { MemoryLimitError, WardRetiredError, WardStartError } from '../steward/errors.js'

/** Options of {@link threadWard}. */
export interface ThreadWardOptions {
  /** The module's export that is the ward. @default 'default' */
  readonly export?: string
  /**
   * Limits of the worker's heap and stack (`worker_threads` `resourceLimits`). A worker that runs
   * out of memory under them fails with a `MemoryLimitError` (restart reason `'memory'`).
   */
  readonly resourceLimits?: ResourceLimits
  /**
   * After the ward's signal aborts, how long the worker may take to finish
   * before it is terminated. A worker retired because it stopped beating (a
   * hang: stuck in a CPU loop, it could not answer) is terminated at once.
   * @default '1s'
   */
  readonly terminateAfter?: Duration
  /**
   * How often the steward side reads the worker's beat counter. A beat is
   * seen at most this late, so a hang is reported at most this late.
   * @default timeout / 20 (at least 1 ms)
   */
  readonly sampleEvery?: Duration
  /**
   * Whether the worker's ward yields outputs. `true`: the thread ward is a
   * stream ward (the worker runs as its consumer pulls: iterate the run).
   * `false`: a promise ward (the worker runs at once and is watched from the
   * start), as `processWard`'s default. A worker ward that returns an async
   * iterable under `stream: false` fails with a `TypeError` naming this
   * option; a worker ward that returns a promise under `stream: true` is fine.
   * @default false
   */
  readonly stream?: boolean
  /**
   * Keep a spare worker started (its module loaded) while the ward runs, so a
   * replacement after a hang or a stall skips the cold start. The spare is
   * terminated when the run ends.
   * @default false
   */
  readonly warm?: boolean
}

/** processWard's own options: named as such when given to threadWard. */
const processOnly = new Set(['heartbeat', 'env', 'cwd', 'shell', 'killSignal', 'killAfter', 'maxMemory', 'memoryEvery', 'onLine', 'maxLineLength', 'onSpawn'])
const known = new Set(['export', 'resourceLimits', 'terminateAfter', 'sampleEvery', 'stream', 'warm'])

/** Reasons of retirement after which the steward starts a new incarnation. */
const restarting = new Set(['hung', 'stalled', 'idle', 'failed', 'memory', 'start', 'returned', 'sibling', 'manual'])

/** Workers started by thread wards and not yet exited (for leak checks). @internal */
export const liveWorkers = new Set<Worker>()
/** How many workers thread wards have started (for tests of the warm spare). @internal */
export const started = { workers: 0 }

// The worker entry: the compiled runner beside this file. Run from source (the tests, under
// tsx, whose loader a worker does not get), it is the build's: `npm test` builds first.
const besideThis = new URL('./thread-runner.js', import.meta.url)
const runner = existsSync(fileURLToPath(besideThis)) ? besideThis : new URL('../../dist/isolation/thread-runner.js', import.meta.url)

/**
 * A ward that runs in a worker thread, so that code which blocks the event
 * loop (a CPU loop, a synchronous parser gone wrong) can be detected and
 * killed: the worker's beats are a counter in shared memory that the steward
 * side samples from the main thread, and a retired worker that does not
 * finish within `terminateAfter` is terminated. The module exports the ward
 * (`export default async function (ctx) { … }`, or an `async function*` with
 * `stream: true`); its context works as in-process: `signal` (aborted when
 * the incarnation is retired, with the same reason: a `WardRetiredError` with
 * its `why`, or the caller's stop reason), `beat(progress)`, `resume`,
 * `attempt`, `failuresHere`, `idle`, `output`, `poisoned` (live: false once
 * the incarnation commits a progress other than `resume` — a beat with
 * progress, a dead letter, a tagged output delivered — or is retired) and
 * `deadLetter`. Outputs cross to the main thread one per pull, so a slow
 * consumer pauses the worker; a ward that returns `ctx.output(value,
 * progress)` commits and completes with `value`. A worker that throws, exits
 * or runs out of memory is a failure like a throw. A module that cannot be
 * loaded (not found, a syntax error, its top-level code threw, a file type
 * the worker cannot load such as `.ts` on Node 20) or has no function export
 * of that name fails with a `WardStartError`, which ends the run without a
 * restart: do work that may fail for a while (a connection) inside the ward,
 * not at the module's top level.
 *
 * `module` is a `file:` URL or an absolute path. `T` and `P` are the types of
 * the worker ward's outputs and progress, as the caller declares them (they
 * cross a thread boundary unchecked).
 */
export function threadWard<T = unknown, P = unknown>(module: string | URL, options: ThreadWardOptions = {}): Ward<T, P> {
  const href = moduleHref(module)
  if (typeof options !== 'object' || options === null) throw typeError(threadWardScope, 'options', `must be an object, got ${describe(options)}`)
  for (const key of Object.keys(options)) {
    if (processOnly.has(key)) {
      const instead = key === 'maxMemory' ? " (limit a worker's memory with 'resourceLimits')" : ''
      throw typeError(threadWardScope, key, `applies only to processWard (a child process), not to a worker thread${instead}`)
    }
    if (!known.has(key)) throw unknownKey(threadWardScope, key, [...known])
  }
  const exportName = options.export ?? 'default'
  if (typeof exportName !== 'string' || exportName === '') throw typeError(threadWardScope, 'export', `must be a non-empty string, got ${describe(exportName)}`)
  const terminateAfter = parsedOption(threadWardScope, 'terminateAfter', () => toMs(options.terminateAfter ?? 1_000, 'terminateAfter'))
  const sampleEvery = options.sampleEvery === undefined ? undefined : parsedOption(threadWardScope, 'sampleEvery', () => toMs(options.sampleEvery, 'sampleEvery', { zero: false }))
  const resourceLimits = options.resourceLimits
  if (resourceLimits !== undefined && (typeof resourceLimits !== 'object' || resourceLimits === null)) {
    throw typeError(threadWardScope, 'resourceLimits', `must be an object, got ${describe(resourceLimits)}`)
  }

  const warm = options.warm ?? false
  if (typeof warm !== 'boolean') throw typeError(threadWardScope, 'warm', `must be a boolean, got ${describe(warm)}`)
  // One spare per run, handed from an incarnation to the next.
  const spares = new WeakMap<object, Spawned>()
  const spawn = (): Spawned => new Spawned(href, exportName, resourceLimits)
  const stream = options.stream ?? false
  if (typeof stream !== 'boolean') throw typeError(threadWardScope, 'stream', `must be a boolean, got ${describe(stream)}`)
  const supervise = async function* threadWard(ctx: WardContext): AsyncGenerator<T | Output<T>, unknown> {
    // With `warm`, the run (when the context is a steward's) keeps a spare for the next incarnation.
    const owner = warm ? ctx[wardHost] : undefined
    const spawned = (owner === undefined ? undefined : spares.get(owner)) ?? spawn()
    if (owner !== undefined) {
      spares.delete(owner)
      const spare = spawn()
      spares.set(owner, spare)
      // A run that ends while a spare waits (a stop during a backoff, say) still releases it.
      void owner.done.then(() => {
        if (spares.get(owner) === spare) spares.delete(owner)
        void spare.worker.terminate()
      })
    }
    const { worker } = spawned
    const beats = new Int32Array(spawned.beats)
    const mailbox = new Mailbox<Event>()
    spawned.adopt(mailbox.deliver)
    const send = (message: ToWorker): void => {
      try {
        worker.postMessage(message)
      } catch {
        // The worker is gone; its exit is in the inbox.
      }
    }

    // The heartbeat: beats counted in shared memory, seen from here.
    let seen = 0
    let sampler: Timer | undefined
    const every = sampleEvery ?? Math.max(1, ctx.timeout / 20)
    const sample = (): void => {
      const count = Atomics.load(beats, 0)
      if (count !== seen) {
        seen = count
        ctx.beat()
      }
      sampler = ctx.clock.setTimer(every, sample)
    }
    let killer: Timer | undefined
    const onAbort = (): void => {
      const reason: unknown = ctx.signal.reason
      // A worker that stopped beating cannot answer an abort (it is stuck in a loop): at once.
      if (reason instanceof WardRetiredError && reason.why === 'hung') return void worker.terminate()
      send({ type: 'abort', reason: reasonToWire(reason) })
      killer = ctx.clock.setTimer(terminateAfter, () => void worker.terminate())
    }
    ctx.signal.addEventListener('abort', onAbort, { once: true })
    let exited = false
    try {
      sample()
      let idle = false
      let started = false
      for (;;) {
        const next = mailbox.receive()
        // Retired while idle, the worker is asked to leave: wait for it to (bounded by terminateAfter).
        const message = idle ? await ctx.idle(next).catch((error: unknown) => (ctx.signal.aborted ? next : Promise.reject(error))) : await next
        switch (message.type) {
          case 'ready': {
            started = true
            const host = ctx[wardHost]
            if (host !== undefined) {
              host.noteSpawned({ threadId: spawned.threadId })
              host.emit({ type: 'spawned', ward: ctx.name, path: host.path, at: ctx.clock.now(), attempt: ctx.attempt, threadId: spawned.threadId })
            }
            send({
              type: 'start',
              name: ctx.name,
              attempt: ctx.attempt,
              resume: ctx.resume,
              failuresHere: ctx.failuresHere,
              poisoned: ctx.poisoned,
              pulseInterval: ctx.pulseInterval,
              timeout: ctx.timeout,
              stream,
            })
            send({ type: 'pull' })
            break
          }
          case 'load-failed':
            throw new WardStartError(ctx.name, { module: href }, fromWire(message.error))
          case 'progress':
            ctx.beat(message.progress)
            break
          case 'idle':
            idle = true
            break
          case 'busy':
            idle = false
            break
          case 'dead-letter':
            ctx.deadLetter(message.input, message.next)
            break
          case 'output':
            yield message.tagged ? ctx.output(message.value as T, message.progress) : (message.value as T)
            send({ type: 'pull' })
            break
          case 'done':
            // A ward that returned `ctx.output(value, progress)` commits `progress` and completes with `value`, as in-process.
            return message.tagged === true ? ctx.output(message.value as T, message.progress) : message.value
          case 'failed':
            throw fromWire(message.error)
          case 'stream-mismatch':
            throw streamOptionError('threadWard', ctx.name, { module: href }, "the worker's ward returned an async iterable (a stream ward)")
          case 'crash':
            if ((message.error as NodeJS.ErrnoException).code === 'ERR_WORKER_OUT_OF_MEMORY') {
              const heapMb = resourceLimits?.maxOldGenerationSizeMb
              const limit = heapMb === undefined ? undefined : heapMb * 1_048_576
              throw new MemoryLimitError(ctx.name, { limit, rss: undefined, pid: process.pid, threadId: spawned.threadId }, { cause: message.error })
            }
            throw message.error
          case 'exit':
            exited = true
            if (ctx.signal.aborted) return
            throw new Error(`threadWard: worker exited with code ${message.code}${started ? '' : ' before it was ready'}`)
        }
      }
    } finally {
      ctx.signal.removeEventListener('abort', onAbort)
      sampler?.cancel()
      if (!exited && killer !== undefined) {
        // Asked to leave (not hung), perhaps while waiting on its consumer: the worker finishes on
        // its own (its stream ward closed, its `finally` run), or `killer` terminates it at terminateAfter.
        while ((await mailbox.receive()).type !== 'exit') {
          // what it says while it leaves is not delivered
        }
        exited = true
      }
      killer?.cancel()
      if (!exited) await worker.terminate()
      spawned.release()
      // The spare is for a replacement; if none follows, it goes now, before the run settles.
      if (owner !== undefined) {
        const reason: unknown = ctx.signal.reason
        const replaced = reason instanceof WardRetiredError && restarting.has(reason.why)
        const spare = spares.get(owner)
        if (!replaced && spare !== undefined) {
          spares.delete(owner)
          await spare.worker.terminate()
        }
      }
    }
  }

  // The run keeps progress untyped: `T` and `P` are what the caller declares the ward yields and commits.
  // A promise ward: the same supervision, drained at once (the worker yields nothing); its result is the worker ward's.
  const ward: Ward<T, P> = stream
    ? (supervise as Ward<T, P>)
    : async function threadWard(ctx: WardContext): Promise<unknown> {
        const steps = supervise(ctx)
        for (;;) {
          const step = await steps.next()
          if (step.done === true) return step.value
        }
      }
  // A worker with resourceLimits that runs out of memory is restarted for 'memory'.
  return resourceLimits === undefined ? ward : markMemoryLimited(ward)
}

/** What a worker tells its steward side: its messages, an uncaught error, its exit. */
type Event = FromWorker | { type: 'exit'; code: number } | { type: 'crash'; error: Error }

/**
 * A started worker and its beat counter. Until an incarnation adopts it (a spare waits), its
 * events are kept, so that neither its `ready` nor an early failure is lost.
 */
class Spawned {
  readonly worker: Worker
  readonly beats = new SharedArrayBuffer(4)
  /** The worker's `threadId` (the worker's own reads -1 once it exited). */
  readonly threadId: number
  #kept: Event[] = []
  #deliver: (event: Event) => void = (event) => this.#kept.push(event)
  readonly #onMessage = (message: FromWorker): void => this.#deliver(message)
  readonly #onError = (error: Error): void => this.#deliver({ type: 'crash', error })
  readonly #onExit = (code: number): void => {
    liveWorkers.delete(this.worker)
    this.#deliver({ type: 'exit', code })
  }

  constructor(module: string, exportName: string, resourceLimits: ResourceLimits | undefined) {
    this.worker = new Worker(runner, {
      workerData: { module, exportName, beats: this.beats },
      ...(resourceLimits === undefined ? {} : { resourceLimits }),
    })
    this.threadId = this.worker.threadId
    liveWorkers.add(this.worker)
    started.workers++
    this.worker.on('message', this.#onMessage)
    this.worker.on('error', this.#onError)
    this.worker.on('exit', this.#onExit)
  }

  /** From now on, events go to `deliver` (the kept ones first). */
  adopt(deliver: (event: Event) => void): void {
    this.#deliver = deliver
    for (const event of this.#kept.splice(0)) deliver(event)
  }

  release(): void {
    this.worker.off('message', this.#onMessage)
    this.worker.off('error', this.#onError)
    if (!liveWorkers.has(this.worker)) this.worker.off('exit', this.#onExit)
  }
}

function moduleHref(module: string | URL): string {
  if (module instanceof URL) return module.href
  if (typeof module !== 'string') throw new TypeError(`threadWard: module must be a file: URL or an absolute path, got ${describe(module)}`)
  if (module.startsWith('file:')) return module
  if (isAbsolute(module)) return pathToFileURL(module).href
  throw new TypeError(`threadWard: module must be a file: URL or an absolute path, got ${JSON.stringify(module)}`)
}
