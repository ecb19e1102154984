// The worker side of examples/ts-worker.ts, in TypeScript: a worker thread loads it through the
// TypeScript loader (tsx) that the main thread passes on to its workers.
import type { WardContext } from 'steward'

/** Squares 0..2 and returns their sum. */
export default async function square(ctx: WardContext): Promise<number> {
  let sum = 0
  for (let i = 0; i < 3; i++) {
    ctx.beat()
    const n: number = i * i
    sum += n
  }
  return sum
}
