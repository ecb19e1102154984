// idle_ward.bytes, idle_ward_signal.bytes, idle_ward_1m.bytes: heap per supervised ward waiting
// for input in ctx.idle, beside a bare async function awaiting its own promise.
// working_ward.bytes: the same ward awaiting its input without ctx.idle (what a ward costs when
// it is not waiting). baseline.settleable_promise.bytes: a promise kept with its resolve function,
// the least a wait that something other than its input can end (a retirement) must hold.
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

/** Bytes per pending promise kept with its resolve function (what `new Promise` allocates for it). */
async function settleable(count: number): Promise<number> {
  // Only the resolve functions are kept: each holds its promise (and an array slot, as the other figures' do).
  const resolvers: Array<() => void> = []
  const before = await settledHeap()
  for (let i = 0; i < count; i++) void new Promise<void>((resolve) => resolvers.push(resolve))
  const after = await settledHeap()
  for (const resolve of resolvers) resolve()
  return (after - before) / count
}

/**
 * Bytes per supervised ward awaiting such a promise: idle in ctx.idle (reading its signal first
 * if asked), or awaiting it directly as a working ward.
 */
async function supervised(count: number, readSignal: boolean, idle = true): Promise<number> {
  const resolvers: Array<() => void> = []
  const runs: Array<Run<unknown>> = []
  const ward = steward(
    async (ctx: WardContext) => {
      if (readSignal) void ctx.signal
      const input = new Promise<void>((resolve) => resolvers.push(resolve))
      await (idle ? ctx.idle(input) : input)
    },
    // An idle ward: a short timeout, so the watchdog has dropped every idle ward when the heap is
    // measured (the steady state of a ward waiting for input, not the moment it started). A
    // working ward: a timeout the measurement ends well within, so none is found hung.
    { timeout: idle ? 100 : 600_000, name: idle ? 'idle' : 'working' },
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
    'working_ward.bytes': { value: await repeat(() => supervised(count, false, false)), unit: 'bytes' },
    'baseline.settleable_promise.bytes': { value: await repeat(() => settleable(count)), unit: 'bytes' },
  }
  if (!quick) figures['idle_ward_1m.bytes'] = { value: await supervised(1_000_000, false), unit: 'bytes' }
  return figures
}
