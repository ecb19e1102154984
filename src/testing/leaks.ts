import { AsyncResource, createHook, executionAsyncId } from 'node:async_hooks'
import { EventEmitter, getEventListeners } from 'node:events'

/** What {@link checkLeaks} found still alive, all of it made by the checked code. */
export interface LeakReport {
  /** Abort listeners the checked code added (to any AbortSignal) that are still attached. */
  readonly abortListeners: number
  /** Promises the checked code created that never settled. */
  readonly pendingPromises: number
  /** Async resources (timers, sockets, child processes, file requests…) the checked code created that are still alive, by type. */
  readonly handles: readonly string[]
  /** Listeners the checked code added to an emitter older than the check (such as `process`) that are still attached, as `Class:event`. */
  readonly listeners: readonly string[]
}

/** The report of a run that left nothing behind. */
export const noLeaks: LeakReport = Object.freeze({ abortListeners: 0, pendingPromises: 0, handles: [], listeners: [] })

/**
 * Resource types that are not a leak when alive: callbacks already queued (microtasks, ticks),
 * the process-wide singletons a runtime makes on first use, whoever uses it first (the DNS
 * channel behind `listen(port, host)` and `lookup`), the job object of a synchronous
 * `crypto.randomBytes(n)`, done when the call returns but destroyed only when collected, and the
 * scope Node 22 and later bind a stream's end-of-stream callback to (`finished()`, an http request
 * with a `signal`), also destroyed only when collected: the stream's own handle (a socket, a pipe)
 * is what is counted.
 */
const notHandles = new Set(['PROMISE', 'Microtask', 'TickObject', 'DNSCHANNEL', 'RANDOMBYTESREQUEST', 'STREAM_END_OF_STREAM'])

/**
 * A timer of the runtime's own caches, made by whoever needs the cache first: the HTTP server's
 * `Date` header, computed once a second and cleared by an unref'd timer (`resetCache`).
 */
function runtimeCache(type: string, resource: unknown): boolean {
  if (type !== 'Timeout') return false
  const callback = (resource as { _onTimeout?: unknown })._onTimeout
  return typeof callback === 'function' && callback.name === 'resetCache'
}

/** The longest wait, in turns of the loop's check phase, for closed resources to report it. */
const settleTurns = 50

/**
 * Runs `body` and reports what it left behind. Only what `body` made is
 * counted: an async hook follows every resource created inside `body`'s
 * async context or by a resource created there (a callback of a timer it
 * set, a socket its server accepted, a promise it chained), so a runtime's,
 * a loader's or the test runner's own work (a file read, a timer) done
 * meanwhile is never blamed, while a resource `body` made and did not
 * release always is. Counted: abort listeners still attached, promises
 * never settled, resources never destroyed (an active timer, an open
 * socket or pipe, a child process, a worker, a request in flight) and
 * listeners still attached to an emitter that existed before `body` ran
 * (`process`, a long-lived server). A resource being closed when `body`
 * settles (a child process's pipes after its exit) is waited for, a few
 * turns of the event loop at most. Test-only: it patches
 * `EventTarget.prototype.addEventListener`, the emitter methods that add
 * listeners and `EventEmitter.init` while `body` runs.
 */
export async function checkLeaks<T>(body: () => Promise<T>): Promise<{ result: T; leaks: LeakReport }> {
  const scope = new AsyncResource('steward.checkLeaks')
  const inScope = new Set<number>([scope.asyncId()])
  const pendingPromises = new Map<number, string>()
  const liveResources = new Map<number, string>()
  const stacks = process.env.STEWARD_LEAK_STACKS === '1'
  let tracking = true
  const hook = createHook({
    init(asyncId, type, triggerAsyncId, resource) {
      if (!tracking || !inScope.has(triggerAsyncId)) return
      inScope.add(asyncId)
      if (type === 'PROMISE') pendingPromises.set(asyncId, stacks ? (new Error().stack ?? '') : '')
      else if (!notHandles.has(type) && !runtimeCache(type, resource)) liveResources.set(asyncId, stacks ? `${type} ${new Error().stack ?? ''}` : type)
    },
    promiseResolve(asyncId) {
      pendingPromises.delete(asyncId)
    },
    destroy(asyncId) {
      liveResources.delete(asyncId)
    },
  })
  const inBody = (): boolean => tracking && inScope.has(executionAsyncId())

  const abortAdds: Array<{ signal: AbortSignal; listener: unknown }> = []
  const emitterAdds: Array<{ emitter: EventEmitter; type: string | symbol; listener: unknown }> = []
  const newEmitters = new WeakSet<object>()
  const restore = patchAll(
    [EventTarget.prototype, 'addEventListener', (original) =>
      function (this: EventTarget, type: string, listener: unknown, options?: unknown): void {
        if (type === 'abort' && this instanceof AbortSignal && listener !== null && inBody()) abortAdds.push({ signal: this, listener })
        Reflect.apply(original, this, [type, listener, options])
      }],
    ...(['addListener', 'on', 'prependListener'] as const).map(
      (name) =>
        [EventEmitter.prototype, name, (original: Method) =>
          function (this: EventEmitter, type: string | symbol, listener: unknown): unknown {
            if (inBody() && !newEmitters.has(this)) emitterAdds.push({ emitter: this, type, listener })
            return Reflect.apply(original, this, [type, listener])
          }] as const,
    ),
    [EventEmitter, 'init', (original) =>
      function (this: object, ...args: unknown[]): unknown {
        if (inBody()) newEmitters.add(this)
        return Reflect.apply(original, this, args)
      }],
  )

  hook.enable()
  let result: T
  try {
    // The awaited promise is made outside the scope: V8's own await bookkeeping is not the body's.
    result = await new Promise<T>((resolve, reject) => scope.runInAsyncScope(() => void body().then(resolve, reject)))
  } finally {
    tracking = false
    restore()
    scope.emitDestroy()
  }
  try {
    // A resource being closed (a child process's pipes once it exited) reports its end after a
    // close phase, and destroy hooks run in a later check phase: wait for those, never for a leak
    // (a leaked timer or socket is never destroyed, so its wait ends at settleTurns).
    for (let turn = 0; turn < settleTurns && liveResources.size > 0; turn++) await new Promise((resolve) => setImmediate(resolve))
  } finally {
    hook.disable()
  }

  let abortListeners = 0
  for (const { signal, listener } of abortAdds) {
    if (getEventListeners(signal, 'abort').includes(listener as never)) abortListeners++
  }
  const listeners: string[] = []
  for (const { emitter, type, listener } of emitterAdds) {
    const attached = emitter.rawListeners(type).some((raw) => raw === listener || (raw as { listener?: unknown }).listener === listener)
    if (attached) listeners.push(`${emitter.constructor.name}:${String(type)}`)
  }
  const handles = [...liveResources.values()].map((entry) => entry.split(' ', 1)[0]!)
  if (stacks) {
    for (const stack of pendingPromises.values()) console.error('pending promise created', stack)
    for (const entry of liveResources.values()) console.error('live resource', entry)
  }
  return { result, leaks: { abortListeners, pendingPromises: pendingPromises.size, handles: handles.sort(), listeners } }
}

type Method = (...args: never[]) => unknown
type Patch = readonly [target: object, name: string, wrap: (original: Method) => Method]

/** Replaces each named method with its wrapper; the function returned puts every original back. */
function patchAll(...patches: Patch[]): () => void {
  const originals = patches.map(([target, name]) => [target, name, Object.getOwnPropertyDescriptor(target, name)!] as const)
  for (const [target, name, wrap] of patches) {
    const descriptor = Object.getOwnPropertyDescriptor(target, name)!
    Object.defineProperty(target, name, { ...descriptor, value: wrap(descriptor.value as Method) })
  }
  return () => {
    for (const [target, name, descriptor] of originals.reverse()) Object.defineProperty(target, name, descriptor)
  }
}
