// The four programs of the seed chapter ("healing goroutines", Concurrency
// in Go, ch. 5), rebuilt on steward. Each keeps the seed's ward and timings;
// the differences are the seed's defects fixed (see DESIGN.md §1).
import { or } from '../streams/or.js'
import { take } from '../streams/or-done.js'
import { steward } from '../steward/steward.js'
import type { WardContext } from '../steward/ward.js'
import type { Output } from '../steward/output.js'
import type { Run } from '../steward/run-api.js'
import { aborted, type Scenario, type ScenarioIO } from './timeline.js'

const seedValues = [1, 2, -1, 3, 4, 5]

/**
 * S1: a ward that never beats. Timeout 4 s; the caller stops everything at
 * 9 s. Restarts at 4 s and 8 s; each old ward halts before the next says
 * hello, and the run is stopped only after the last ward halted.
 */
export const s1: Scenario = {
  id: 's1',
  title: 'an irresponsible ward that never beats (timeout 4s, the caller stops at 9s)',
  ward: 'irresponsible',
  async run({ clock, signal, log, onEvent }) {
    const caller = new AbortController()
    const halt = clock.setTimer(9_000, () => {
      log('main', 'main: halting steward and ward.')
      caller.abort()
    })
    const irresponsible = async (ctx: WardContext): Promise<void> => {
      log('ward', "ward: Hello, I'm irresponsible!")
      await aborted(ctx.signal)
      log('ward', 'ward: I am halting.')
    }
    using stopped = or(caller.signal, signal)
    const run = steward(irresponsible, { name: 'irresponsible', timeout: 4_000, maxRestarts: Infinity }).start({
      clock,
      signal: stopped,
      onEvent,
    })
    await run.done
    halt.cancel()
    log('main', 'Done')
  },
}

/**
 * The seed's doWork ward: walks the values, hangs silently at a negative one. With `resume`,
 * each value is yielded with the position after it, which the steward commits when the
 * consumer gets the value; a poisoned start (the steward's `poisonAfter`) dead-letters the value.
 */
function doWork(log: (message: string) => void, options: { resume: boolean }) {
  return async function* doWork(ctx: WardContext<number>): AsyncGenerator<number | Output<number, number>> {
    let index = options.resume ? (ctx.resume ?? 0) : 0
    for (; index < seedValues.length; index++) {
      const value = seedValues[index]!
      if (ctx.poisoned) {
        ctx.deadLetter(value, index + 1)
        continue
      }
      if (value < 0) {
        log(`negative value: ${value}`)
        await aborted(ctx.signal) // hangs silently: no beat, no return
        return
      }
      ctx.beat()
      yield options.resume ? ctx.output(value, index + 1) : value
    }
  }
}

/** The seed's main loop: take 6 values, print each; report how the stream ended; wait for the run. */
async function takeSix({ signal, log, write }: ScenarioIO, run: Run<number>): Promise<void> {
  try {
    for await (const value of take(signal, run, 6)) write({ type: 'output', value })
  } catch (error) {
    log('main', `main: the stream ended with ${(error as Error).name}`)
  }
  await run.done
}

/**
 * S2: restart from scratch. Timeout 1 s, the consumer takes 6 values and
 * gets 1, 2, 1, 2, 1, 2 with restarts at 1 s and 2 s: one stream across
 * restarts, and the seed's re-emission shown as it is.
 */
export const s2: Scenario = {
  id: 's2',
  title: 'a ward restarted from scratch re-emits its values (timeout 1s, take 6)',
  ward: 'doWork',
  async run(io) {
    const ward = doWork((message) => io.log('ward', message), { resume: false })
    const { clock, signal, onEvent } = io
    await takeSix(io, steward(ward, { name: 'doWork', timeout: 1_000, maxRestarts: Infinity }).start({ clock, signal, onEvent }))
  },
}

/**
 * S3: a stateful ward resumes where the last one got to, so 1 and 2 arrive
 * once, but it is stuck at -1 in every incarnation; after the fifth hang the
 * steward gives up, and the consumer's loop ends with the give-up error.
 */
export const s3: Scenario = {
  id: 's3',
  title: 'a stateful ward stuck on a poison value; the steward gives up (timeout 1s, 4 restarts)',
  ward: 'doWork',
  async run(io) {
    const ward = doWork((message) => io.log('ward', message), { resume: true })
    const { clock, signal, onEvent } = io
    await takeSix(io, steward(ward, { name: 'doWork', timeout: 1_000, maxRestarts: 4, within: Infinity }).start({ clock, signal, onEvent }))
  },
}

/**
 * S4: as S3, but an incarnation that starts where the previous one failed
 * skips (dead-letters) that value: 1, 2, 3, 4, 5 exactly once, then the
 * run completes; no restart after the last value.
 */
export const s4: Scenario = {
  id: 's4',
  title: 'a stateful ward that skips the value it failed on, then completes (timeout 1s)',
  ward: 'doWork',
  async run(io) {
    const ward = doWork((message) => io.log('ward', message), { resume: true })
    const { clock, signal, onEvent } = io
    // poisonAfter: 1 — a value one incarnation failed on is dead-lettered by the next.
    const options = { name: 'doWork', timeout: 1_000, maxRestarts: 4, within: Infinity, poisonAfter: 1 }
    await takeSix(io, steward(ward, options).start({ clock, signal, onEvent }))
  },
}

/** The seed's scenarios by id, in order. */
export const seedScenarios: readonly Scenario[] = [s1, s2, s3, s4]
