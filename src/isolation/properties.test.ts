// The property test (src/steward/properties.test.ts) over thread wards and process wards: whatever
// crashes, silent hangs, livelocks, poison inputs and consumer pauses happen, a resumable ward in a
// worker (walk() with the worker's ctx) or in a child (steward/child's poisoned() and deadLetter())
// delivers exactly the inputs minus the poison ones, in order, each once, and dead-letters exactly
// the poison ones, each after exactly poisonAfter failures; every incarnation was told `poisoned`
// exactly when poisonAfter incarnations in a row had failed where it resumed.
//
// Real workers and processes on the real clock, so fewer schedules than in-process (each run plays
// three scenarios at once: a known schedule of each fault, then two random runs), and deadlines generous enough that a loaded machine never makes a
// healthy ward look hung: it beats for each input (every ~10 ms), timeout 1.5 s, startTimeout 10 s;
// a good input fails at most once as planned, so even one spurious failure could not make it
// poison (poisonAfter 3). Crashes are the commonest fault, as hangs and livelocks cost a deadline.
//
// On failure fast-check prints the seed and the path of the shrunk counterexample; rerun it with
//   STEWARD_PROPERTY_SEED=<seed> STEWARD_PROPERTY_PATH=<path> npm run test:only -- src/isolation/properties
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import fc from 'fast-check'
import { steward } from '../steward/steward.js'
import type { Ward } from '../steward/ward.js'
import { liveChildren, processWard } from './process-ward.js'
import { liveWorkers, threadWard } from './thread-ward.js'
import { waitFor } from '../testing/wait.js'

type Fault = 'crash' | 'hang' | 'livelock'
type Isolation = 'thread' | 'process'

interface Scenario {
  readonly inputs: number[]
  /** Inputs that fail on every try, each in its own way. */
  readonly poison: Map<number, Fault>
  /** For other inputs, how their first try fails. */
  readonly faults: Map<number, Fault[]>
  /** How long the consumer pauses after each value it receives. */
  readonly pauses: number[]
}

const POISON_AFTER = 3
const fault = fc.constantFrom<Fault>('crash', 'crash', 'crash', 'crash', 'hang', 'livelock')

const scenarios: fc.Arbitrary<Scenario> = fc
  .uniqueArray(fc.integer({ min: 0, max: 999 }), { minLength: 1, maxLength: 6 })
  .chain((inputs) =>
    fc.record({
      inputs: fc.constant(inputs),
      poison: fc.array(fc.tuple(fc.constantFrom(...inputs), fault), { maxLength: 2 }).map((pairs) => new Map(pairs)),
      faults: fc.array(fc.tuple(fc.constantFrom(...inputs), fc.array(fault, { minLength: 1, maxLength: 1 })), { maxLength: 2 }).map((pairs) => new Map(pairs)),
      pauses: fc.array(fc.constantFrom(0, 0, 5, 150), { maxLength: 6 }),
    }),
  )

const dir = mkdtempSync(join(tmpdir(), 'steward-properties-'))
let plays = 0
after(async () => {
  rmSync(dir, { recursive: true, force: true })
  await waitFor('every worker and child gone', () => liveWorkers.size + liveChildren.size === 0, 10_000, 10)
  const left = liveWorkers.size + liveChildren.size
  for (const worker of liveWorkers) void worker.terminate()
  for (const child of liveChildren) child.kill('SIGKILL')
  assert.equal(left, 0, 'a worker or child process outlived the runs')
})

/** One incarnation as it started, as the worker or child read its context. */
interface Started {
  readonly resume: number
  readonly failuresHere: number
  readonly poisoned: boolean
}

interface Played {
  readonly received: number[]
  readonly deadLettered: Array<{ input: unknown; failures: number }>
  readonly tries: Map<number, number>
  readonly incarnations: Started[]
  readonly outcome: string
}

function ward(isolation: Isolation, scenario: Scenario, log: string): Ward<number> {
  const plan = { inputs: scenario.inputs, poison: [...scenario.poison], faults: [...scenario.faults], log }
  if (isolation === 'thread') {
    const encoded = Buffer.from(JSON.stringify(plan)).toString('base64url')
    return threadWard<number>(new URL(`../../test/fixtures/property-ward.mjs?plan=${encoded}`, import.meta.url), { stream: true, terminateAfter: 300 })
  }
  const child = fileURLToPath(new URL('../../test/fixtures/property-child.mjs', import.meta.url))
  return processWard<number>(process.execPath, [child, JSON.stringify(plan)], { heartbeat: 'ipc', stream: true, killAfter: 300 })
}

async function play(isolation: Isolation, scenario: Scenario): Promise<Played> {
  const log = join(dir, `play-${++plays}.log`)
  writeFileSync(log, '')
  const deadLettered: Played['deadLettered'] = []
  const run = steward(ward(isolation, scenario, log), {
    timeout: 1_500,
    startTimeout: '10s',
    progressTimeout: 1_500,
    poisonAfter: POISON_AFTER,
    maxRestarts: 40,
    within: Infinity,
    stopTimeout: '5s',
    onDeadLetter: ({ input, failures }) => deadLettered.push({ input, failures }),
  }).start()
  const received: number[] = []
  try {
    for await (const value of run) {
      received.push(value)
      const pause = scenario.pauses[received.length - 1] ?? 0
      if (pause > 0) await new Promise((resolve) => setTimeout(resolve, pause))
    }
  } finally {
    await run.stop()
  }
  const outcome = await run.done
  const entries = readFileSync(log, 'utf8')
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => JSON.parse(line) as { try: number } | Started)
  const tries = new Map<number, number>()
  const incarnations: Started[] = []
  for (const entry of entries) {
    if ('try' in entry) tries.set(entry.try, (tries.get(entry.try) ?? 0) + 1)
    else incarnations.push(entry)
  }
  return { received, deadLettered, tries, incarnations, outcome: outcome.kind }
}

function check(scenario: Scenario, played: Played): void {
  assert.equal(played.outcome, 'completed')
  assert.deepEqual(played.received, scenario.inputs.filter((input) => !scenario.poison.has(input)), 'received: the inputs minus the poison ones, in order, once each')
  assert.deepEqual(
    played.deadLettered,
    scenario.inputs.filter((input) => scenario.poison.has(input)).map((input) => ({ input, failures: POISON_AFTER })),
    'dead letters: exactly the poison inputs, each after poisonAfter failures',
  )
  for (const input of scenario.poison.keys()) assert.equal(played.tries.get(input), POISON_AFTER, `tries of poison input ${input}`)
  for (const { resume, failuresHere, poisoned } of played.incarnations) {
    assert.equal(poisoned, failuresHere >= POISON_AFTER, `an incarnation at ${resume} with failuresHere ${failuresHere} read poisoned ${poisoned}`)
    if (poisoned) assert.ok(scenario.poison.has(scenario.inputs[resume]!), `poisoned at a good input (position ${resume})`)
  }
}

const known: [Scenario, Scenario, Scenario] = [
  { inputs: [10, 11, 12, 13], poison: new Map([[11, 'crash']]), faults: new Map([[13, ['crash']]]), pauses: [0, 150] },
  { inputs: [20, 21, 22], poison: new Map([[20, 'livelock']]), faults: new Map([[21, ['crash']]]), pauses: [] },
  { inputs: [30, 31, 32], poison: new Map([[31, 'hang']]), faults: new Map([[30, ['hang']]]), pauses: [5] },
]

describe('the property over thread and process wards, the two at once', { concurrency: true }, () => {
  for (const isolation of ['thread', 'process'] as const) {
    test(`${isolation} wards: exactly the inputs minus the poison ones, once each; exactly the poison ones dead-lettered, each after poisonAfter failures`, { timeout: 120_000 }, async () => {
      const seed = process.env.STEWARD_PROPERTY_SEED
      const path = process.env.STEWARD_PROPERTY_PATH
      await fc.assert(
        fc.asyncProperty(fc.tuple(scenarios, scenarios, scenarios), async (three) => {
          const played = await Promise.all(three.map((scenario) => play(isolation, scenario)))
          for (const [index, scenario] of three.entries()) check(scenario, played[index]!)
        }),
        {
          numRuns: 2,
          // First, one schedule of each fault, a poison input amid good ones in each.
          examples: [[known]],
          ...(seed === undefined ? {} : { seed: Number(seed) }),
          ...(path === undefined ? {} : { path }),
          verbose: 1,
        },
      )
    })
  }
})
