// restart.p50_us, restarts_per_s, restarts_signal_per_s, heap_growth_1m_restarts.bytes, and the
// retry peers: a function that fails at once with a pre-made error, retried with no delay.
import { Effect, Schedule } from 'effect'
import pRetry from 'p-retry'
import { steward, type WardContext } from '../dist/index.js'
import { median, percentile, quick, settledHeap, type Figures } from './figure.js'

const failure = new Error('fails at once')
const repetitions = quick ? 3 : 5

/**
 * A sampler of restarts per second of a ward that throws at once until its attempt `restarts + 1`:
 * a plain function that throws, like the function the retry peers call, or an async one (`async`).
 * Each call of the sampler is one run of the ward; the ward has run once before, to warm up.
 */
async function restartSampler(restarts: number, readSignal: boolean, shape: 'throws' | 'async' = 'throws'): Promise<() => Promise<number>> {
  const throws = (ctx: WardContext): Promise<void> => {
    if (readSignal) void ctx.signal
    if (ctx.attempt > restarts) return Promise.resolve()
    throw failure
  }
  const rejects = async (ctx: WardContext): Promise<void> => throws(ctx)
  const ward = steward(shape === 'throws' ? throws : rejects, { name: 'crasher', maxRestarts: Infinity })
  await ward.start().done // warm up
  return async () => {
    const start = performance.now()
    const outcome = await ward.start().done
    if (outcome.restarts !== restarts) throw new Error(`expected ${restarts} restarts, got ${outcome.restarts}`)
    return restarts / ((performance.now() - start) / 1000)
  }
}

/** The median of `repetitions` samples of restarts per second (see `restartSampler`). */
async function restartRate(restarts: number, readSignal: boolean, shape: 'throws' | 'async' = 'throws'): Promise<number> {
  const sample = await restartSampler(restarts, readSignal, shape)
  const samples: number[] = []
  for (let r = 0; r < repetitions; r++) samples.push(await sample())
  return median(samples)
}

/**
 * Restarts that read their signal beside their floor (`throwAndAbortCost`), in pairs measured one
 * right after the other, the order alternating: the rate's median, the floor's median, and the
 * median of each pair's ns per restart over its floor, which a noisy machine moves least.
 */
async function signalBesideFloor(restarts: number): Promise<{ rate: number; floorNs: number; ratio: number }> {
  const sample = await restartSampler(restarts, true)
  throwAndAbortCost() // warm up
  const rates: number[] = []
  const floors: number[] = []
  const ratios: number[] = []
  for (let r = 0; r < (quick ? 7 : 11); r++) {
    let rate: number
    let floor: number
    if (r % 2 === 0) {
      rate = await sample()
      floor = throwAndAbortCost()
    } else {
      floor = throwAndAbortCost()
      rate = await sample()
    }
    rates.push(rate)
    floors.push(floor)
    ratios.push(1e9 / rate / floor)
  }
  return { rate: median(rates), floorNs: median(floors), ratio: median(ratios) }
}

/** Microseconds from the throw to the next incarnation running. */
async function restartLatency(restarts: number): Promise<number> {
  const latencies: number[] = []
  let thrownAt = 0
  const ward = steward(
    (ctx: WardContext): Promise<void> => {
      const now = performance.now()
      if (ctx.attempt > 1) latencies.push((now - thrownAt) * 1000)
      if (ctx.attempt > restarts) return Promise.resolve()
      thrownAt = performance.now()
      throw failure
    },
    { name: 'crasher', maxRestarts: Infinity },
  )
  await ward.start().done
  latencies.length = 0
  await ward.start().done
  return percentile(latencies, 50)
}

async function heapGrowth(restarts: number): Promise<number> {
  const ward = steward(
    (ctx: WardContext): Promise<void> => {
      if (ctx.attempt > restarts) return Promise.resolve()
      throw failure
    },
    { name: 'crasher', maxRestarts: Infinity },
  )
  const run = ward.start()
  await new Promise((resolve) => setImmediate(resolve))
  const before = await settledHeap()
  const outcome = await run.done
  if (outcome.restarts !== restarts) throw new Error(`expected ${restarts} restarts`)
  const after = await settledHeap()
  return after - before
}

async function pRetryRate(attempts: number): Promise<number> {
  const samples: number[] = []
  for (let r = 0; r < repetitions; r++) {
    let made = 0
    const start = performance.now()
    await pRetry(
      () => {
        made++
        throw failure
      },
      { retries: attempts - 1, minTimeout: 0, maxTimeout: 0, factor: 1, randomize: false },
    ).catch(() => {})
    if (made !== attempts) throw new Error(`p-retry made ${made} attempts`)
    samples.push(made / ((performance.now() - start) / 1000))
  }
  return median(samples)
}

async function effectRate(attempts: number): Promise<number> {
  const samples: number[] = []
  for (let r = 0; r < repetitions; r++) {
    let made = 0
    const attempt = Effect.suspend(() => {
      made++
      return Effect.fail(failure)
    })
    const start = performance.now()
    await Effect.runPromise(Effect.exit(Effect.retry(attempt, Schedule.recurs(attempts - 1))))
    if (made !== attempts) throw new Error(`Effect made ${made} attempts`)
    samples.push(made / ((performance.now() - start) / 1000))
  }
  return median(samples)
}

/** Nanoseconds to create an AbortController, read its signal and abort it. */
function abortControllerCost(): number {
  const count = 200_000
  const samples: number[] = []
  for (let r = 0; r < repetitions; r++) {
    const start = performance.now()
    for (let i = 0; i < count; i++) {
      const controller = new AbortController()
      void controller.signal
      controller.abort(failure)
    }
    samples.push(((performance.now() - start) * 1e6) / count)
  }
  return median(samples)
}

/**
 * Nanoseconds for what a restart that reads its signal cannot avoid: the ward's own throw caught,
 * then an AbortController created, its signal read and aborted (one sample of 200,000). The floor
 * of the `restarts_signal_per_s` goal (`baseline.abort_controller.ns` says how much of it is the
 * AbortController).
 */
function throwAndAbortCost(): number {
  const count = 200_000
  const thrower = (i: number): number => {
    if (i < 0) return i
    throw failure
  }
  const start = performance.now()
  for (let i = 0; i < count; i++) {
    try {
      thrower(i)
    } catch {
      const controller = new AbortController()
      void controller.signal
      controller.abort(failure)
    }
  }
  return ((performance.now() - start) * 1e6) / count
}

export async function measure(): Promise<Figures> {
  const restarts = quick ? 200_000 : 1_000_000
  const latency = await restartLatency(quick ? 20_000 : 100_000)
  const plain = await restartRate(restarts, false)
  const async = await restartRate(restarts, false, 'async')
  const signal = await signalBesideFloor(restarts / 4)
  return {
    'restart.p50_us': { value: latency, unit: 'us' },
    restarts_per_s: { value: plain, unit: 'restarts/s' },
    restarts_async_per_s: { value: async, unit: 'restarts/s' },
    restarts_signal_per_s: { value: signal.rate, unit: 'restarts/s' },
    'restarts_signal.floor_ratio': { value: signal.ratio, unit: '× the floor (ns per restart ÷ baseline.throw_abort_controller.ns, median of side-by-side pairs)' },
    'baseline.abort_controller.ns': { value: abortControllerCost(), unit: 'ns' },
    'baseline.throw_abort_controller.ns': { value: signal.floorNs, unit: 'ns (the ward\'s throw caught, then an AbortController made, read, aborted)' },
    'heap_growth_1m_restarts.bytes': { value: await heapGrowth(1_000_000), unit: 'bytes' },
    'peer.p_retry.attempts_per_s': { value: await pRetryRate(quick ? 50_000 : 200_000), unit: 'attempts/s' },
    'peer.effect_retry.attempts_per_s': { value: await effectRate(quick ? 50_000 : 200_000), unit: 'attempts/s' },
  }
}
