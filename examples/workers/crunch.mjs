// The worker side of examples/thread-warm-spare.ts (plain JavaScript: a worker thread loads it
// without a TypeScript loader). Each output says when this worker loaded the module, so the
// main thread can tell a warm spare (loaded before it was needed) from a cold start.
const loadedAt = Date.now()

/** Crunches jobs 0..5, resumable; the first attempt freezes its thread in a CPU loop at job 3. */
export default async function* crunch(ctx) {
  for (let job = ctx.resume ?? 0; job < 6; job++) {
    ctx.beat()
    if (job === 3 && ctx.attempt === 1) {
      for (;;) {
        // stuck for good: no await, no beat; only terminating the worker ends this
      }
    }
    yield ctx.output({ job, result: job * job, attempt: ctx.attempt, loadedAt }, job + 1)
  }
}
