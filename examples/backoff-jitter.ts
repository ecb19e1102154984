// Restarts spaced by an exponential backoff with jitter, so many wards that fail together do not
// all come back at the same instant. The random source is injected (a fixed sequence here), as a
// test would; in production leave it out and Math.random is used.
// Run: npx tsx examples/backoff-jitter.ts
import { exponential, jittered, ManualClock, steward, upTo, type WardContext } from 'steward'

const clock = new ManualClock() // virtual time: the example prints the same every time
const draws = [0.5, 0, 1, 0.25, 0.75] // stand-ins for Math.random(), in [0, 1)
let draw = 0
const backoff = upTo(
  jittered(exponential({ initial: '100ms', factor: 2 }), { ratio: 0.5, random: () => draws[draw++ % draws.length]! }),
  '1s',
)

const flaky = async (ctx: WardContext): Promise<string> => {
  console.log(`${clock.now()} ms: attempt ${ctx.attempt}`)
  if (ctx.attempt <= 5) throw new Error('upstream unavailable')
  return 'connected'
}

const run = steward(flaky, { backoff, maxRestarts: 10, restart: 'transient' }).start({ clock })
run.on('restarting', (event) => console.log(`  restart ${event.restarts} in ${event.delay} ms`))
const outcome = await clock.runUntil(run.done)
console.log(`outcome: ${outcome.kind}${outcome.kind === 'completed' ? ` (${String(outcome.value)})` : ''}`)
