import { AsyncResource, createHook } from 'node:async_hooks'
import { getEventListeners } from 'node:events'

/** What {@link trackLeaks} found still alive. */
export interface LeakReport {
  /** Abort listeners added while tracking that are still attached. */
  readonly abortListeners: number
  /** Promises created while tracking that never settled. */
  readonly pendingPromises: number
  /** Timers and other handles active now that were not before tracking. */
  readonly handles: readonly string[]
}

/**
 * Runs `body` and reports what it left behind: abort listeners (on any
 * AbortSignal) still attached, promises created inside `body` (or by code
 * it started) that never settled, and active handles such as real timers
 * that were not there before. Used by the tests after a run settles
 * (completed, stopped, gave up, aborted); a report of zeros means the run
 * released everything. Test-only: it patches `EventTarget.prototype` and
 * enables an async hook while `body` runs.
 */
export async function checkLeaks<T>(body: () => Promise<T>): Promise<{ result: T; leaks: LeakReport }> {
  const added: Array<{ signal: AbortSignal; listener: unknown }> = []
  const prototype = EventTarget.prototype
  const originalAdd = Object.getOwnPropertyDescriptor(prototype, 'addEventListener')!
  Object.defineProperty(prototype, 'addEventListener', {
    ...originalAdd,
    value: function (this: EventTarget, type: string, listener: unknown, options?: unknown): void {
      if (type === 'abort' && this instanceof AbortSignal && listener !== null) added.push({ signal: this, listener })
      Reflect.apply(originalAdd.value as (...args: unknown[]) => void, this, [type, listener, options])
    },
  })
  // Only promises descending from the scope count, not the test runner's own.
  const scope = new AsyncResource('steward.checkLeaks')
  const inScope = new Set<number>([scope.asyncId()])
  const pending = new Map<number, string>()
  const stacks = process.env.STEWARD_LEAK_STACKS === '1'
  const hook = createHook({
    init(asyncId, type, triggerAsyncId) {
      if (!inScope.has(triggerAsyncId)) return
      inScope.add(asyncId)
      if (type === 'PROMISE') pending.set(asyncId, stacks ? (new Error().stack ?? '') : '')
    },
    promiseResolve(asyncId) {
      pending.delete(asyncId)
    },
  })
  const handlesBefore = countHandles()
  hook.enable()
  let result: T
  try {
    // The awaited promise is made outside the scope: V8's own await bookkeeping is not the body's.
    result = await new Promise<T>((resolve, reject) => scope.runInAsyncScope(() => void body().then(resolve, reject)))
  } finally {
    hook.disable()
    Object.defineProperty(prototype, 'addEventListener', originalAdd)
    scope.emitDestroy()
  }
  let abortListeners = 0
  for (const { signal, listener } of added) {
    if (getEventListeners(signal, 'abort').includes(listener as never)) abortListeners++
  }
  // A handle the runtime is closing (a child process's, once it exited) is gone after the loop's
  // next close phase: two turns of the check phase pass one close phase whichever phase we are in.
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
  const handles: string[] = []
  for (const [type, count] of countHandles()) {
    const extra = count - (handlesBefore.get(type) ?? 0)
    for (let i = 0; i < extra; i++) handles.push(type)
  }
  if (stacks) for (const stack of pending.values()) console.error('pending promise created', stack)
  return { result, leaks: { abortListeners, pendingPromises: pending.size, handles } }
}

/** The report of a run that left nothing behind. */
export const noLeaks: LeakReport = Object.freeze({ abortListeners: 0, pendingPromises: 0, handles: [] })

function countHandles(): Map<string, number> {
  const counts = new Map<string, number>()
  for (const type of process.getActiveResourcesInfo()) counts.set(type, (counts.get(type) ?? 0) + 1)
  return counts
}
