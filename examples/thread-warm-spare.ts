// A CPU-bound ward in a worker thread, with a warm spare: the worker freezes in a loop no
// in-process supervisor could interrupt; its steward sees the beats stop, terminates it and
// hands the work to a spare worker that had loaded the module while the first one ran, so the
// replacement skips the cold start. The replacement resumes after the last delivered output.
// Run: npm run build && npx tsx examples/thread-warm-spare.ts
import { steward, threadWard } from 'steward'

interface Crunched {
  readonly job: number
  readonly result: number
  readonly attempt: number
  readonly loadedAt: number
}

let hungAt = Infinity
const run = steward(threadWard<Crunched, number>(new URL('./workers/crunch.mjs', import.meta.url), { stream: true, warm: true }), {
  name: 'crunch',
  timeout: '1s',
  // A cold worker's first beat may take longer than a second on a busy machine; only the freeze is a hang.
  startTimeout: '30s',
}).start()
run.on('hung', (event) => {
  hungAt = Date.now()
  console.log(`attempt ${event.attempt} hung (no beat for ${event.timeout} ms); restarting`)
})
for await (const { job, result, attempt, loadedAt } of run) {
  const warm = attempt > 1 ? `, on a worker loaded before the hang was seen: ${loadedAt < hungAt}` : ''
  console.log(`job ${job} = ${result} (attempt ${attempt}${warm})`)
}
const outcome = await run.done
console.log(`outcome: ${outcome.kind} after ${outcome.restarts} restart(s)`)
