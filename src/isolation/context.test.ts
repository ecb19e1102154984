// What a ward reads from its context means the same in-process, in a worker thread and in a child
// process using steward/child: poisoned (live), failuresHere, resume, attempt, the signal's reason.
import { afterEach, test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { steward as builtSteward, type StewardEvent, type Ward } from 'steward'
import { steward } from '../steward/steward.js'
import { liveChildren, processWard } from './process-ward.js'
import { liveWorkers, threadWard } from './thread-ward.js'
import { waitFor } from '../testing/wait.js'

const fixtures = new URL('../../test/fixtures/context-wards.mjs', import.meta.url)
const child = fileURLToPath(new URL('../../test/fixtures/child.mjs', import.meta.url))
const inProcess = (await import(fixtures.href)) as Record<string, Ward>

afterEach(async () => {
  await Promise.all([...liveWorkers].map((worker) => worker.terminate()))
})

async function nothingLeft(): Promise<void> {
  await waitFor('every worker and child gone', () => liveWorkers.size === 0 && liveChildren.size === 0, 10_000, 10)
  assert.equal(liveWorkers.size, 0, 'a worker is still alive')
  assert.equal(liveChildren.size, 0, 'a child process is still alive')
}

interface Played {
  readonly outputs: unknown[]
  readonly deadLetters: unknown[]
  readonly outcome: string
  readonly value: unknown
}

/** Runs `ward` (stream or promise) with poisonAfter 1, collecting outputs, dead letters and the outcome. */
async function play(ward: Ward, stream: boolean): Promise<Played> {
  const deadLetters: unknown[] = []
  // Generous deadlines: a worker's or a child's start on a busy machine is not what is tested.
  const run = steward(ward, {
    poisonAfter: 1,
    timeout: '5s',
    startTimeout: '10s',
    maxRestarts: 3,
    onDeadLetter: ({ input, position, failures }) => deadLetters.push({ input, position, failures }),
  }).start()
  const outputs: unknown[] = []
  if (stream) for await (const value of run) outputs.push(value)
  const outcome = await run.done
  return { outputs, deadLetters, outcome: outcome.kind, value: outcome.kind === 'completed' ? outcome.value : undefined }
}

const reads = (input: number | string, attempt: number, resume: number | null, failuresHere: number, poisoned = false): object => ({ input, attempt, resume, failuresHere, poisoned })
/** Inputs 0..11, 3 poison, poisonAfter 1: 0, 1, 2 from the first incarnation, 4..11 from the second, which dead-lettered 3. */
const streamed = [0, 1, 2].map((input) => reads(input, 1, null, 0)).concat([4, 5, 6, 7, 8, 9, 10, 11].map((input) => reads(input, 2, 3, 1)))
const oneDeadLetter = [{ input: 3, position: 3, failures: 1 }]

for (const exported of ['walked', 'skips'] as const) {
  test(`${exported}: a worker's poisoned turns false after its dead letter, as in-process; inputs 0–11 with 3 poison deliver all but 3`, { timeout: 30_000 }, async () => {
    const here = await play(inProcess[exported]!, true)
    assert.deepEqual(here, { outputs: streamed, deadLetters: oneDeadLetter, outcome: 'completed', value: undefined }, 'in-process')
    const there = await play(threadWard(fixtures, { export: exported, stream: true }), true)
    assert.deepEqual(there, here, 'in a worker')
    await nothingLeft()
  })
}

test("a worker's poisoned turns false once a tagged output for the poison input is delivered, as in-process", { timeout: 30_000 }, async () => {
  const here = await play(inProcess.placeholder!, true)
  const expected = [...streamed.slice(0, 3), { placeholder: 3, poisoned: true }, ...streamed.slice(3)]
  assert.deepEqual(here, { outputs: expected, deadLetters: [], outcome: 'completed', value: undefined }, 'in-process')
  const there = await play(threadWard(fixtures, { export: 'placeholder', stream: true }), true)
  assert.deepEqual(there, here, 'in a worker')
  await nothingLeft()
})

test("a promise ward committing with beats: the worker's poisoned turns false at the dead letter, as in-process", { timeout: 30_000 }, async () => {
  const here = await play(inProcess.beats!, false)
  const second = [reads('start', 2, 3, 1, true), reads('after dead letter 3', 2, 3, 1), ...[4, 5, 6, 7, 8, 9, 10, 11].map((input) => reads(input, 2, 3, 1))]
  assert.deepEqual(here, { outputs: [], deadLetters: oneDeadLetter, outcome: 'completed', value: second }, 'in-process')
  const there = await play(threadWard(fixtures, { export: 'beats' }), false)
  assert.deepEqual(there, here, 'in a worker (its result crosses as the run’s value)')
  await nothingLeft()
})

test("a promise ward that skips a poison input with a beat past it: the worker's poisoned turns false at that beat, as in-process", { timeout: 30_000 }, async () => {
  const here = await play(inProcess.skipsByBeat!, false)
  assert.deepEqual(here, { outputs: [], deadLetters: [], outcome: 'completed', value: [reads('start', 2, 3, 1, true), reads('after beat past 3', 2, 3, 1)] }, 'in-process')
  const there = await play(threadWard(fixtures, { export: 'skipsByBeat' }), false)
  assert.deepEqual(there, here, 'in a worker')
  await nothingLeft()
})

test("a child using steward/child reads failuresHere and a live poisoned(), skipping with deadLetter(), a beat past the input, or a placeholder output", { timeout: 30_000 }, async () => {
  const ward = (how: string): Ward => processWard(process.execPath, [child, 'poison', how], { heartbeat: 'ipc', stream: true })
  assert.deepEqual(await play(ward('dead-letter'), true), { outputs: streamed, deadLetters: oneDeadLetter, outcome: 'completed', value: undefined }, 'deadLetter()')
  assert.deepEqual(await play(ward('beat'), true), { outputs: streamed, deadLetters: [], outcome: 'completed', value: undefined }, 'a beat past it')
  const placeheld = [...streamed.slice(0, 3), { placeholder: 3, poisoned: true }, ...streamed.slice(3)]
  assert.deepEqual(await play(ward('output'), true), { outputs: placeheld, deadLetters: [], outcome: 'completed', value: undefined }, 'a placeholder output')
  await nothingLeft()
})

test("the worker's signal is aborted with the in-process reason: a WardRetiredError with its why, or the caller's stop reason", { timeout: 30_000 }, async () => {
  const said: unknown[] = []
  const channel = new BroadcastChannel('steward-test-abort-reason')
  channel.onmessage = (event) => said.push((event as MessageEvent).data)
  try {
    const reasons = async (ward: Ward): Promise<unknown[]> => {
      const heard: unknown[] = []
      for (const reason of [undefined, 'shutdown']) {
        const run = builtSteward(ward, { name: 'w', timeout: '5s', startTimeout: '10s' }).start()
        await waitFor('the idle state', () => run.status().state === 'idle', 20_000, 10)
        assert.equal(run.status().state, 'idle')
        const before = said.length
        await run.stop(reason)
        await waitFor('a new line from the ward', () => said.length !== before, 10_000, 10)
        heard.push(said.at(-1))
      }
      return heard
    }
    const expected = [{ retired: true, why: 'stopped', message: "ward 'w' was retired: stopped", code: 'ERR_WARD_RETIRED' }, { retired: false, reason: 'shutdown' }]
    assert.deepEqual(await reasons(inProcess.abortReasonThread!), expected, 'in-process')
    assert.deepEqual(await reasons(threadWard(fixtures, { export: 'abortReasonThread' })), expected, 'in a worker')
  } finally {
    channel.close()
  }
  await nothingLeft()
})

/** Whether `events` has a `hung` event. */
const hung = (events: readonly StewardEvent[]): StewardEvent[] => events.filter((event) => event.type === 'hung')

test('a worker that boots slowly and whose first act is a dead letter is not hung: its steady deadline runs from the dead letter', { timeout: 30_000 }, async () => {
  const events: StewardEvent[] = []
  // It sleeps 1.5 s (past timeout, within startTimeout), dead-letters, then beats every 50 ms for 500 ms and completes.
  const run = steward(threadWard(new URL('../../test/fixtures/thread-wards.mjs', import.meta.url), { export: 'slowDeadLetter' }), {
    timeout: '1s',
    startTimeout: '10s',
    maxRestarts: 0,
  }).start({ onEvent: (event) => events.push(event) })
  const outcome = await run.done
  assert.deepEqual(hung(events), [])
  assert.equal(outcome.kind, 'completed')
  assert.deepEqual(events.filter((event) => event.type === 'dead-letter').length, 1)
  await nothingLeft()
})

test('the same for a child process: a slow start whose first act is a dead letter', { timeout: 30_000 }, async () => {
  const events: StewardEvent[] = []
  const run = steward(processWard(process.execPath, [child, 'slow-dead-letter'], { heartbeat: 'ipc' }), {
    timeout: '1s',
    startTimeout: '10s',
    maxRestarts: 0,
  }).start({ onEvent: (event) => events.push(event) })
  const outcome = await run.done
  assert.deepEqual(hung(events), [])
  assert.equal(outcome.kind, 'completed')
  assert.deepEqual(events.filter((event) => event.type === 'dead-letter').length, 1)
  await nothingLeft()
})
