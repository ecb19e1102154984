// A user's own ward, as an application would write it: a poller that reads a source every
// `every` ms and hands what it read to `onItems`. examples/poller.test.ts tests it on virtual
// time with ManualClock and node:test, the way you would test your own wards.
import type { Ward } from 'steward'

/** Where the poller reads from: an HTTP API, a queue, a directory… `read` must honour `signal`. */
export interface Source {
  read(signal: AbortSignal): Promise<readonly string[]>
}

/** Reads `source` every `every` ms, forever; beats before each read so a read that hangs is seen. */
export function poller(source: Source, onItems: (items: readonly string[]) => void, every = 1_000): Ward<void> {
  return async (ctx) => {
    for (;;) {
      ctx.beat()
      onItems(await source.read(ctx.signal))
      await ctx.clock.sleep(every, ctx.signal)
    }
  }
}
