// stream.values_per_s: a supervised async-generator ward drained by for-await, beside the same
// generator unsupervised, a wrapper that owns each next()'s promise (the floor) and Effect's
// Stream.fromAsyncIterable over it, measured in turns. Each rate is the steady state: the values
// after the first `warm` of a drain, over the time they took. The time to the first `warm` values
// is a figure of its own (stream.warmup_ms): a full GC before each sample leaves no instance of the
// run's classes alive, V8 then drops the optimised code that embedded their maps (`--trace-deopt`:
// "weak objects"), and each fresh run is optimised again over its first values.
import { Effect, Stream } from 'effect'
import { steward, type WardContext } from '../dist/index.js'
import { gc, median, quick, type Figures } from './figure.js'

const count = quick ? 1_000_000 : 2_000_000
const warm = 200_000
const repetitions = quick ? 7 : 11

async function* numbers(_ctx?: WardContext): AsyncGenerator<number> {
  for (let i = 0; i < count; i++) yield i
}

/** What a drain saw: how many values, and when it had seen the first `warm` of them. */
interface Drained {
  readonly seen: number
  readonly warmAt: number
}

/**
 * Each drain's steady rate (values per second after the first `warm`) and warm-up (ms to the
 * first `warm` values) in every repetition. The drains take turns within each repetition (after
 * one warm-up run each), in the opposite order every other repetition, so a machine that speeds
 * up or slows down during the group weighs on every figure alike rather than on whichever ran
 * last; a full GC before each sample leaves no drain the garbage of the one before (Effect's is
 * the most).
 */
async function samples<K extends string>(drains: Readonly<Record<K, () => Promise<Drained>>>): Promise<Record<K, Array<{ rate: number; warmup: number }>>> {
  const entries = Object.entries(drains) as Array<[K, () => Promise<Drained>]>
  const taken = new Map<K, Array<{ rate: number; warmup: number }>>()
  for (const [name, drain] of entries) {
    await drain() // warm up
    taken.set(name, [])
  }
  for (let r = 0; r < repetitions; r++) {
    for (const [name, drain] of r % 2 === 0 ? entries : [...entries].reverse()) {
      gc()
      const start = performance.now()
      const { seen, warmAt } = await drain()
      const end = performance.now()
      if (seen !== count) throw new Error(`${name}: drained ${seen} of ${count}`)
      taken.get(name)!.push({ rate: (count - warm) / ((end - warmAt) / 1000), warmup: warmAt - start })
    }
  }
  return Object.fromEntries(taken) as Record<K, Array<{ rate: number; warmup: number }>>
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
  const taken = await samples({
    // One loop each, not a shared helper: a for-await shared by three kinds of iterator would
    // be polymorphic for all of them.
    raw: async () => {
      let seen = 0
      let warmAt = 0
      for await (const _ of numbers()) if (++seen === warm) warmAt = performance.now()
      return { seen, warmAt }
    },
    ours: async () => {
      let seen = 0
      let warmAt = 0
      for await (const _ of supervised.start()) if (++seen === warm) warmAt = performance.now()
      return { seen, warmAt }
    },
    owned: async () => {
      let seen = 0
      let warmAt = 0
      for await (const _ of new OwnedPromises(numbers())) if (++seen === warm) warmAt = performance.now()
      return { seen, warmAt }
    },
    effect: async () => {
      let seen = 0
      let warmAt = 0
      await Effect.runPromise(
        Stream.runForEach(
          Stream.fromAsyncIterable(numbers(), (error) => error),
          () =>
            Effect.sync(() => {
              if (++seen === warm) warmAt = performance.now()
            }),
        ),
      )
      return { seen, warmAt }
    },
  })
  const rate = (name: keyof typeof taken): number => median(taken[name].map((sample) => sample.rate))
  const warmup = (name: keyof typeof taken): number => median(taken[name].map((sample) => sample.warmup))
  // Against the floor, each repetition's pair (measured side by side) first, then their median.
  const overFloor = median(taken.ours.map((sample, r) => sample.rate / taken.owned[r]!.rate))
  return {
    'stream.values_per_s': { value: rate('ours'), unit: `values/s (after the first ${warm.toLocaleString('en')})` },
    'stream.floor_ratio': { value: overFloor, unit: '× the floor (median of side-by-side pairs)' },
    'baseline.raw_generator.values_per_s': { value: rate('raw'), unit: 'values/s' },
    'stream.ratio': { value: rate('ours') / rate('raw'), unit: 'x baseline' },
    'baseline.owned_promise_stream.values_per_s': { value: rate('owned'), unit: 'values/s' },
    'baseline.owned_promise_stream.ratio': { value: rate('owned') / rate('raw'), unit: 'x baseline' },
    'peer.effect_stream.values_per_s': { value: rate('effect'), unit: 'values/s' },
    'stream.warmup_ms': { value: warmup('ours'), unit: `ms to the first ${warm.toLocaleString('en')} values of a fresh run after a full GC` },
    'baseline.owned_promise_stream.warmup_ms': { value: warmup('owned'), unit: 'ms (the same for the floor)' },
  }
}
