// Quick start: a stream ward that walks a list of jobs, fails twice on the
// third one, and resumes after the last result its consumer received.
// Run: npx tsx examples/quick-start.ts
import { steward, type WardContext } from 'steward'

const jobs = ['fetch', 'parse', 'index', 'store', 'notify']
let failuresLeft = 2

async function* worker(ctx: WardContext<number>) {
  const start = ctx.resume ?? 0
  for (let i = start; i < jobs.length; i++) {
    ctx.beat() // alive: beat at least every `timeout`
    await ctx.clock.sleep(20, ctx.signal) // the work; it honours the signal
    if (i === 2 && failuresLeft-- > 0) throw new Error(`job '${jobs[i]}' failed`)
    // The result and where to resume after it, committed together when the consumer takes it.
    yield ctx.output(`${jobs[i]} done`, i + 1)
  }
}

const run = steward(worker, { timeout: '1s', maxRestarts: 3 }).start()
run.on((event) => {
  if (event.type === 'restarting') console.log(`  (restart ${event.restarts}: ${event.reason})`)
})
for await (const result of run) console.log(result)
const outcome = await run.done
console.log(`outcome: ${outcome.kind} after ${outcome.restarts} restarts`)
