// The ward of `steward demo cpu-hang`, run in a worker thread: it yields 1..6 and, the first
// time, freezes its thread in a CPU loop after 3 — the fault no in-process supervisor can heal.
import type { WardContext } from '../../steward/ward.js'

export default async function* cpuHang(ctx: WardContext<number>): AsyncGenerator<unknown> {
  for (let i = ctx.resume ?? 0; i < 6; i++) {
    ctx.beat()
    await new Promise((resolve) => setTimeout(resolve, 200))
    if (i === 3 && ctx.attempt === 1) {
      for (;;) {
        // a CPU loop: this thread's event loop never runs again
      }
    }
    yield ctx.output(i + 1, i + 1)
  }
}
