// startTimeout: the deadline for an incarnation's first sign of life, then `timeout`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ManualClock } from '../time/manual-clock.js'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import { steward } from './steward.js'
import type { WardContext } from './ward.js'
import { aborted } from '../testing/wait.js'

/** The times of `hung` events (with `starting`) until `until` ms. */
async function hangs(ward: (ctx: WardContext) => Promise<unknown>, options: Parameters<typeof steward>[1], until: number): Promise<string[]> {
  const clock = new ManualClock()
  const seen: string[] = []
  const { leaks } = await checkLeaks(async () => {
    const run = steward(ward, { maxRestarts: Infinity, ...options }).start({
      clock,
      onEvent: (event) => {
        if (event.type === 'hung') seen.push(`${event.at} ${event.starting ? 'start' : 'beat'} ${event.timeout}`)
      },
    })
    await clock.advance(until)
    await clock.runUntil(run.stop())
    assert.equal(clock.now(), until, 'the stop took no time')
  })
  assert.deepEqual(leaks, noLeaks)
  return seen
}

test('a ward that first beats at 1.5 s with timeout 1 s and startTimeout 2 s is healthy', async () => {
  const clock = new ManualClock()
  let hung = 0
  const run = steward(
    async (ctx: WardContext) => {
      await clock.sleep(1_500, ctx.signal)
      for (;;) {
        ctx.beat()
        await clock.sleep(500, ctx.signal)
      }
    },
    { timeout: '1s', startTimeout: '2s' },
  ).start({ clock, onEvent: (event) => void (event.type === 'hung' && hung++) })
  await clock.advance(10_000)
  assert.equal(hung, 0)
  assert.equal(run.status().attempt, 1)
  await clock.runUntil(run.stop())
  // Without the start deadline, the same ward is hung at 1 s.
  assert.deepEqual(
    await hangs(
      async (ctx) => {
        await ctx.clock.sleep(1_500, ctx.signal)
      },
      { timeout: '1s' },
      1_200,
    ),
    ['1000 start 1000'],
  )
})

test('a ward that never shows life is hung at startTimeout, each incarnation again', async () => {
  assert.deepEqual(await hangs((ctx) => aborted(ctx.signal), { timeout: '1s', startTimeout: '2s' }, 5_000), ['2000 start 2000', '4000 start 2000'])
  // A start deadline shorter than the steady one.
  assert.deepEqual(await hangs((ctx) => aborted(ctx.signal), { timeout: '1s', startTimeout: '300ms' }, 1_000), ['300 start 300', '600 start 300', '900 start 300'])
  // The same after a crash of an incarnation that was up (its steady deadline was filed).
  assert.deepEqual(
    await hangs(
      async (ctx) => {
        if (ctx.attempt > 1) return aborted(ctx.signal)
        ctx.beat()
        await ctx.clock.sleep(50, ctx.signal)
        throw new Error('crash')
      },
      { timeout: '1s', startTimeout: '300ms' },
      1_000,
    ),
    ['350 start 300', '650 start 300', '950 start 300'],
  )
})

test('after the first beat, timeout applies at once, even when the start deadline was longer', async () => {
  const seen = await hangs(
    async (ctx) => {
      await ctx.clock.sleep(100, ctx.signal)
      ctx.beat() // up at 100, then silent: hung at 100 + 1000, not at the start deadline
      await aborted(ctx.signal)
    },
    { timeout: '1s', startTimeout: '5s' },
    1_500,
  )
  assert.deepEqual(seen, ['1100 beat 1000'])
})

test('a beat in the instant the incarnation started moves it to the steady timeout', async () => {
  const seen = await hangs(
    async (ctx) => {
      ctx.beat() // at once: up, its deadline is now `timeout` (1 s) from this beat
      await ctx.clock.sleep(900, ctx.signal)
      ctx.beat()
      await aborted(ctx.signal)
    },
    { timeout: '1s', startTimeout: '300ms' },
    2_500,
  )
  assert.deepEqual(seen, ['1900 beat 1000'])
})

test('an idle wait or a delivered output counts as up', async () => {
  const clock = new ManualClock()
  // Idle at once, then busy without beating: the steady timeout applies from the end of the wait.
  const seen = await hangs(
    async (ctx) => {
      await ctx.idle(ctx.clock.sleep(200, ctx.signal))
      await aborted(ctx.signal)
    },
    { timeout: '1s', startTimeout: '10s' },
    1_500,
  )
  assert.deepEqual(seen, ['1200 beat 1000'])
  const outputs: number[] = []
  const streamHangs: number[] = []
  const run = steward(
    async function* (ctx: WardContext) {
      yield 1
      await aborted(ctx.signal)
    },
    { timeout: '1s', startTimeout: '10s', maxRestarts: 0 },
  ).start({ clock, onEvent: (event) => void (event.type === 'hung' && streamHangs.push(event.at)) })
  const start = clock.now()
  const consume = (async () => {
    for await (const value of run) outputs.push(value)
  })().catch((error: unknown) => error)
  await clock.advance(2_000)
  assert.match(String(await clock.runUntil(consume)), /GaveUpError/)
  assert.deepEqual(outputs, [1])
  assert.deepEqual(streamHangs, [start + 1_000])
})

test('startTimeout is validated and defaults to timeout', async () => {
  assert.throws(() => steward(async () => {}, { startTimeout: 0 }), /option 'startTimeout'/)
  assert.deepEqual(await hangs((ctx) => aborted(ctx.signal), { timeout: '700ms' }, 1_000), ['700 start 700'])
})

test('every first sign of life after a slow start counts as a beat: the steady deadline runs from it', async () => {
  // Booting for 500 ms under a 5 s start deadline, then one sign of life, then silent: hung one
  // steady timeout (300 ms) after the sign, never at once because the start was long ago.
  const signs: Record<string, (ctx: WardContext) => Promise<unknown>> = {
    'a beat at 500': async (ctx) => ctx.beat(),
    'a dead letter at 500': async (ctx) => ctx.deadLetter('input', 1),
    'a beat with progress at 500': async (ctx) => ctx.beat(1),
    'an idle wait from 500 to 600': (ctx) => ctx.idle(ctx.clock.sleep(100, ctx.signal)),
  }
  for (const [sign, show] of Object.entries(signs)) {
    const seen = await hangs(
      async (ctx) => {
        if (ctx.attempt > 1) return aborted(ctx.signal)
        await ctx.clock.sleep(500, ctx.signal)
        await show(ctx)
        await aborted(ctx.signal)
      },
      { timeout: '300ms', startTimeout: '5s' },
      1_000,
    )
    assert.deepEqual(seen.slice(0, 1), [sign.startsWith('an idle') ? '900 beat 300' : '800 beat 300'], sign)
  }
  // A stream ward whose first output comes at 500: delivered at once, then working (and silent) again.
  const clock = new ManualClock()
  const seen: string[] = []
  const run = steward(
    async function* (ctx: WardContext) {
      await ctx.clock.sleep(500, ctx.signal)
      yield 1
      await aborted(ctx.signal)
    },
    { timeout: '300ms', startTimeout: '5s', maxRestarts: 0 },
  ).start({ clock, onEvent: (event) => void (event.type === 'hung' && seen.push(`${event.at} ${event.starting ? 'start' : 'beat'} ${event.timeout}`)) })
  const consume = (async () => {
    for await (const _ of run) {
      // drain
    }
  })().catch(() => {})
  await clock.advance(1_000)
  await clock.runUntil(consume)
  assert.deepEqual(seen, ['800 beat 300'])
})

test('a dead letter after the first sign of life counts as a beat too', async () => {
  const seen = await hangs(
    async (ctx) => {
      if (ctx.attempt > 1) return aborted(ctx.signal)
      ctx.beat()
      await ctx.clock.sleep(250, ctx.signal)
      ctx.deadLetter('input', 1) // at 250: the deadline moves to 550
      await aborted(ctx.signal)
    },
    { timeout: '300ms' },
    1_000,
  )
  assert.deepEqual(seen.slice(0, 1), ['550 beat 300'])
})

test('a beat then a throw in one instant: the next incarnation still gets its (longer) start deadline', async () => {
  const seen = await hangs(
    async (ctx) => {
      if (ctx.attempt > 1) return aborted(ctx.signal)
      ctx.beat() // up at 0: filed under 0 + 300
      throw new Error('crash') // replaced at 0: the new incarnation's deadline is 0 + 5000, not 300
    },
    { timeout: '300ms', startTimeout: '5s' },
    10_500,
  )
  assert.deepEqual(seen, ['5000 start 5000', '10000 start 5000'])
})

test('a slow start is no livelock: the progress deadline runs from the first sign of life', async () => {
  const clock = new ManualClock()
  const seen: string[] = []
  const run = steward(
    async (ctx: WardContext) => {
      if (ctx.attempt > 1) return aborted(ctx.signal)
      await ctx.clock.sleep(5_000, ctx.signal) // booting, past progressTimeout, within startTimeout
      for (;;) {
        ctx.beat() // up at 5000, then alive without progress: stalled at 5000 + 3000
        await ctx.clock.sleep(100, ctx.signal)
      }
    },
    { timeout: '1s', startTimeout: '10s', progressTimeout: '3s', maxRestarts: Infinity },
  ).start({ clock, onEvent: (event) => void ((event.type === 'stalled' || event.type === 'hung') && seen.push(`${event.at} ${event.type} ${event.attempt}`)) })
  await clock.advance(20_000)
  await clock.runUntil(run.stop())
  // The second incarnation never shows life: hung at its start deadline, not stalled at 3 s.
  assert.deepEqual(seen, ['8000 stalled 1', '18000 hung 2'])
  // Up at once, with a progress deadline shorter than the heartbeat's: stalled at exactly progressTimeout.
  const stalls: number[] = []
  const livelock = steward(
    async (ctx: WardContext) => {
      for (;;) {
        ctx.beat()
        await ctx.clock.sleep(100, ctx.signal)
      }
    },
    { timeout: '5s', progressTimeout: '1s', maxRestarts: 0 },
  ).start({ clock, onEvent: (event) => void (event.type === 'stalled' && stalls.push(event.at - start)) })
  const start = clock.now()
  await clock.runUntil(livelock.done)
  assert.deepEqual(stalls, [1_000])
  // A beat then a throw in one instant: the next incarnation is not found stalled at 3 s either.
  assert.deepEqual(
    await hangs(
      async (ctx) => {
        if (ctx.attempt > 1) return aborted(ctx.signal)
        ctx.beat()
        throw new Error('crash')
      },
      { timeout: '1s', startTimeout: '10s', progressTimeout: '3s' },
      10_500,
    ),
    ['10000 start 10000'],
  )
  // The same when the start deadline is the steady one: the old filing under the progress deadline does not stand.
  assert.deepEqual(
    await hangs(
      async (ctx) => {
        if (ctx.attempt > 1) return aborted(ctx.signal)
        ctx.beat()
        throw new Error('crash')
      },
      { timeout: '5s', progressTimeout: '1s' },
      5_500,
    ),
    ['5000 start 5000'],
  )
})
