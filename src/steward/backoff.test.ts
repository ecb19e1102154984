import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ManualClock } from '../time/manual-clock.js'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import { exponential, resetAfter } from '../policy/backoff.js'
import { steward } from './steward.js'
import type { WardContext } from './ward.js'

test('restarts wait for the backoff policy: exact delays on the clock', async () => {
  const clock = new ManualClock()
  const starts: number[] = []
  const delays: number[] = []
  const ward = async (ctx: WardContext): Promise<void> => {
    starts.push(clock.now())
    if (ctx.attempt < 5) throw new Error('fails at once')
  }
  const run = steward(ward, { maxRestarts: 10, backoff: exponential({ initial: 100, factor: 2, max: 350 }) }).start({
    clock,
    onEvent: (event) => {
      if (event.type === 'restarting') delays.push(event.delay)
    },
  })
  assert.equal((await clock.runUntil(run.done)).kind, 'completed')
  assert.deepEqual(delays, [100, 200, 350, 350])
  assert.deepEqual(starts, [0, 100, 300, 650, 1000])
})

test('a stop during a backoff wait ends the run at once and leaves no timer', async () => {
  const clock = new ManualClock()
  let calls = 0
  const ward = async (): Promise<void> => {
    calls++
    throw new Error('fails')
  }
  const { result, leaks } = await checkLeaks(async () => {
    const run = steward(ward, { maxRestarts: 10, backoff: exponential({ initial: '1m' }) }).start({ clock })
    await clock.advance(150) // the first incarnation failed at 0; the next one is due at 60,000
    const stopAt = clock.now()
    // runUntil advances the clock from timer to timer until the stop settles: a stop that waited
    // for the backoff (or for anything on the clock) would move it.
    const report = await clock.runUntil(run.stop())
    return { report, outcome: await run.done, stopAt, stoppedAt: clock.now() }
  })
  assert.equal(result.stopAt, 150)
  assert.equal(result.stoppedAt, result.stopAt, 'the stop settled without the clock moving')
  assert.deepEqual(result.report, { unstopped: [], killed: [] })
  assert.deepEqual(result.outcome, { kind: 'stopped', reason: undefined, unstopped: [], attempts: 1, restarts: 1 })
  assert.equal(calls, 1, 'no incarnation started after the stop')
  assert.equal(clock.pendingTimers, 0)
  assert.deepEqual(leaks, noLeaks)
})

test('resetAfter forgets the backoff after a stable incarnation (its uptime)', async () => {
  const clock = new ManualClock()
  const delays: number[] = []
  const uptimes = [0, 0, 700, 0, 0] // the third incarnation runs 700 ms before it fails
  const ward = async (ctx: WardContext): Promise<void> => {
    const uptime = uptimes[ctx.attempt - 1]
    if (uptime === undefined) return
    if (uptime > 0) await clock.sleep(uptime, ctx.signal)
    throw new Error('fails')
  }
  const run = steward(ward, {
    maxRestarts: 10,
    backoff: resetAfter(exponential({ initial: 10, factor: 10, max: '1h' }), 500),
  }).start({
    clock,
    onEvent: (event) => {
      if (event.type === 'restarting') delays.push(event.delay)
    },
  })
  await clock.runUntil(run.done)
  assert.deepEqual(delays, [10, 100, 10, 100, 1000])
})

test('a backoff option that is not a policy is refused', () => {
  assert.throws(() => steward(async () => {}, { backoff: 100 as never }), /option 'backoff' must be a backoff policy/)
})
