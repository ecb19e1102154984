// ctx.idle(promise) and ctx.idle((signal) => promise): a ward waiting for input leaves at once when its
// incarnation is retired (a stop, a restart of any cause, a supervisor's strategy restart).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ManualClock } from '../time/manual-clock.js'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import { supervisor } from '../tree/supervisor.js'
import { steward } from './steward.js'
import type { WardContext } from './ward.js'

/** An input that never comes unless `signal` aborts (then it rejects with the reason), leaving no listener. */
function never(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) return reject(signal.reason)
    signal.addEventListener('abort', () => reject(signal.reason), { once: true })
  })
}

test('stop while waiting for input (the signal form): stop() settles without the clock moving, the report is empty', async () => {
  const clock = new ManualClock()
  const reasons: unknown[] = []
  const { leaks } = await checkLeaks(async () => {
    const run = steward(
      async (ctx: WardContext) => {
        for (;;) {
          await ctx.idle((signal) => {
            signal.addEventListener('abort', () => reasons.push(signal.reason), { once: true })
            return never(signal)
          })
        }
      },
      { timeout: '1s' },
    ).start({ clock })
    await clock.advance(100)
    assert.deepEqual(await clock.runUntil(run.stop('shutdown')), { unstopped: [], killed: [] })
    assert.equal(clock.now(), 100, 'no stopTimeout waited')
  })
  assert.deepEqual(reasons, ['shutdown'], 'the signal the wait got aborted with the retirement reason')
  assert.deepEqual(leaks, noLeaks)
})

test('idleTimeout while waiting for input: the next incarnation starts at once, not after stopTimeout', async () => {
  const clock = new ManualClock()
  const starts: number[] = []
  const run = steward(
    async (ctx: WardContext) => {
      starts.push(clock.now())
      await ctx.idle((signal) => never(signal))
    },
    { timeout: '1s', idleTimeout: '2s', maxRestarts: Infinity },
  ).start({ clock })
  await clock.advance(5_000)
  await clock.runUntil(run.stop())
  assert.deepEqual(starts, [0, 2_000, 4_000])
})

const waits: Record<string, (ctx: WardContext) => Promise<unknown>> = {
  'the signal form': (ctx) => ctx.idle((signal) => never(signal)),
  'a plain promise': (ctx) => ctx.idle(new Promise(() => {})),
}
for (const [form, wait] of Object.entries(waits)) {
  test(`a supervisor restarting an idle sibling (one-for-all) does not wait for it: ${form}`, async () => {
    const clock = new ManualClock()
    const starts: string[] = []
    let crashed = false
    const run = supervisor({ strategy: 'one-for-all' }, [
      {
        name: 'consumer',
        ward: async (ctx: WardContext) => {
          starts.push(`${clock.now()} consumer`)
          await wait(ctx)
        },
      },
      {
        name: 'crashy',
        ward: async (ctx: WardContext) => {
          starts.push(`${clock.now()} crashy`)
          if (!crashed) {
            crashed = true
            await clock.sleep(100, ctx.signal)
            throw new Error('crash')
          }
          await wait(ctx)
        },
      },
    ]).start({ clock })
    await clock.advance(1_000)
    const before = clock.now()
    assert.deepEqual(await clock.runUntil(run.stop()), { unstopped: [], killed: [] })
    assert.equal(clock.now(), before)
    assert.deepEqual(starts, ['0 consumer', '0 crashy', '100 consumer', '100 crashy'])
  })
}

test('idle on a retired incarnation rejects at once with the abort reason; a throwing waiting function rejects the wait', async () => {
  const clock = new ManualClock()
  let old: WardContext | undefined
  const run = steward(async (ctx: WardContext) => {
    old ??= ctx
    await ctx.idle(() => {
      throw new Error('cannot wait')
    })
  }, { maxRestarts: 0 }).start({ clock })
  const outcome = await clock.runUntil(run.done)
  assert.equal(outcome.kind, 'gave-up')
  assert.equal(outcome.kind === 'gave-up' ? outcome.error.cause.message : '', 'cannot wait')
  const late = old!.idle(Promise.resolve(1))
  await assert.rejects(late, (error: Error) => error.name === 'WardRetiredError' && /retired: the steward gave up/.test(error.message))
})

// The plain form: a promise steward cannot cancel. The wait still ends at the retirement.
const shapes = {
  'a promise ward': (inputs: Array<() => void>, reasons: unknown[]) => async (ctx: WardContext) => {
    for (;;) {
      try {
        await ctx.idle(new Promise<void>((resolve) => inputs.push(resolve)))
      } catch (reason) {
        reasons.push(reason)
        throw reason
      }
    }
  },
  'a stream ward': (inputs: Array<() => void>, reasons: unknown[]) =>
    async function* (ctx: WardContext) {
      for (let n = 0; ; n++) {
        try {
          await ctx.idle(new Promise<void>((resolve) => inputs.push(resolve)))
        } catch (reason) {
          reasons.push(reason)
          throw reason
        }
        yield n
      }
    },
  'a nested steward': (inputs: Array<() => void>, reasons: unknown[]) =>
    steward(async (ctx: WardContext) => {
      try {
        await ctx.idle(new Promise<void>((resolve) => inputs.push(resolve)))
      } catch (reason) {
        reasons.push(reason)
        throw reason
      }
    }, { timeout: '1s' }),
}

for (const [shape, make] of Object.entries(shapes)) {
  test(`stop while waiting for input (the plain form), ${shape}: the wait rejects with the stop's reason at once, the report is empty`, async () => {
    const clock = new ManualClock()
    const inputs: Array<() => void> = []
    const reasons: unknown[] = []
    const { leaks } = await checkLeaks(async () => {
      const run = steward(make(inputs, reasons), { timeout: '1s' }).start({ clock })
      const drained = (async () => {
        for await (const _ of run);
      })()
      await clock.advance(100)
      assert.deepEqual(await clock.runUntil(run.stop('shutdown')), { unstopped: [], killed: [] })
      assert.equal(clock.now(), 100, 'no stopTimeout waited')
      await drained
      for (const input of inputs) input() // the input comes after all: nothing is waiting for it any more
    })
    assert.deepEqual(reasons, ['shutdown'])
    assert.equal(inputs.length, 1)
    assert.deepEqual(leaks, noLeaks)
  })

  test(`idleTimeout while waiting for input (the plain form), ${shape}: the next incarnation starts at once`, async () => {
    const clock = new ManualClock()
    const inputs: Array<() => void> = []
    const reasons: unknown[] = []
    const starts: number[] = []
    const run = steward(make(inputs, reasons), { timeout: '1s', idleTimeout: '2s', maxRestarts: Infinity }).start({
      clock,
      onEvent: (event) => {
        if (event.type === 'started' && event.path.split('/').length === 1) starts.push(event.at)
      },
    })
    const drained = (async () => {
      for await (const _ of run);
    })()
    await clock.advance(5_000)
    await clock.runUntil(run.stop())
    await drained
    assert.deepEqual(starts, [0, 2_000, 4_000])
    assert.equal(reasons.length, 3, 'each wait ended: two idle timeouts and the stop')
  })
}

test('an input that comes while waiting wakes the ward with its value or error; the deadline runs again first', async () => {
  const clock = new ManualClock()
  const got: string[] = []
  const events: string[] = []
  let give!: (value: string) => void
  let fail!: (error: Error) => void
  const run = steward(async (ctx: WardContext) => {
    got.push(await ctx.idle(new Promise<string>((resolve) => (give = resolve))))
    try {
      await ctx.idle(new Promise<string>((_, reject) => (fail = reject)))
    } catch (error) {
      got.push((error as Error).message)
    }
    await clock.sleep(5_000, ctx.signal) // works without a beat: hung a second after the input came
  }, { timeout: '1s', restart: 'temporary' }).start({ clock, onEvent: (event) => events.push(`${event.at} ${event.type}`) })
  await clock.advance(5_000) // idle: never hung
  give('message')
  await clock.advance(1)
  fail(new Error('broken input'))
  await clock.runUntil(run.done)
  assert.deepEqual(got, ['message', 'broken input'])
  assert.deepEqual(events, ['0 started', '6001 hung', '6001 gave-up'])
})

test('idleTimeout shorter than timeout fires at idleTimeout: idle at once, idle after working, idle right after a beat', async () => {
  const clock = new ManualClock()
  const events: string[] = []
  const { leaks } = await checkLeaks(async () => {
    const run = steward(
      async (ctx: WardContext) => {
        if (ctx.attempt === 2) {
          // Works (beating) for 3 s, then waits for input that never comes.
          for (let i = 0; i < 3; i++) {
            ctx.beat()
            await ctx.clock.sleep(1_000, ctx.signal)
          }
        }
        if (ctx.attempt === 3) ctx.beat()
        await ctx.idle((signal) => never(signal))
      },
      { timeout: '10s', idleTimeout: '2s', maxRestarts: 2, within: Infinity },
    ).start({
      clock,
      onEvent: (event) => {
        if (event.type === 'started' || event.type === 'idle-timeout' || event.type === 'gave-up') events.push(`${event.at} ${event.type} ${event.attempt}`)
      },
    })
    await clock.runUntil(run.done)
  })
  assert.deepEqual(events, [
    '0 started 1',
    '2000 idle-timeout 1', // idle at once (its working deadline, timeout, was 10 s)
    '2000 started 2',
    '7000 idle-timeout 2', // idle from 5000 on
    '7000 started 3',
    '9000 idle-timeout 3', // a beat, then idle in the same instant
    '9000 gave-up 3',
  ])
  assert.deepEqual(leaks, noLeaks)
})
