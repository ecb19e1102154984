// The node core's local deadline on a clock whose timers fire a little early, as Node's do: its
// timers run on the event loop's millisecond clock, which can be up to ~2 ms ahead of
// `performance.now()` (measured: about half of the timers of a busy loop fire early).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ManualClock } from '../time/manual-clock.js'
import { sleepOn, type Clock } from '../time/clock.js'
import { LOCAL_DEADLINE, NodeCore, type CoreEvent } from './node-core.js'
import type { Checkpoint, LeaseStore } from './store.js'

const LEASE_TTL = 1_000
const BEAT = 300

/** `inner`'s time, with every timer of at least 2 × `early` ms firing `early` ms before it is due. */
function earlyClock(inner: ManualClock, early: number): Clock {
  const clock: Clock = {
    now: () => inner.now(),
    setTimer: (ms, callback) => inner.setTimer(ms >= 2 * early ? ms - early : ms, callback),
    sleep: (ms, signal) => sleepOn(clock, ms, signal),
  }
  return clock
}

/** A store that answers the join, one renew and the claim of `w0`, then never answers again (Redis out of reach). */
function storeThatGoesSilent(): { store: LeaseStore; silence: () => void } {
  let silent = false
  const never = new Promise<never>(() => {})
  const answer = <T>(value: T): Promise<T> => (silent ? never : Promise.resolve(value))
  const store: LeaseStore = {
    join: () => answer(1),
    renew: (node, epoch) => answer({ ok: true, members: [{ node, epoch }], wardsVersion: 1, time: 0 }),
    alive: () => answer(true),
    leave: () => answer(undefined),
    wards: () => answer({ ids: ['w0'], version: 1 }),
    addWards: () => answer(0),
    claim: () => answer({ kind: 'claimed' as const, token: 7, checkpoint: { progress: undefined, failures: 0 } }),
    checkpoint: () => answer('written' as const),
    release: () => answer('written' as const),
  }
  return { store, silence: () => void (silent = true) }
}

test('node core: a deadline timer that fires before the deadline arms itself again; the node stops its wards at the local deadline although no renew answers', async () => {
  const manual = new ManualClock(0)
  const clock = earlyClock(manual, 1)
  const { store, silence } = storeThatGoesSilent()
  const events: CoreEvent[] = []
  const running = new Set<string>()
  const core = new NodeCore({
    node: 'a',
    store,
    runner: {
      start: (ward) => void running.add(ward),
      stop: (ward): Promise<Checkpoint> => {
        running.delete(ward)
        return Promise.resolve({ progress: undefined, failures: 0 })
      },
      committed: () => ({ progress: undefined, failures: 0 }),
    },
    clock,
    leaseTtl: LEASE_TTL,
    beat: BEAT,
    checkpointEvery: 100,
    maxWardsPerNode: Infinity,
    opTimeout: BEAT,
    onEvent: (event) => void events.push(event),
  })
  await core.beat()
  await core.settled()
  assert.deepEqual([...running], ['w0'], 'the node joined and runs its ward')
  const deadline = LEASE_TTL * LOCAL_DEADLINE
  assert.equal(core.deadline, deadline)
  // Redis goes out of reach: the next renews get no reply.
  silence()
  void core.beat()
  await manual.advance(deadline - 1)
  assert.deepEqual([...running], ['w0'], 'still running before the deadline')
  await manual.advance(2)
  assert.equal(core.live(), false)
  assert.deepEqual(events.filter((e) => e.type === 'lease-lost'), [{ type: 'lease-lost', node: 'a', epoch: 1, why: 'deadline', wards: ['w0'] }], 'the lease was given up at the deadline')
  assert.deepEqual([...running], [], 'the ward was stopped at the deadline')
  await core.settled()
  assert.equal(manual.pendingTimers, 0, 'no timer left')
})
