import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ManualClock } from './manual-clock.js'
import { systemClock } from './clock.js'

test('timers fire in time order as the clock advances, at their own time', async () => {
  const clock = new ManualClock(100)
  const fired: string[] = []
  clock.setTimer(30, () => fired.push(`b@${clock.now()}`))
  clock.setTimer(10, () => fired.push(`a@${clock.now()}`))
  clock.setTimer(30, () => fired.push(`c@${clock.now()}`))
  const cancelled = clock.setTimer(20, () => fired.push('never'))
  cancelled.cancel()
  cancelled.cancel()
  assert.equal(clock.pendingTimers, 3)
  await clock.advance(25)
  assert.deepEqual(fired, ['a@110'])
  assert.equal(clock.now(), 125)
  await clock.advance(5)
  assert.deepEqual(fired, ['a@110', 'b@130', 'c@130'])
  assert.equal(clock.pendingTimers, 0)
})

test('continuations of a timer run before the clock moves on', async () => {
  const clock = new ManualClock()
  const seen: number[] = []
  void (async () => {
    for (let i = 0; i < 3; i++) {
      await clock.sleep(10)
      await Promise.resolve()
      seen.push(clock.now())
    }
  })()
  await clock.advance(100)
  assert.deepEqual(seen, [10, 20, 30])
})

test('sleep rejects with the signal reason and releases its timer', async () => {
  const clock = new ManualClock()
  const controller = new AbortController()
  const sleeping = clock.sleep(1_000, controller.signal)
  assert.equal(clock.pendingTimers, 1)
  controller.abort(new Error('cancelled'))
  await assert.rejects(sleeping, /cancelled/)
  assert.equal(clock.pendingTimers, 0)
  await assert.rejects(clock.sleep(5, AbortSignal.abort('already')), (reason) => reason === 'already')
})

test('runUntil advances until the promise settles, and reports a deadlock', async () => {
  const clock = new ManualClock()
  assert.equal(await clock.runUntil(clock.sleep(5_000).then(() => 'woke')), 'woke')
  assert.equal(clock.now(), 5_000)
  await assert.rejects(clock.runUntil(new Promise(() => {})), /still pending at 5000 ms and no timer is left/)
  clock.setTimer(10_000, () => {})
  await assert.rejects(clock.runUntil(new Promise(() => {}), { until: 6_000 }), /still pending at 6000 ms/)
  assert.equal(clock.now(), 6_000)
})

test('bad arguments are refused', async () => {
  const clock = new ManualClock()
  assert.throws(() => clock.setTimer(-1, () => {}), /ms must be a non-negative number/)
  await assert.rejects(clock.advance(-5), /advance: ms must be/)
  assert.throws(() => new ManualClock(NaN), /start must be finite/)
})

test('the system clock sleeps for real and can be cancelled', async () => {
  const before = systemClock.now()
  await systemClock.sleep(5)
  assert.ok(systemClock.now() - before >= 4)
  const controller = new AbortController()
  const sleeping = systemClock.sleep(60_000, controller.signal)
  controller.abort('stop')
  await assert.rejects(sleeping, (reason) => reason === 'stop')
})
