// Property: whatever crashes, silent hangs, livelocks, poison inputs and consumer pauses happen,
// a resumable ward under a steward delivers exactly the inputs minus the poison ones, in order,
// each once, and dead-letters exactly the poison ones, each after exactly poisonAfter failures
// (the incarnations, their resume points and failure counts follow a model of the contract).
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
import { supervisor, type ChildSpec, type Strategy } from '../tree/supervisor.js'
import { aborted } from '../testing/wait.js'

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

/** One incarnation as it started: where it resumed, the failures there before it, whether it was told the input is poison. */
interface Incarnation {
  readonly resume: number
  readonly failuresHere: number
  readonly poisoned: boolean
}

interface Played {
  readonly received: number[]
  readonly deadLettered: Array<{ input: unknown; position: unknown; failures: number }>
  /** Calls of `work` per input. */
  readonly tries: Map<number, number>
  readonly incarnations: Incarnation[]
  readonly outcome: string
}

/**
 * Bounds on one scenario, so a run that loops (a broken steward) fails fast instead of hanging:
 * incarnations (one per failure: at most 6 inputs × 2 faults + 3 poison inputs × POISON_AFTER,
 * plus the first) and virtual time (12 pauses of 2.5 s and those failures at about 1.3 s each;
 * the scenarios seen end by 25 s).
 */
const MAX_INCARNATIONS = 50
const UNTIL = 200_000

async function play(scenario: Scenario): Promise<Played> {
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
  // Each incarnation as it starts, recorded here and compared after the run.
  const incarnations: Incarnation[] = []
  const walker = walk(scenario.inputs, work)
  const looping = new AbortController()
  const ward = (ctx: WardContext<number>): ReturnType<typeof walker> => {
    incarnations.push({ resume: ctx.resume ?? 0, failuresHere: ctx.failuresHere, poisoned: ctx.poisoned })
    if (incarnations.length > MAX_INCARNATIONS) looping.abort(`more than ${MAX_INCARNATIONS} incarnations`)
    return walker(ctx)
  }
  const deadLettered: Played['deadLettered'] = []
  const run = steward(ward, {
    timeout: 200,
    progressTimeout: 1_000,
    poisonAfter: POISON_AFTER,
    maxRestarts: Infinity,
    stopTimeout: 100,
    onDeadLetter: ({ input, position, failures }) => deadLettered.push({ input, position, failures }),
  }).start({ clock, signal: looping.signal })
  const received: number[] = []
  const consume = async (): Promise<void> => {
    for await (const value of run) {
      received.push(value)
      const pause = scenario.pauses[received.length - 1] ?? 0
      if (pause > 0) await clock.sleep(pause)
    }
  }
  try {
    await clock.runUntil(consume(), { until: UNTIL })
  } finally {
    await clock.runUntil(run.stop()) // a run that did not end (a broken steward) must not keep the test alive
  }
  const outcome = await run.done
  return { received, deadLettered, tries, incarnations, outcome: outcome.kind }
}

/**
 * What the contract says must happen, step by step: each incarnation resumes after the last
 * input delivered or dead-lettered; failures are counted per position (in a row, reset when
 * the position moves); an incarnation that starts where `POISON_AFTER` incarnations in a row
 * failed is told the input is poison and dead-letters it without working on it. So a poison
 * input is worked on exactly `POISON_AFTER` times; any other exactly once more than its faults.
 */
function expected(scenario: Scenario): Omit<Played, 'received' | 'outcome'> {
  const { inputs, poison, faults } = scenario
  const tries = new Map<number, number>()
  const incarnations: Incarnation[] = []
  const deadLettered: Played['deadLettered'] = []
  let resume = 0
  let failuresHere = 0
  for (;;) {
    const poisoned = failuresHere >= POISON_AFTER
    incarnations.push({ resume, failuresHere, poisoned })
    let failedAt: number | undefined
    for (let position = resume; position < inputs.length; position++) {
      const input = inputs[position]!
      if (position === resume && poisoned) {
        // Nothing committed before the first input: the steward's progress there is `undefined`.
        deadLettered.push({ input, position: position === 0 ? undefined : position, failures: failuresHere })
        continue
      }
      const attempt = (tries.get(input) ?? 0) + 1
      tries.set(input, attempt)
      if (poison.has(input) || faults.get(input)?.[attempt - 1] !== undefined) {
        failedAt = position
        break
      }
    }
    if (failedAt === undefined) return { deadLettered, tries, incarnations }
    failuresHere = failedAt === resume ? failuresHere + 1 : 1
    resume = failedAt
  }
}

test('exactly the inputs minus the poison ones, in order, once each; exactly the poison ones dead-lettered, each after poisonAfter failures', async () => {
  const seed = process.env.STEWARD_PROPERTY_SEED
  const path = process.env.STEWARD_PROPERTY_PATH
  await fc.assert(
    fc.asyncProperty(scenarios, async (scenario) => {
      const played = await play(scenario)
      const model = expected(scenario)
      assert.equal(played.outcome, 'completed')
      assert.deepEqual(
        played.received,
        scenario.inputs.filter((input) => !scenario.poison.has(input)),
      )
      assert.deepEqual(
        played.deadLettered.map(({ input }) => input),
        scenario.inputs.filter((input) => scenario.poison.has(input)),
      )
      // The exact counts: a poison input is worked on by poisonAfter incarnations, each failing;
      // those failures start one incarnation there each (failuresHere 1, 2, ...); the one that
      // starts after the poisonAfter-th is poisoned and dead-letters it, reporting poisonAfter failures.
      for (const input of scenario.poison.keys()) {
        assert.equal(played.tries.get(input), POISON_AFTER, `tries of poison input ${input}`)
        const at = scenario.inputs.indexOf(input)
        assert.deepEqual(
          played.incarnations
            .filter(({ resume, failuresHere }) => resume === at && failuresHere > 0)
            .map(({ failuresHere, poisoned }) => [failuresHere, poisoned]),
          Array.from({ length: POISON_AFTER }, (_, i) => [i + 1, i + 1 === POISON_AFTER]),
          `incarnations that resumed at poison input ${input} (position ${at}) after failing there`,
        )
      }
      assert.deepEqual(played.tries, model.tries)
      assert.deepEqual(played.deadLettered, model.deadLettered)
      assert.deepEqual(played.incarnations, model.incarnations)
    }),
    {
      numRuns: 1_000,
      ...(seed === undefined ? {} : { seed: Number(seed) }),
      ...(path === undefined ? {} : { path }),
      verbose: 1,
    },
  )
})

interface ChildPlayed {
  readonly received: number[]
  readonly deadLettered: Array<{ input: unknown; failures: number }>
  /** Per incarnation: where it resumed, failuresHere, poisoned. */
  readonly incarnations: Incarnation[]
}

/**
 * Two children of one supervisor, each a resumable promise ward that commits each result with a
 * beat as it records it; the strategy restarts siblings too (one-for-all, rest-for-one), which
 * interrupts their work without being a failure of theirs.
 */
async function playTree(strategy: Strategy, scenarios: readonly [Scenario, Scenario]): Promise<{ children: ChildPlayed[]; outcome: string; decisions: number }> {
  const clock = new ManualClock()
  const children: ChildPlayed[] = scenarios.map(() => ({ received: [], deadLettered: [], incarnations: [] }))
  const done = scenarios.map(() => false)
  let wake: (() => void) | undefined
  const allDone = new Promise<void>((resolve) => (wake = resolve))
  const specs = scenarios.map((scenario, index) => {
    const played = children[index]!
    const tries = new Map<number, number>()
    return {
      name: `c${index}`,
      poisonAfter: POISON_AFTER,
      timeout: 200,
      progressTimeout: 1_000,
      stopTimeout: 100,
      onDeadLetter: ({ input, failures }: { input: unknown; failures: number }) => void played.deadLettered.push({ input, failures }),
      ward: async (ctx: WardContext<number>): Promise<void> => {
        played.incarnations.push({ resume: ctx.resume ?? 0, failuresHere: ctx.failuresHere, poisoned: ctx.poisoned })
        for (let position = ctx.resume ?? 0; position < scenario.inputs.length; position++) {
          const input = scenario.inputs[position]!
          if (ctx.poisoned) {
            ctx.deadLetter(input, position + 1)
            continue
          }
          ctx.beat()
          const attempt = (tries.get(input) ?? 0) + 1
          tries.set(input, attempt)
          const how = scenario.poison.get(input) ?? scenario.faults.get(input)?.[attempt - 1]
          if (how === 'crash') throw new Error('crash')
          if (how === 'hang') await aborted(ctx.signal)
          while (how === 'livelock' && !ctx.signal.aborted) {
            ctx.beat()
            await clock.sleep(50, ctx.signal).catch(() => {})
          }
          if (how === undefined) await clock.sleep(10, ctx.signal).catch(() => {})
          if (ctx.signal.aborted) return
          played.received.push(input)
          ctx.beat(position + 1) // committed with the result, in the same step
        }
        done[index] = true
        if (done.every(Boolean)) wake?.()
        await ctx.idle(aborted(ctx.signal))
      },
    } satisfies ChildSpec<unknown, number>
  })
  let decisions = 0
  const run = supervisor({ strategy, maxRestarts: Infinity }, specs).start({
    clock,
    onEvent: (event) => void (event.type === 'decision' && decisions++),
  })
  try {
    await clock.runUntil(allDone, { until: UNTIL })
  } finally {
    await clock.runUntil(run.stop())
  }
  return { children, outcome: (await run.done).kind, decisions }
}

test('in a supervisor of two children, under every strategy: each child delivers its inputs minus the poison ones once each, and dead-letters each poison one after exactly poisonAfter failures of its own', async () => {
  const seed = process.env.STEWARD_PROPERTY_SEED
  const path = process.env.STEWARD_PROPERTY_PATH
  await fc.assert(
    fc.asyncProperty(fc.constantFrom<Strategy>('one-for-one', 'one-for-all', 'rest-for-one'), scenarios, scenarios, async (strategy, first, second) => {
      const played = await playTree(strategy, [first, second])
      assert.equal(played.outcome, 'stopped')
      for (const [index, scenario] of [first, second].entries()) {
        const child = played.children[index]!
        assert.deepEqual(child.received, scenario.inputs.filter((input) => !scenario.poison.has(input)), `c${index} received`)
        assert.deepEqual(
          child.deadLettered,
          scenario.inputs.filter((input) => scenario.poison.has(input)).map((input) => ({ input, failures: POISON_AFTER })),
          `c${index} dead letters`,
        )
        // At a poison input, the child's own failures count 1, 2, … poisonAfter (a sibling's
        // restart adds incarnations but no failure), and only the last count is poisoned.
        for (const input of scenario.poison.keys()) {
          const at = scenario.inputs.indexOf(input)
          const counts = child.incarnations.filter(({ resume, failuresHere }) => resume === at && failuresHere > 0)
          assert.deepEqual(
            [...new Set(counts.map(({ failuresHere }) => failuresHere))],
            Array.from({ length: POISON_AFTER }, (_, i) => i + 1),
            `c${index}: failures counted at poison input ${input}`,
          )
          for (const { failuresHere, poisoned } of counts) assert.equal(poisoned, failuresHere >= POISON_AFTER, `c${index}: poisoned at ${failuresHere}`)
        }
      }
    }),
    {
      numRuns: 200,
      ...(seed === undefined ? {} : { seed: Number(seed) }),
      ...(path === undefined ? {} : { path }),
      verbose: 1,
    },
  )
})
