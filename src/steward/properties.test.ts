// Property: whatever crashes, silent hangs, livelocks, poison inputs and consumer pauses happen,
// a resumable ward under a steward delivers exactly the inputs minus the poison ones, in order,
// each once, and dead-letters exactly the poison ones.
//
// On failure fast-check prints the seed and the path of the shrunk counterexample; rerun it with
//   STEWARD_PROPERTY_SEED=<seed> STEWARD_PROPERTY_PATH=<path> npm run test:only -- properties
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { ManualClock } from '../time/manual-clock.js'
import { steward } from './steward.js'
import { walk } from './walk.js'
import type { WardContext } from './ward.js'

type Fault = 'crash' | 'hang' | 'livelock'

interface Scenario {
  readonly inputs: number[]
  /** Inputs that fail on every try, each in its own way. */
  readonly poison: Map<number, Fault>
  /** For other inputs, how their first tries fail (at most poisonAfter - 1 of them). */
  readonly faults: Map<number, Fault[]>
  /** How long the consumer pauses after each value it receives. */
  readonly pauses: number[]
}

const POISON_AFTER = 3
const fault = fc.constantFrom<Fault>('crash', 'hang', 'livelock')

const scenarios: fc.Arbitrary<Scenario> = fc
  .uniqueArray(fc.integer({ min: 0, max: 999 }), { minLength: 1, maxLength: 12 })
  .chain((inputs) =>
    fc.record({
      inputs: fc.constant(inputs),
      poison: fc.array(fc.tuple(fc.constantFrom(...inputs), fault), { maxLength: 3 }).map((pairs) => new Map(pairs)),
      faults: fc
        .array(fc.tuple(fc.constantFrom(...inputs), fc.array(fault, { minLength: 1, maxLength: POISON_AFTER - 1 })), {
          maxLength: 6,
        })
        .map((pairs) => new Map(pairs)),
      pauses: fc.array(fc.constantFrom(0, 0, 0, 5, 150, 2_500), { maxLength: 12 }),
    }),
  )

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
}

async function play(scenario: Scenario): Promise<{ received: number[]; deadLettered: unknown[]; outcome: string }> {
  const clock = new ManualClock()
  const tries = new Map<number, number>()
  const misbehave = async (how: Fault, ctx: WardContext): Promise<never> => {
    if (how === 'crash') throw new Error('crash')
    if (how === 'hang') {
      await aborted(ctx.signal) // silent: no beat
    } else {
      while (!ctx.signal.aborted) {
        ctx.beat() // alive, but its progress never moves
        await clock.sleep(50, ctx.signal).catch(() => {})
      }
    }
    throw ctx.signal.reason
  }
  const work = async (input: number, ctx: WardContext): Promise<number> => {
    const attempt = (tries.get(input) ?? 0) + 1
    tries.set(input, attempt)
    const poison = scenario.poison.get(input)
    if (poison !== undefined) return misbehave(poison, ctx)
    const planned = scenario.faults.get(input)?.[attempt - 1]
    if (planned !== undefined) return misbehave(planned, ctx)
    await clock.sleep(10, ctx.signal)
    return input
  }
  const deadLettered: unknown[] = []
  const run = steward(walk(scenario.inputs, work), {
    timeout: 200,
    progressTimeout: 1_000,
    poisonAfter: POISON_AFTER,
    maxRestarts: Infinity,
    stopTimeout: 100,
    onDeadLetter: (letter) => deadLettered.push(letter.input),
  }).start({ clock })
  const received: number[] = []
  const consume = async (): Promise<void> => {
    for await (const value of run) {
      received.push(value)
      const pause = scenario.pauses[received.length - 1] ?? 0
      if (pause > 0) await clock.sleep(pause)
    }
  }
  await clock.runUntil(consume())
  const outcome = await run.done
  return { received, deadLettered, outcome: outcome.kind }
}

test('exactly the inputs minus the poison ones, in order, once each; exactly the poison ones dead-lettered', async () => {
  const seed = process.env.STEWARD_PROPERTY_SEED
  const path = process.env.STEWARD_PROPERTY_PATH
  await fc.assert(
    fc.asyncProperty(scenarios, async (scenario) => {
      const { received, deadLettered, outcome } = await play(scenario)
      assert.equal(outcome, 'completed')
      assert.deepEqual(
        received,
        scenario.inputs.filter((input) => !scenario.poison.has(input)),
      )
      assert.deepEqual(
        deadLettered,
        scenario.inputs.filter((input) => scenario.poison.has(input)),
      )
    }),
    {
      numRuns: 1_000,
      ...(seed === undefined ? {} : { seed: Number(seed) }),
      ...(path === undefined ? {} : { path }),
      verbose: 1,
    },
  )
})
