import { test } from 'node:test'
import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { or } from './or.js'
import { orDone, take } from './or-done.js'
import { bridge } from './bridge.js'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/** A full garbage collection, without starting node with --expose-gc. */
function collectGarbage(): void {
  setFlagsFromString('--expose-gc')
  ;(runInNewContext('gc') as () => void)()
}

const listeners = (signal: AbortSignal): number => getEventListeners(signal, 'abort').length

/** An async iterable over `values` that records whether it was closed early. */
function source<T>(values: T[]): AsyncIterable<T> & { closed: boolean; pulled: number } {
  const state = {
    closed: false,
    pulled: 0,
    async *[Symbol.asyncIterator](): AsyncGenerator<T> {
      try {
        for (const value of values) {
          state.pulled++
          yield value
        }
      } finally {
        state.closed = true
      }
    },
  }
  return state
}

/** A source whose next() never answers until released. */
function stuck(): AsyncIterable<number> & { returned: boolean } {
  const state = {
    returned: false,
    [Symbol.asyncIterator]: () => ({
      next: () => new Promise<IteratorResult<number>>(() => {}),
      return: () => {
        state.returned = true
        return Promise.resolve({ done: true as const, value: undefined })
      },
    }),
  }
  return state
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

test('or aborts with the first reason and removes its listeners from every input', () => {
  const a = new AbortController()
  const b = new AbortController()
  const c = new AbortController()
  const d = new AbortController()
  const combined = or(a.signal, b.signal, c.signal, d.signal)
  assert.equal(combined.aborted, false)
  assert.deepEqual([a, b, c, d].map((x) => listeners(x.signal)), [1, 1, 1, 1])
  c.abort('third')
  assert.equal(combined.aborted, true)
  assert.equal(combined.reason, 'third')
  assert.deepEqual([a, b, c, d].map((x) => listeners(x.signal)), [0, 0, 0, 0])
  a.abort('late')
  assert.equal(combined.reason, 'third')
})

test('or: the output aborts when an input does, however many collections ran while only the output was held', async () => {
  const input = new AbortController()
  const output = or(input.signal, new AbortController().signal)
  // Nothing but `output` (and the inputs' weak links) refers to its controller now.
  for (let i = 0; i < 3; i++) {
    collectGarbage()
    await new Promise((resolve) => setImmediate(resolve))
  }
  input.abort('stop')
  assert.equal(output.aborted, true)
  assert.equal(output.reason, 'stop')
})

test('or: zero inputs never aborts, an aborted input aborts at once, dispose() detaches', () => {
  assert.equal(or().aborted, false)
  const done = new AbortController()
  done.abort('already')
  const parent = new AbortController()
  const early = or(parent.signal, done.signal)
  assert.equal(early.reason, 'already')
  assert.equal(listeners(parent.signal), 0)
  const live = or(parent.signal)
  assert.equal(listeners(parent.signal), 1)
  live.dispose()
  live[Symbol.dispose]()
  assert.equal(listeners(parent.signal), 0)
  parent.abort()
  assert.equal(live.aborted, false, 'a disposed signal no longer follows its inputs')
  assert.throws(() => or('x' as never), /argument 0 is not an AbortSignal/)
})

test('or over a long-lived parent keeps no listener per disposed child', () => {
  const parent = new AbortController()
  for (let i = 0; i < 10_000; i++) or(parent.signal, new AbortController().signal).dispose()
  assert.equal(listeners(parent.signal), 0)
})

test('orDone passes values through and ends with the source', async () => {
  const signal = new AbortController().signal
  const values = source([1, 2, 3])
  const out: number[] = []
  for await (const value of orDone(signal, values)) out.push(value)
  assert.deepEqual(out, [1, 2, 3])
  assert.equal(listeners(signal), 0)
})

test('orDone: leaving early closes the source and removes the listener', async () => {
  const signal = new AbortController().signal
  const values = source([1, 2, 3, 4])
  for await (const value of orDone(signal, values)) if (value === 2) break
  await tick()
  assert.equal(values.closed, true)
  assert.equal(values.pulled, 2)
  assert.equal(listeners(signal), 0)
})

test('orDone: an abort ends a pending next() at once and releases everything', async () => {
  const controller = new AbortController()
  const values = stuck()
  const iterator = orDone(controller.signal, values)
  const pending = iterator.next()
  await tick()
  assert.equal(listeners(controller.signal), 1)
  controller.abort()
  assert.deepEqual(await pending, { done: true, value: undefined })
  await tick()
  assert.equal(values.returned, true)
  assert.equal(listeners(controller.signal), 0)
  assert.deepEqual(await iterator.next(), { done: true, value: undefined })
})

test('orDone: a source error is passed on and releases the listener', async () => {
  const signal = new AbortController().signal
  const failing = (async function* () {
    yield 1
    throw new Error('source broke')
  })()
  const out: number[] = []
  await assert.rejects(async () => {
    for await (const value of orDone(signal, failing)) out.push(value)
  }, /source broke/)
  assert.deepEqual(out, [1])
  assert.equal(listeners(signal), 0)
})

test('take returns the first n values and closes the source', async () => {
  const signal = new AbortController().signal
  const values = source([1, 2, 3, 4, 5])
  const out: number[] = []
  for await (const value of take(signal, values, 3)) out.push(value)
  await tick()
  assert.deepEqual(out, [1, 2, 3])
  assert.equal(values.pulled, 3)
  assert.equal(values.closed, true)
  assert.equal(listeners(signal), 0)
  const none: number[] = []
  for await (const value of take(signal, source([1]), 0)) none.push(value)
  assert.deepEqual(none, [])
  assert.throws(() => take(signal, source([1]), -1), /count must be a non-negative integer/)
  assert.throws(() => take(signal, source([1]), 1.5), /count must be a non-negative integer/)
})

test('take honours its signal', async () => {
  const controller = new AbortController()
  const values = stuck()
  const taking = (async () => {
    const out: number[] = []
    for await (const value of take(controller.signal, values, 10)) out.push(value)
    return out
  })()
  await tick()
  controller.abort()
  assert.deepEqual(await taking, [])
  await tick()
  assert.equal(values.returned, true)
  assert.equal(listeners(controller.signal), 0)
})

test('bridge flattens a stream of streams in order', async () => {
  const signal = new AbortController().signal
  const inner = [source([1, 2]), source<number>([]), source([3])]
  const outer = (async function* () {
    for (const stream of inner) yield stream
  })()
  const out: number[] = []
  for await (const value of bridge<number>(signal, outer)) out.push(value)
  assert.deepEqual(out, [1, 2, 3])
  assert.equal(listeners(signal), 0)
})

test('bridge: leaving early closes the inner and outer sources', async () => {
  const signal = new AbortController().signal
  const first = source([1, 2, 3])
  let outerClosed = false
  const outer = (async function* () {
    try {
      yield first
      yield source([4])
    } finally {
      outerClosed = true
    }
  })()
  for await (const value of bridge(signal, outer)) if (value === 2) break
  await tick()
  assert.equal(first.closed, true)
  assert.equal(outerClosed, true)
  assert.equal(listeners(signal), 0)
})

test('bridge: an abort ends it even while an inner stream is stuck', async () => {
  const controller = new AbortController()
  const inner = stuck()
  const outer = (async function* () {
    yield inner
  })()
  const bridging = (async () => {
    const out: number[] = []
    for await (const value of bridge<number>(controller.signal, outer)) out.push(value)
    return out
  })()
  await tick()
  controller.abort()
  assert.deepEqual(await bridging, [])
  await tick()
  assert.equal(inner.returned, true)
  assert.equal(listeners(controller.signal), 0)
})
