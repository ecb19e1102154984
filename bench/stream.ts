// stream.values_per_s: a supervised async-generator ward drained by for-await, beside the same
// generator unsupervised and Effect's Stream.fromAsyncIterable over it, measured in turns.
import { Effect, Stream } from 'effect'
import { steward, type WardContext } from '../dist/index.js'
import { gc, median, quick, type Figures } from './figure.js'

const count = quick ? 1_000_000 : 2_000_000
const repetitions = quick ? 3 : 5

async function* numbers(_ctx?: WardContext): AsyncGenerator<number> {
  for (let i = 0; i < count; i++) yield i
}

/**
 * Values per second of each drain, the median of `repetitions` samples. The drains take turns
 * within each repetition (after one warm-up run each), so a machine that speeds up or slows down
 * during the group weighs on every figure alike rather than on whichever ran last; a full GC
 * before each sample leaves no drain the garbage of the one before (Effect's is the most).
 */
async function rates<K extends string>(drains: Readonly<Record<K, () => Promise<number>>>): Promise<Record<K, number>> {
  const entries = Object.entries(drains) as Array<[K, () => Promise<number>]>
  const samples = new Map<K, number[]>()
  for (const [name, drain] of entries) {
    await drain() // warm up
    samples.set(name, [])
  }
  for (let r = 0; r < repetitions; r++) {
    for (const [name, drain] of entries) {
      gc()
      const start = performance.now()
      const seen = await drain()
      if (seen !== count) throw new Error(`${name}: drained ${seen} of ${count}`)
      samples.get(name)!.push(count / ((performance.now() - start) / 1000))
    }
  }
  return Object.fromEntries([...samples].map(([name, values]) => [name, median(values)])) as Record<K, number>
}


/**
 * The floor of any wrapper that answers each next() from a promise it owns (so it can answer
 * even if the wrapped next() never settles): no supervision at all, just that promise.
 */
class OwnedPromises<T> implements AsyncIterableIterator<T> {
  readonly #source: AsyncIterator<T>
  #resolve: ((result: IteratorResult<T>) => void) | undefined
  readonly #executor = (resolve: (result: IteratorResult<T>) => void): void => {
    this.#resolve = resolve
  }
  readonly #answer = (result: IteratorResult<T>): void => {
    const resolve = this.#resolve!
    this.#resolve = undefined
    resolve(result)
  }

  constructor(source: AsyncIterable<T>) {
    this.#source = source[Symbol.asyncIterator]()
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  next(): Promise<IteratorResult<T>> {
    const answer = new Promise<IteratorResult<T>>(this.#executor)
    void this.#source.next().then(this.#answer)
    return answer
  }
}

export async function measure(): Promise<Figures> {
  const supervised = steward(numbers, { name: 'numbers' })
  const { raw, ours, owned, effect } = await rates({
    // One loop each, not a shared helper: a for-await shared by three kinds of iterator would
    // be polymorphic for all of them.
    raw: async () => {
      let seen = 0
      for await (const _ of numbers()) seen++
      return seen
    },
    ours: async () => {
      let seen = 0
      for await (const _ of supervised.start()) seen++
      return seen
    },
    owned: async () => {
      let seen = 0
      for await (const _ of new OwnedPromises(numbers())) seen++
      return seen
    },
    effect: async () => {
      let seen = 0
      await Effect.runPromise(
        Stream.runForEach(
          Stream.fromAsyncIterable(numbers(), (error) => error),
          () => Effect.sync(() => void seen++),
        ),
      )
      return seen
    },
  })
  return {
    'stream.values_per_s': { value: ours, unit: 'values/s' },
    'baseline.raw_generator.values_per_s': { value: raw, unit: 'values/s' },
    'stream.ratio': { value: ours / raw, unit: 'x baseline' },
    'baseline.owned_promise_stream.values_per_s': { value: owned, unit: 'values/s' },
    'baseline.owned_promise_stream.ratio': { value: owned / raw, unit: 'x baseline' },
    'peer.effect_stream.values_per_s': { value: effect, unit: 'values/s' },
  }
}
