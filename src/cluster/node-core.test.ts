// The node core's local deadline on a clock whose timers fire a little early, as Node's do: its
// timers run on the event loop's millisecond clock, which can be up to ~2 ms ahead of
// `performance.now()` (measured: about half of the timers of a busy loop fire early).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ManualClock } from '../time/manual-clock.js'
import { sleepOn, type Clock } from '../time/clock.js'
import { CLAIMS_IN_FLIGHT, LOCAL_DEADLINE, NodeCore, type CoreEvent } from './node-core.js'
import type { Checkpoint, LeaseStore } from './store.js'
import { SimRedis } from '../testing/sim-redis.js'

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
    wards: () => answer({ ids: ['w0'], version: 1, finished: new Map() }),
    addWards: () => answer(0),
    retire: () => answer(undefined),
    reopen: () => answer(false),
    finish: () => answer('written' as const),
    clockOf: () => undefined,
    time: () => answer(0),
    claim: () => answer({ kind: 'claimed' as const, token: 7, checkpoint: { progress: undefined, failures: 0 }, from: null }),
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
    wardStop: LEASE_TTL * 0.15,
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

/** `redis` as the node core's store: each script one step, answered at once. */
function simStore(redis: SimRedis): LeaseStore {
  return {
    join: (node, ttl) => Promise.resolve(redis.join(node, ttl)),
    renew: (node, epoch, ttl, leaving) => Promise.resolve(redis.renew(node, epoch, ttl, leaving)),
    alive: (member) => Promise.resolve(redis.alive(member)),
    leave: (node, epoch) => Promise.resolve(redis.leave(node, epoch)),
    wards: () => Promise.resolve(redis.wards()),
    addWards: (ids, again) => Promise.resolve(redis.addWards(ids, again)),
    retire: (ward, finished) => Promise.resolve(redis.retire(ward, finished)),
    reopen: (ward) => Promise.resolve(redis.reopen(ward)),
    finish: (ward, token, seq, checkpoint, kept, finished) => Promise.resolve(redis.finish(ward, token, seq, checkpoint, kept, finished)),
    claim: (ward, node, epoch, notAfter, ifOwners) => Promise.resolve(redis.claim(ward, node, epoch, notAfter, ifOwners)),
    clockOf: (ward) => (redis.masterOf(ward) === undefined ? undefined : String(redis.masterOf(ward))),
    time: (ward) => Promise.resolve(redis.timeOf(ward)),
    checkpoint: (ward, token, seq, checkpoint, kept) => Promise.resolve(redis.checkpoint(ward, token, seq, checkpoint, kept)),
    release: (ward, token, seq, checkpoint, kept) => Promise.resolve(redis.release(ward, token, seq, checkpoint, kept)),
  }
}

test("node core: once a ward commits its own progress, the node's checkpoints and release keep it, though the run's progress lags behind the commit", async () => {
  const clock = new ManualClock(0)
  const redis = new SimRedis(() => clock.now())
  redis.addWards(['w0'])
  // The run's committed progress as the runner reports it: behind the commit until the output is delivered.
  let run: Checkpoint = { progress: '2', failures: 0 }
  const core = new NodeCore({
    node: 'a',
    store: simStore(redis),
    runner: { start: () => {}, stop: () => Promise.resolve(run), committed: () => run },
    clock,
    leaseTtl: LEASE_TTL,
    wardStop: LEASE_TTL * 0.15,
    beat: BEAT,
    checkpointEvery: 100,
    maxWardsPerNode: Infinity,
    opTimeout: BEAT,
  })
  await core.beat()
  await core.settled()
  const token = core.tokenOf('w0')!
  assert.equal(token, 1)
  // The ward commits input 2's effect with progress 3; its output is not delivered yet.
  let effects = 0
  const seq = core.commitSeq('w0', token)!
  assert.equal(redis.commit('w0', token, seq, '3', () => effects++), 'applied')
  core.commitStored('w0', token, '3')
  assert.equal(redis.commit('w0', token, core.commitSeq('w0', token)!, '3', () => effects++), 'duplicate', 'a retry of the same progress runs nothing')
  assert.equal(effects, 1)
  run = { progress: '2', failures: 1 }
  await clock.advance(BEAT)
  await core.beat()
  await core.settled()
  assert.equal(redis.records.get('w0')!.progress, '3', 'the periodic checkpoint did not move the progress back to the run’s')
  assert.equal(redis.records.get('w0')!.failures, 0, 'failures at another position are not written')
  // The output is delivered; then the next input fails twice at position 3.
  run = { progress: '3', failures: 2 }
  await clock.advance(BEAT)
  await core.beat()
  await core.settled()
  assert.deepEqual({ ...redis.records.get('w0')!, seq: 0 }, { node: 'a', epoch: 1, token: 1, progress: '3', failures: 2, seq: 0, state: '', reason: '' }, 'failures at the committed position are checkpointed')
  // A hand-over whose stop reports an older progress: the release keeps the commit's.
  run = { progress: '2', failures: 0 }
  await core.leave(async () => {
    await core.beat()
    await core.settled()
  })
  assert.equal(redis.records.get('w0')!.node, '', 'released')
  assert.equal(redis.records.get('w0')!.progress, '3', 'the release kept the committed progress')
})

test('node core: a node whose renewal is refused does not start a ward again while its own stop of it is still running; a stop past wardStop is reported', async () => {
  const clock = new ManualClock(0)
  let epoch = 0
  let refuse = false
  const store: LeaseStore = {
    join: () => Promise.resolve(++epoch),
    renew: (node, e) => Promise.resolve({ ok: !refuse, members: refuse ? [] : [{ node, epoch: e }], wardsVersion: 1, time: clock.now() }),
    alive: () => Promise.resolve(false),
    leave: () => Promise.resolve(),
    wards: () => Promise.resolve({ ids: ['w0'], version: 1, finished: new Map() }),
    addWards: () => Promise.resolve(0),
    retire: () => Promise.resolve(),
    reopen: () => Promise.resolve(false),
    finish: () => Promise.resolve('written' as const),
    clockOf: () => undefined,
    time: () => Promise.resolve(0),
    claim: () => Promise.resolve({ kind: 'claimed' as const, token: epoch, checkpoint: { progress: undefined, failures: 0 }, from: null }),
    checkpoint: () => Promise.resolve('written' as const),
    release: () => Promise.resolve('written' as const),
  }
  const starts: number[] = []
  let finishStop: (() => void) | undefined
  const events: CoreEvent[] = []
  const core = new NodeCore({
    node: 'a',
    store,
    runner: {
      start: (_, lease) => void starts.push(lease.token),
      stop: () => new Promise<Checkpoint>((resolve) => (finishStop = () => resolve({ progress: undefined, failures: 0 }))),
      committed: () => ({ progress: undefined, failures: 0 }),
    },
    clock,
    leaseTtl: LEASE_TTL,
    wardStop: 150,
    beat: BEAT,
    checkpointEvery: 100,
    maxWardsPerNode: Infinity,
    opTimeout: BEAT,
    onEvent: (event) => void events.push(event),
  })
  await core.beat()
  await core.settled()
  assert.deepEqual(starts, [1])
  // Redis says the lease is gone: the node stops its ward (a slow stop) and joins again at once.
  refuse = true
  await core.beat()
  assert.equal(core.epoch, undefined)
  refuse = false
  await core.beat()
  // (Not `settled()`: the stop is still in flight.) The claims a beat sets off answer at once.
  for (let i = 0; i < 20; i++) await Promise.resolve()
  assert.equal(core.epoch, 2, 'joined again')
  assert.deepEqual(starts, [1], 'not started beside its own stopping run')
  await clock.advance(200)
  finishStop!()
  await core.beat()
  await core.settled()
  assert.deepEqual(starts, [1, 2], 'started once its stop ended')
  assert.deepEqual(events.filter((e) => e.type === 'stop-overrun'), [{ type: 'stop-overrun', ward: 'w0', took: 200, wardStop: 150 }])
})

/** `simStore(redis)` counting its calls by name. */
function countingStore(redis: SimRedis): { store: LeaseStore; calls: Map<string, number> } {
  const inner = simStore(redis)
  const calls = new Map<string, number>()
  const store = Object.fromEntries(
    Object.entries(inner).map(([name, call]) => [name, (...args: unknown[]) => {
      calls.set(name, (calls.get(name) ?? 0) + 1)
      return (call as (...args: unknown[]) => unknown)(...args)
    }]),
  ) as unknown as LeaseStore
  return { store, calls }
}

function coreOn(store: LeaseStore, clock: ManualClock, node: string): NodeCore {
  return new NodeCore({
    node,
    store,
    runner: { start: () => {}, stop: () => Promise.resolve({ progress: undefined, failures: 0 }), committed: () => ({ progress: undefined, failures: 0 }) },
    clock,
    leaseTtl: LEASE_TTL,
    wardStop: 150,
    beat: BEAT,
    checkpointEvery: 100,
    maxWardsPerNode: Infinity,
    opTimeout: BEAT,
  })
}

test("node core: a dead node's wards are claimed in one round trip each once its death is known (a member the renew pruned), and `alive` is asked once per dead owner, not per ward", async () => {
  const wards = Array.from({ length: 50 }, (_, i) => `w${i}`)
  // Case 1: y saw x as a member; x's lease expires: the renew prunes it, and y claims x's wards naming x dead.
  {
    const clock = new ManualClock(0)
    const redis = new SimRedis(() => clock.now())
    redis.addWards(wards)
    const x = redis.join('x', LEASE_TTL)!
    for (const ward of wards) redis.claim(ward, 'x', x, Infinity)
    const { store, calls } = countingStore(redis)
    const y = coreOn(store, clock, 'y')
    await y.beat()
    await y.settled()
    assert.equal(y.held.size, 0, 'x is live: its wards stay with it')
    await clock.advance(LEASE_TTL)
    calls.clear()
    await y.beat()
    await y.settled()
    assert.equal(y.held.size, wards.length, 'every ward of x taken over')
    assert.equal(calls.get('alive') ?? 0, 0, 'no alive call: the renew said x is gone')
    assert.equal(calls.get('claim'), wards.length, 'one claim per ward')
  }
  // Case 2: y never saw x: the first claim finds x, `alive` is asked once, then every ward is claimed from x.
  {
    const clock = new ManualClock(0)
    const redis = new SimRedis(() => clock.now())
    redis.addWards(wards)
    const x = redis.join('x', LEASE_TTL)!
    for (const ward of wards) redis.claim(ward, 'x', x, Infinity)
    await clock.advance(LEASE_TTL + 1)
    const { store, calls } = countingStore(redis)
    const y = coreOn(store, clock, 'y')
    await y.beat()
    await y.settled()
    assert.equal(y.held.size, wards.length)
    assert.equal(calls.get('alive'), 1, 'alive asked once for the one dead owner')
  }
})

test('node core: at most CLAIMS_IN_FLIGHT claims are in flight; the rest go as earlier ones answer or time out', async () => {
  const clock = new ManualClock(0)
  const redis = new SimRedis(() => clock.now())
  const wards = Array.from({ length: CLAIMS_IN_FLIGHT * 2 + 10 }, (_, i) => `w${i}`)
  redis.addWards(wards)
  const { store } = countingStore(redis)
  let claims = 0
  const silent: LeaseStore = { ...store, claim: () => (claims++, new Promise(() => {})) }
  const core = coreOn(silent, clock, 'a')
  await core.beat()
  assert.equal(claims, CLAIMS_IN_FLIGHT, 'the first claims, no more')
  await clock.advance(BEAT)
  assert.equal(claims, 2 * CLAIMS_IN_FLIGHT, 'the next ones once the first timed out')
  await clock.advance(BEAT)
  assert.equal(claims, wards.length)
  core.halt()
})

test('node core: a claim answered "expired" leaves a ward in doubt (an earlier claim whose reply was lost may have made this node its owner)', async () => {
  const clock = new ManualClock(0)
  const redis = new SimRedis(() => clock.now())
  redis.addWards(['w0'])
  const { store } = countingStore(redis)
  const answers: Array<'lost' | 'expired'> = ['lost', 'expired']
  const doubting: LeaseStore = {
    ...store,
    claim: (ward, node, epoch, notAfter, ifOwners) => {
      const answer = answers.shift()
      if (answer === 'lost') {
        redis.claim(ward, node, epoch, Infinity, ifOwners) // applied in Redis, its reply never comes
        return new Promise(() => {})
      }
      if (answer === 'expired') return Promise.resolve({ kind: 'expired' as const })
      return store.claim(ward, node, epoch, notAfter, ifOwners)
    },
  }
  const core = coreOn(doubting, clock, 'a')
  await core.beat()
  await clock.advance(BEAT) // the first claim's reply never came
  assert.deepEqual([...core.doubtful], ['w0'])
  await core.beat()
  await core.settled()
  assert.deepEqual([...core.doubtful], ['w0'], 'still in doubt after "expired"')
  await clock.advance(BEAT)
  await core.beat()
  await core.settled()
  assert.equal(core.held.has('w0'), true, 'claimed again: it was ours')
  assert.deepEqual([...core.doubtful], [])
  core.halt()
})
