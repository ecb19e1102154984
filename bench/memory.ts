// idle_ward.bytes, idle_ward_signal.bytes, idle_ward_1m.bytes: heap per supervised ward waiting
// for input, beside a bare async function awaiting its own promise.
import { steward, type Run, type WardContext } from '../dist/index.js'
import { median, quick, settledHeap, sleep, turn, type Figures } from './figure.js'

const repetitions = 3

/** Bytes per bare async function awaiting a promise whose resolver is kept. */
async function bare(count: number): Promise<number> {
  const resolvers: Array<() => void> = []
  const pending: Array<Promise<void>> = []
  const before = await settledHeap()
  for (let i = 0; i < count; i++) {
    pending.push(
      (async () => {
        await new Promise<void>((resolve) => resolvers.push(resolve))
      })(),
    )
  }
  const after = await settledHeap()
  for (const resolve of resolvers) resolve()
  await Promise.all(pending)
  return (after - before) / count
}

/** Bytes per supervised ward idle on such a promise (reading its signal first if asked). */
async function supervised(count: number, readSignal: boolean): Promise<number> {
  const resolvers: Array<() => void> = []
  const runs: Array<Run<unknown>> = []
  const ward = steward(
    async (ctx: WardContext) => {
      if (readSignal) void ctx.signal
      await ctx.idle(new Promise<void>((resolve) => resolvers.push(resolve)))
    },
    // A short timeout, so the watchdog has dropped every idle ward when the heap is measured:
    // the steady state of a ward waiting for input, not the moment it started.
    { timeout: 100, name: 'idle' },
  )
  const before = await settledHeap()
  for (let i = 0; i < count; i++) runs.push(ward.start())
  while (resolvers.length < count) await turn()
  await sleep(300)
  const after = await settledHeap()
  for (const resolve of resolvers) resolve()
  await Promise.all(runs.map((run) => run.done))
  return (after - before) / count
}

async function repeat(measureOnce: () => Promise<number>): Promise<number> {
  const samples: number[] = []
  for (let r = 0; r < repetitions; r++) samples.push(await measureOnce())
  return median(samples)
}

export async function measure(): Promise<Figures> {
  const count = 100_000
  const figures: Figures = {
    'baseline.suspended_async.bytes': { value: await repeat(() => bare(count)), unit: 'bytes' },
    'idle_ward.bytes': { value: await repeat(() => supervised(count, false)), unit: 'bytes' },
    'idle_ward_signal.bytes': { value: await repeat(() => supervised(count, true)), unit: 'bytes' },
  }
  if (!quick) figures['idle_ward_1m.bytes'] = { value: await supervised(1_000_000, false), unit: 'bytes' }
  return figures
}
