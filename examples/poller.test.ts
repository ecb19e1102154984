// Testing your own ward (examples/poller.ts) with ManualClock and node:test: time only moves when
// the test says so, so each deadline and restart happens at an exact, asserted instant, and the
// test takes milliseconds. Run: node --import tsx --test examples/poller.test.ts
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fixed, ManualClock, steward } from 'steward'
import { poller, type Source } from './poller.js'

/** A source that records when it was read and answers each read with `answer(n)`. */
function fakeSource(clock: ManualClock, answer: (read: number, signal: AbortSignal) => Promise<readonly string[]>): Source & { readonly reads: number[] } {
  const reads: number[] = []
  return {
    reads,
    read: (signal) => {
      reads.push(clock.now())
      return answer(reads.length, signal)
    },
  }
}

/** A read that never answers, but gives up when its signal aborts, as a well-behaved one does. */
const hangs = (signal: AbortSignal): Promise<never> =>
  new Promise((_, reject) => signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true }))

test('the poller reads once per interval and passes the items on', async () => {
  const clock = new ManualClock()
  const seen: string[] = []
  const source = fakeSource(clock, async (read) => [`item ${read}`])
  const run = steward(poller(source, (items) => seen.push(...items), 1_000), { timeout: '5s' }).start({ clock })
  await clock.advance(3_000)
  assert.deepEqual(source.reads, [0, 1_000, 2_000, 3_000])
  assert.deepEqual(seen, ['item 1', 'item 2', 'item 3', 'item 4'])
  await run.stop()
})

test('a read that hangs is abandoned at the timeout, and the poller restarts after its backoff', async () => {
  const clock = new ManualClock()
  const source = fakeSource(clock, async (read, signal) => (read === 2 ? hangs(signal) : ['ok']))
  const run = steward(poller(source, () => {}, 1_000), { timeout: '5s', backoff: fixed('2s') }).start({ clock })
  const hung: number[] = []
  run.on('hung', (event) => hung.push(event.at))
  await clock.advance(10_000)
  // Read 2 starts at 1 s and hangs; no beat for 5 s: hung at 6 s; restarted 2 s later, at 8 s.
  assert.deepEqual(hung, [6_000])
  assert.deepEqual(source.reads, [0, 1_000, 8_000, 9_000, 10_000])
  assert.equal(run.status().restarts, 1)
  await run.stop()
})

test('stopping the poller leaves no timer behind', async () => {
  const clock = new ManualClock()
  const run = steward(poller(fakeSource(clock, async () => []), () => {}), { timeout: '5s' }).start({ clock })
  await clock.advance(2_500)
  const report = await run.stop()
  assert.deepEqual(report.unstopped, [])
  assert.equal(clock.pendingTimers, 0)
})
