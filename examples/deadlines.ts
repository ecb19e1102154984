// The three deadlines of a working ward and an idle one, on virtual time:
// - `timeout`: no beat for that long is a hang;
// - `progressTimeout`: beats whose progress does not change for that long are a livelock (stalled);
// - `idleTimeout`: waiting for input (inside ctx.idle) longer than that is replaced.
// A ward that waits for input without an idleTimeout is healthy however long it waits.
// Run: npx tsx examples/deadlines.ts
import { ManualClock, steward, type StewardEvent, type WardContext } from 'steward'

const clock = new ManualClock() // virtual time: the example prints the same every time
const log = (event: StewardEvent): void => {
  if (event.type === 'stalled') console.log(`${event.at} ms: ${event.ward} attempt ${event.attempt} stalled at ${String(event.progress)}`)
  if (event.type === 'idle-timeout') console.log(`${event.at} ms: ${event.ward} attempt ${event.attempt} idle for ${event.idleTimeout} ms`)
  if (event.type === 'restarting') console.log(`${event.at} ms: ${event.ward} restarting (${event.reason})`)
}

// A retry loop stuck on one item: it beats every 100 ms (so it never hangs) but its progress
// stays at 3; the second attempt gets past it.
const spinner = async (ctx: WardContext<number>): Promise<void> => {
  for (let item = ctx.resume ?? 0; item < 6; ) {
    ctx.beat(item)
    await ctx.clock.sleep(100, ctx.signal)
    if (item !== 3 || ctx.attempt > 1) item++
  }
  console.log(`${clock.now()} ms: spinner done on attempt ${ctx.attempt}`)
}
const spinning = steward(spinner, { name: 'spinner', timeout: '1s', progressTimeout: '500ms', restart: 'transient' }).start({ clock, onEvent: log })
await clock.runUntil(spinning.done)

// A consumer whose input never comes: healthy while it waits, replaced after idleTimeout.
const neverArrives = (signal: AbortSignal): Promise<string> =>
  new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }))
const consumer = async (ctx: WardContext): Promise<void> => {
  ctx.beat()
  const message = await ctx.idle((signal) => neverArrives(signal))
  console.log(`got ${message}`)
}
const start = clock.now()
const waiting = steward(consumer, { name: 'consumer', timeout: '1s', idleTimeout: '5s', maxRestarts: 1 }).start({ clock, onEvent: log })
await clock.advance(4_000)
console.log(`${clock.now()} ms: consumer still waiting after ${clock.now() - start} ms: ${waiting.status().state}`)
const outcome = await clock.runUntil(waiting.done)
console.log(`${clock.now()} ms: consumer outcome: ${outcome.kind}`)
