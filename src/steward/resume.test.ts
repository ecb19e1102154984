import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ManualClock } from '../time/manual-clock.js'
import type { StewardEvent } from '../observe/events.js'
import { GaveUpError, WardIdleTimeoutError, WardStalledError } from './errors.js'
import { steward } from './steward.js'
import { walk } from './walk.js'
import { fixed } from '../policy/backoff.js'
import type { DeadLetter } from './output.js'
import type { WardContext } from './ward.js'
import { aborted } from '../testing/wait.js'

async function drain<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const values: T[] = []
  for await (const value of iterable) values.push(value)
  return values
}

test('an output commits its progress when the consumer gets it: resuming from a checkpoint repeats nothing', async () => {
  const items = ['a', 'b', 'c', 'd', 'e']
  // The same ward twice: once committing with outputs, once with a beat after the yield.
  const tagged = async function* (ctx: WardContext<number>): AsyncGenerator<unknown> {
    for (let i = ctx.resume ?? 0; i < items.length; i++) {
      ctx.beat()
      yield ctx.output(items[i], i + 1)
    }
  }
  const beatAfterYield = async function* (ctx: WardContext<number>): AsyncGenerator<unknown> {
    for (let i = ctx.resume ?? 0; i < items.length; i++) {
      ctx.beat()
      yield items[i]
      ctx.beat(i + 1)
    }
  }
  const resumeTwice = async (ward: typeof tagged): Promise<unknown[]> => {
    const clock = new ManualClock()
    const received: unknown[] = []
    const first = steward(ward).start({ clock })
    for await (const value of first) {
      received.push(value)
      if (received.length === 3) break // the consumer stops after three
    }
    const checkpoint = first.progress
    assert.equal(checkpoint, first.status().progress)
    const second = steward(ward).start({ clock, resume: checkpoint })
    received.push(...(await drain(second)))
    return received
  }
  assert.deepEqual(await resumeTwice(tagged), ['a', 'b', 'c', 'd', 'e'])
  // Without outputs, the third value was delivered but never committed: it comes again.
  assert.deepEqual(await resumeTwice(beatAfterYield), ['a', 'b', 'c', 'c', 'd', 'e'])
})

test('walk resumes after the last result delivered and dead-letters a poison input', async () => {
  const clock = new ManualClock()
  const inputs = [1, 2, 3, 4, 5, 6]
  const attempts = new Map<number, number>()
  const letters: DeadLetter[] = []
  const events: string[] = []
  const work = async (input: number, ctx: WardContext): Promise<number> => {
    attempts.set(input, (attempts.get(input) ?? 0) + 1)
    await clock.sleep(10, ctx.signal)
    if (input === 4) throw new Error('4 is poison') // fails every time
    if (input === 2 && attempts.get(2) === 1) throw new Error('2 fails once')
    return input * 10
  }
  const run = steward(walk(inputs, work), {
    name: 'walker',
    poisonAfter: 2,
    maxRestarts: 10,
    onDeadLetter: (letter) => letters.push(letter),
    onEvent: (event: StewardEvent) => {
      if (event.type === 'dead-letter' || event.type === 'restarting') events.push(`${event.type} ${String(event.attempt)}`)
    },
  }).start({ clock })
  const received = await clock.runUntil(drain(run))
  assert.deepEqual(received, [10, 20, 30, 50, 60])
  assert.deepEqual(
    letters.map(({ position, input, failures, error }) => ({ position, input, failures, message: error?.message })),
    [{ position: 3, input: 4, failures: 2, message: '4 is poison' }],
  )
  assert.deepEqual(attempts.get(1), 1, 'a delivered input is not worked on again')
  assert.deepEqual(attempts.get(3), 1)
  assert.deepEqual(attempts.get(4), 2, 'the poison input is tried poisonAfter times, then skipped')
  assert.deepEqual(events, ['restarting 1', 'restarting 2', 'restarting 3', 'dead-letter 4'])
  assert.equal(run.status().progress, 6)
})

test('walk reads from a function source at the resume position, and commits results it does not deliver', async () => {
  const clock = new ManualClock()
  const from: number[] = []
  const source = function* (start: number): Generator<number> {
    from.push(start)
    for (let i = start; i < 6; i++) yield i
  }
  let failed = false
  const work = (input: number): number | undefined => {
    if (input === 3 && !failed) {
      failed = true
      throw new Error('once')
    }
    return input % 2 === 0 ? input : undefined // odd inputs deliver nothing
  }
  const run = steward(walk(source, work)).start({ clock, resume: 1 })
  assert.deepEqual(await clock.runUntil(drain(run)), [2, 4])
  // Input 1 delivered nothing but was committed; 2 was delivered; 3 failed and was retried from 3.
  assert.deepEqual(from, [1, 3])
})

test('walk refuses a bad source or work function', () => {
  assert.throws(() => walk('abc' as never, () => 1), /source must be an array or a function/)
  assert.throws(() => walk([1], 'x' as never), /work must be a function/)
})

test('progressTimeout: a ward that beats without progress is stalled and replaced at exactly that time', async () => {
  const clock = new ManualClock()
  const events: string[] = []
  const ward = async (ctx: WardContext): Promise<void> => {
    if (ctx.attempt > 1) return
    let progress = 0
    for (;;) {
      ctx.beat(progress) // alive ...
      if (clock.now() < 300) progress++ // ... and progressing until 300, then spinning in place
      await clock.sleep(100, ctx.signal)
    }
  }
  const run = steward(ward, { timeout: 250, progressTimeout: 1_000 }).start({
    clock,
    onEvent: (event) => {
      if (event.type === 'stalled') events.push(`${event.at} stalled at ${String(event.progress)}`)
      if (event.type === 'restarting') events.push(`${event.at} restarting ${event.reason}`)
    },
  })
  const outcome = await clock.runUntil(run.done)
  assert.equal(outcome.kind, 'completed')
  // Progress changes at 0, 100, 200 and 300 (to 3), then stays: stalled at 1,300.
  assert.deepEqual(events, ['1300 stalled at 3', '1300 restarting stalled'])
  assert.equal(run.status().lastFailure?.name, 'WardStalledError')
  assert.ok(new WardStalledError('w', 5).message.includes('no progress for 5 ms'))
})

test('progressTimeout does not count time spent waiting on the consumer or for input', async () => {
  const clock = new ManualClock()
  const events: string[] = []
  const ward = async function* (ctx: WardContext): AsyncGenerator<number> {
    for (let i = 0; i < 3; i++) {
      ctx.beat()
      await ctx.idle(clock.sleep(5_000)) // a long wait for input
      yield i // a long wait on the consumer
    }
  }
  const run = steward(ward, { timeout: 100, progressTimeout: 1_000 }).start({
    clock,
    onEvent: (event) => events.push(event.type),
  })
  const received: number[] = []
  await clock.runUntil(
    (async () => {
      for await (const value of run) {
        received.push(value)
        await clock.sleep(5_000)
      }
    })(),
  )
  assert.deepEqual(received, [0, 1, 2])
  assert.deepEqual(events, ['started', 'completed'])
})

test('idleTimeout: a ward waiting for input too long is replaced; input in time resets the wait', async () => {
  const clock = new ManualClock()
  const events: string[] = []
  let inputs = 0
  const ward = async (ctx: WardContext): Promise<void> => {
    if (ctx.attempt === 1) {
      await ctx.idle(clock.sleep(400)) // input after 400: in time
      inputs++
      ctx.beat()
      await ctx.idle(new Promise(() => {})) // then no input ever
    }
  }
  const run = steward(ward, { timeout: 100, idleTimeout: 1_000 }).start({
    clock,
    onEvent: (event) => {
      if (event.type === 'idle-timeout') events.push(`${event.at} idle-timeout`)
      if (event.type === 'restarting') events.push(`${event.at} restarting ${event.reason}`)
    },
  })
  const outcome = await clock.runUntil(run.done)
  assert.equal(outcome.kind, 'completed')
  assert.equal(inputs, 1)
  assert.deepEqual(events, ['1400 idle-timeout', '1400 restarting idle'])
  assert.equal(run.status().lastFailure?.name, 'WardIdleTimeoutError')
  assert.equal(new WardIdleTimeoutError('w', 7).code, 'ERR_WARD_IDLE_TIMEOUT')
})

test('the new options are validated and named', () => {
  const ward = async (): Promise<void> => {}
  const cases: Array<[object, RegExp]> = [
    [{ progressTimeout: 0 }, /option 'progressTimeout': must be greater than zero/],
    [{ progressTimeout: -1 }, /option 'progressTimeout': must not be negative/],
    [{ idleTimeout: 'soon' }, /option 'idleTimeout': "soon" is not a duration/],
    [{ poisonAfter: 0 }, /option 'poisonAfter' must be a positive integer or Infinity/],
    [{ poisonAfter: 1.5 }, /option 'poisonAfter'/],
    [{ onDeadLetter: 42 }, /option 'onDeadLetter' must be a function/],
  ]
  for (const [options, message] of cases) assert.throws(() => steward(ward, options), message, JSON.stringify(options))
  assert.doesNotThrow(() => steward(ward, { progressTimeout: '2m', idleTimeout: Infinity, poisonAfter: Infinity }))
})

/** What calling `call` did: `'returned'`, or the error's name and message. */
function attempt(call: () => unknown): string {
  try {
    call()
    return 'returned'
  } catch (error) {
    return error instanceof Error ? `${error.name}: ${error.message}` : `threw ${String(error)}`
  }
}

test('ctx.output and ctx.deadLetter refuse an undefined progress; a retired incarnation is never poisoned and cannot dead-letter', async () => {
  const clock = new ManualClock()
  // What each incarnation saw, recorded here and asserted after the run: an assertion inside
  // the ward would only be a failure (and a restart) of the ward.
  const refusals: string[][] = []
  const poisoned: Array<[attempt: number, own: boolean, old: boolean | undefined]> = []
  let old: WardContext | undefined
  const ward = async (ctx: WardContext): Promise<void> => {
    refusals.push([attempt(() => ctx.output(1, undefined)), attempt(() => ctx.deadLetter(1, undefined))])
    poisoned.push([ctx.attempt, ctx.poisoned, old?.poisoned])
    if (ctx.attempt === 1) throw new Error('first') // one failure at the start: later incarnations are poisoned
    if (ctx.attempt === 2) {
      old = ctx
      await aborted(ctx.signal) // no beat: hung, and retired
      return
    }
    old!.deadLetter('late', 99) // from a retired incarnation: ignored
  }
  const letters: unknown[] = []
  const events: string[] = []
  const run = steward(ward, { timeout: 100, poisonAfter: 1, onDeadLetter: (letter) => letters.push(letter) }).start({
    clock,
    onEvent: (event) => events.push(`${event.at} ${event.type} ${event.attempt}`),
  })
  const outcome = await clock.runUntil(run.done)
  const refused = [
    'TypeError: ctx.output(value, progress): progress must not be undefined (it is what the next incarnation resumes from)',
    'TypeError: ctx.deadLetter(input, next): next (the progress after the input) must not be undefined',
  ]
  assert.deepEqual(refusals, [refused, refused, refused])
  assert.deepEqual(poisoned, [
    [1, false, undefined],
    [2, true, undefined], // one failure here, poisonAfter 1
    [3, true, false], // the second is retired: no longer poisoned, though it was
  ])
  assert.deepEqual(letters, [])
  assert.deepEqual(events, [
    '0 started 1',
    '0 failed 1',
    '0 restarting 1',
    '0 started 2',
    '100 hung 2',
    '100 restarting 2',
    '100 started 3',
    '100 completed 3',
  ])
  assert.equal(outcome.kind, 'completed')
  assert.equal(run.status().progress, undefined, 'the retired dead letter committed nothing')
})

test('ctx.output(value) or ctx.deadLetter(input) without a progress throws a TypeError: the incarnation fails with it', async () => {
  // The calls as JavaScript makes them, without the second argument.
  type Untyped = { output(value: unknown): unknown; deadLetter(input: unknown): void }
  const cases: Record<string, (ctx: WardContext) => AsyncGenerator<unknown>> = {
    'ctx.output(value)': async function* (ctx) {
      ctx.beat()
      yield (ctx as unknown as Untyped).output('x')
    },
    'ctx.deadLetter(input)': async function* (ctx) {
      ctx.beat()
      ;(ctx as unknown as Untyped).deadLetter('x')
      yield ctx.output('y', 1)
    },
  }
  const messages: Record<string, string> = {
    'ctx.output(value)': 'ctx.output(value, progress): progress must not be undefined (it is what the next incarnation resumes from)',
    'ctx.deadLetter(input)': 'ctx.deadLetter(input, next): next (the progress after the input) must not be undefined',
  }
  for (const [call, ward] of Object.entries(cases)) {
    const clock = new ManualClock()
    const failures: string[] = []
    const letters: unknown[] = []
    const run = steward(ward, { restart: 'temporary', onDeadLetter: (letter) => letters.push(letter) }).start({
      clock,
      onEvent: (event) => {
        if (event.type === 'failed') failures.push(`${event.error.name}: ${event.error.message}`)
      },
    })
    const received: unknown[] = []
    const consumed = clock.runUntil(
      (async () => {
        for await (const value of run) received.push(value)
      })(),
    )
    await assert.rejects(consumed, GaveUpError, call)
    const outcome = await run.done
    assert.deepEqual(received, [], call)
    assert.deepEqual(failures, [`TypeError: ${messages[call]}`], call)
    assert.ok(outcome.kind === 'gave-up', call)
    assert.ok(outcome.error.cause instanceof TypeError, call)
    assert.equal(outcome.error.cause.message, messages[call], call)
    assert.deepEqual(letters, [], call)
    assert.equal(run.status().progress, undefined, call)
  }
})

test("an output commits only when delivered: a retired incarnation's late output is neither delivered nor committed", async () => {
  const clock = new ManualClock()
  const items = ['a', 'b', 'c']
  const resumes: unknown[] = []
  const reasons: string[] = []
  const ward = async function* (ctx: WardContext): AsyncGenerator<unknown> {
    resumes.push(ctx.resume)
    if (ctx.attempt === 1) {
      ctx.beat()
      yield ctx.output('a', 1)
      await aborted(ctx.signal) // hangs silently (no beat) while its consumer waits
      reasons.push(String(ctx.signal.reason))
      yield ctx.output('late', 99) // after its abort: dropped, its progress not committed
      return
    }
    for (let i = (ctx.resume as number | undefined) ?? 0; i < items.length; i++) {
      ctx.beat()
      yield ctx.output(items[i], i + 1)
    }
  }
  const events: string[] = []
  const run = steward(ward, { timeout: 100 }).start({
    clock,
    onEvent: (event) => events.push(`${event.at} ${event.type} ${event.attempt}`),
  })
  assert.deepEqual(await clock.runUntil(drain(run)), ['a', 'b', 'c'])
  assert.deepEqual(resumes, [undefined, 1], 'the second incarnation resumes after the last output delivered')
  assert.deepEqual(reasons, ["WardRetiredError: ward 'ward' was retired: hung"])
  assert.deepEqual(events, ['0 started 1', '100 hung 1', '100 restarting 1', '100 started 2', '100 completed 2'])
  assert.equal(run.status().progress, 3)
})

test('start({ failuresHere }): failures counted elsewhere at the resume point count on here (a cluster checkpoint)', async () => {
  const clock = new ManualClock()
  const seen: Array<{ failuresHere: number; poisoned: boolean; resume: unknown }> = []
  const ward = async (ctx: WardContext<number>): Promise<void> => {
    seen.push({ failuresHere: ctx.failuresHere, poisoned: ctx.poisoned, resume: ctx.resume })
    if (ctx.poisoned) {
      ctx.deadLetter('input 4', 5)
      return
    }
    throw new Error('poison at 4')
  }
  const run = steward(ward, { poisonAfter: 3, restart: 'transient', backoff: fixed(0) }).start({ clock, resume: 4, failuresHere: 2 })
  const outcome = await clock.runUntil(run.done)
  assert.equal(outcome.kind, 'completed')
  assert.deepEqual(seen, [
    { failuresHere: 2, poisoned: false, resume: 4 },
    { failuresHere: 3, poisoned: true, resume: 4 },
  ])
  assert.throws(() => steward(ward).start({ failuresHere: -1 }), /option 'failuresHere' must be a whole number >= 0, got number -1/)
})
