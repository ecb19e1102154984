// An operator's control of one child of a running supervisor (restartChild, stopChild,
// startChild, replaceChild), and the `independent` strategy where a child gives up alone.
// Timelines on a ManualClock; what the test asserts is seen outside the wards.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { StewardEvent } from '../observe/events.js'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import { ManualClock } from '../time/manual-clock.js'
import { ChildNotUpError, UnknownChildError } from '../steward/errors.js'
import type { WardContext } from '../steward/ward.js'
import { supervisor, type ChildSpec, type Strategy } from './supervisor.js'
import { aborted } from '../testing/wait.js'

/** A child that beats every 100 ms until stopped, counting its incarnations in `starts`. */
function worker(name: string, clock: ManualClock, starts: Map<string, number>, tag = ''): ChildSpec {
  return {
    name,
    timeout: 1_000,
    ward: async (ctx: WardContext) => {
      starts.set(name + tag, (starts.get(name + tag) ?? 0) + 1)
      while (!ctx.signal.aborted) {
        ctx.beat()
        await clock.sleep(100, ctx.signal).catch(() => undefined)
      }
    },
  }
}

/** A child that throws 10 ms after each start. */
function crasher(name: string, clock: ManualClock, starts: Map<string, number>): ChildSpec {
  return {
    name,
    ward: async (ctx: WardContext) => {
      starts.set(name, (starts.get(name) ?? 0) + 1)
      await clock.sleep(10, ctx.signal)
      throw new Error(`${name} crashed`)
    },
  }
}

function states(run: { status(): { children: readonly { name: string; state: string }[] } }): Record<string, string> {
  return Object.fromEntries(run.status().children.map((child) => [child.name, child.state]))
}

const flush = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve))
}

for (const [strategy, restarted] of [
  ['one-for-one', ['b']],
  ['one-for-all', ['a', 'b', 'c']],
  ['rest-for-one', ['b', 'c']],
  ['independent', ['b']],
] as Array<[Strategy, string[]]>) {
  test(`restartChild under ${strategy}: restarts ${restarted.join(', ')} at once, reason manual, not counted toward the intensity`, async () => {
    const clock = new ManualClock()
    const starts = new Map<string, number>()
    const events: StewardEvent[] = []
    const { leaks } = await checkLeaks(async () => {
      const run = supervisor({ name: 'tree', strategy, maxRestarts: 0, within: '1m' }, ['a', 'b', 'c'].map((name) => worker(name, clock, starts))).start({ clock, onEvent: (event) => events.push(event) })
      await clock.advance(50)
      assert.deepEqual(Object.fromEntries(starts), { a: 1, b: 1, c: 1 })
      // maxRestarts 0: a counted restart would escalate; three operator restarts do not.
      for (let i = 0; i < 3; i++) await run.restartChild('b')
      await flush()
      const expected = Object.fromEntries(['a', 'b', 'c'].map((name) => [name, 1 + (restarted.includes(name) ? 3 : 0)]))
      assert.deepEqual(Object.fromEntries(starts), expected)
      assert.deepEqual(states(run), { a: 'working', b: 'working', c: 'working' })
      const decisions = events.filter((event) => event.type === 'decision')
      assert.equal(decisions.length, 3)
      assert.ok(decisions.every((event) => event.type === 'decision' && event.reason === 'manual' && event.action === 'restart' && event.child === 'b' && event.delay === 0))
      assert.deepEqual(decisions[0]!.type === 'decision' && decisions[0]!.restarting, restarted)
      const own = events.filter((event) => event.type === 'restarting' && event.path === 'tree/b')
      assert.ok(own.length === 3 && own.every((event) => event.type === 'restarting' && event.reason === 'manual'))
      assert.equal(run.status().state, 'working')
      await run.stop()
    })
    assert.deepEqual(leaks, noLeaks)
  })
}

test('stopChild keeps the child stopped while its siblings run; startChild starts it as a new run', async () => {
  const clock = new ManualClock()
  const starts = new Map<string, number>()
  const { leaks } = await checkLeaks(async () => {
    const run = supervisor({ name: 'tree', strategy: 'one-for-all' }, ['a', 'b'].map((name) => worker(name, clock, starts))).start({ clock })
    await clock.advance(50)
    const report = await run.stopChild('a')
    assert.deepEqual(report, { unstopped: [], killed: [] })
    assert.deepEqual(states(run), { a: 'stopped', b: 'working' })
    // Stopped, not failed: no strategy restarts it, and b is untouched.
    await clock.advance(5_000)
    assert.deepEqual(Object.fromEntries(starts), { a: 1, b: 1 })
    assert.equal(run.status().up, true, 'a child stopped on purpose does not make the tree not up')
    // Stopping it again does nothing; the supervisor keeps running with it stopped.
    assert.deepEqual(await run.stopChild('a'), { unstopped: [], killed: [] })
    assert.equal(run.status().state, 'working')
    await run.startChild('a')
    await flush()
    assert.deepEqual(states(run), { a: 'working', b: 'working' })
    assert.equal(run.status().children[0]!.attempt, 1, 'a new run')
    // A running child is left alone.
    await run.startChild('b')
    assert.deepEqual(Object.fromEntries(starts), { a: 2, b: 1 })
    await run.stop()
  })
  assert.deepEqual(leaks, noLeaks)
})

test('a supervisor whose only other child completed keeps running while an operator keeps a child stopped', async () => {
  const clock = new ManualClock()
  const starts = new Map<string, number>()
  const run = supervisor({ name: 'tree' }, [worker('a', clock, starts), { name: 'once', restart: 'transient', ward: async () => 'done' }]).start({ clock })
  await clock.advance(10)
  await run.stopChild('a')
  await clock.advance(1_000)
  assert.equal(run.status().state, 'working')
  await run.stop()
  assert.equal((await run.done).kind, 'stopped')
})

test('independent: a crashing child gives up alone after its own intensity; its siblings run on; startChild revives it with a fresh count', async () => {
  const clock = new ManualClock()
  const starts = new Map<string, number>()
  const events: StewardEvent[] = []
  const { leaks } = await checkLeaks(async () => {
    const run = supervisor({ name: 'tree', strategy: 'independent', maxRestarts: 2, within: '1m' }, [worker('a', clock, starts), crasher('b', clock, starts), worker('c', clock, starts)]).start({
      clock,
      onEvent: (event) => events.push(event),
    })
    await clock.advance(1_000)
    assert.equal(starts.get('b'), 3, 'the first start and 2 restarts')
    assert.deepEqual(states(run), { a: 'working', b: 'gave-up', c: 'working' })
    assert.equal(run.status().state, 'working')
    assert.equal(run.status().up, false, 'a child that gave up makes the tree not up')
    const decision = events.findLast((event) => event.type === 'decision')
    assert.ok(decision?.type === 'decision' && decision.action === 'give-up' && decision.child === 'b' && decision.restarting.length === 0)
    assert.ok(events.some((event) => event.type === 'gave-up' && event.path === 'tree/b'))
    assert.ok(!events.some((event) => event.type === 'gave-up' && event.path === 'tree'), 'the supervisor does not give up')
    assert.equal(starts.get('a'), 1)
    // Its siblings' failures are counted on their own: c crashing once is allowed.
    await run.startChild('b')
    await clock.advance(1_000)
    assert.equal(starts.get('b'), 6, 'a fresh count of 2 restarts')
    assert.equal(run.status().children[1]!.state, 'gave-up')
    await run.restartChild('b')
    await clock.advance(5)
    assert.equal(starts.get('b'), 7, 'restartChild of a child that gave up starts it')
    // Revived with a fresh count: an operator's restart before it fails again shows none counted.
    await run.restartChild('b')
    const manual = events.findLast((event) => event.type === 'decision')
    assert.ok(manual?.type === 'decision' && manual.reason === 'manual' && manual.restarts === 0, JSON.stringify(manual))
    await run.stop()
  })
  assert.deepEqual(leaks, noLeaks)
})

test('independent: the supervisor gives up once every child gave up', async () => {
  const clock = new ManualClock()
  const starts = new Map<string, number>()
  const run = supervisor({ name: 'tree', strategy: 'independent', maxRestarts: 1, within: '1m' }, [crasher('a', clock, starts), crasher('b', clock, starts)]).start({ clock })
  await clock.advance(1_000)
  const outcome = await run.done
  assert.equal(outcome.kind, 'gave-up')
  assert.ok(outcome.kind === 'gave-up' && outcome.error.reason === 'limit' && /crashed/.test(outcome.error.cause.message))
  assert.deepEqual(Object.fromEntries(starts), { a: 2, b: 2 })
})

test('under one-for-one a crash loop still escalates the whole tree (the strategy is what makes a child independent)', async () => {
  const clock = new ManualClock()
  const starts = new Map<string, number>()
  const run = supervisor({ name: 'tree', strategy: 'one-for-one', maxRestarts: 2, within: '1m' }, [worker('a', clock, starts), crasher('b', clock, starts)]).start({ clock })
  await clock.advance(1_000)
  assert.equal((await run.done).kind, 'gave-up')
})

test('replaceChild stops the old child and starts the new spec in its place; the others are untouched', async () => {
  const clock = new ManualClock()
  const starts = new Map<string, number>()
  const events: StewardEvent[] = []
  const { leaks } = await checkLeaks(async () => {
    const run = supervisor({ name: 'tree' }, ['a', 'b', 'c'].map((name) => worker(name, clock, starts))).start({ clock, onEvent: (event) => events.push(event) })
    await clock.advance(50)
    await run.replaceChild(worker('b', clock, starts, '-v2'))
    await flush()
    assert.deepEqual(Object.fromEntries(starts), { a: 1, b: 1, c: 1, 'b-v2': 1 })
    assert.deepEqual(run.status().children.map((child) => child.name), ['a', 'b', 'c'], 'the same position')
    assert.deepEqual(states(run), { a: 'working', b: 'working', c: 'working' })
    // Stop order is still reverse start order: c, b, a.
    events.length = 0
    await run.stop()
    assert.deepEqual(events.filter((event) => event.type === 'stopped').map((event) => event.path), ['tree/c', 'tree/b', 'tree/a', 'tree'])
  })
  assert.deepEqual(leaks, noLeaks)
})

test('unknown names are refused naming the known ones; a bad replacement spec is refused before anything stops', async () => {
  const clock = new ManualClock()
  const starts = new Map<string, number>()
  const run = supervisor({ name: 'tree' }, ['a', 'b'].map((name) => worker(name, clock, starts))).start({ clock })
  await clock.advance(10)
  for (const action of [() => run.restartChild('x'), () => run.stopChild('x'), () => run.startChild('x'), () => run.remove('x'), () => run.replaceChild({ name: 'x', ward: async () => {} })]) {
    await assert.rejects(action, (error: unknown) => error instanceof UnknownChildError && error.code === 'ERR_STEWARD_NO_CHILD' && error.message === "supervisor 'tree' has no child 'x' (its children: a, b)")
  }
  await assert.rejects(run.replaceChild({ name: 'a', ward: async () => {}, timeout: -1 }), /timeout/)
  assert.deepEqual(states(run), { a: 'working', b: 'working' })
  assert.deepEqual(Object.fromEntries(starts), { a: 1, b: 1 })
  await run.stop()
  await assert.rejects(run.restartChild('a'), /not running/)
})

test("stopChild of a child still waiting for its turn (startOrder 'ready') keeps it from starting", async () => {
  const clock = new ManualClock()
  const starts = new Map<string, number>()
  const slow: ChildSpec = {
    name: 'db',
    timeout: 5_000,
    ward: async (ctx: WardContext) => {
      starts.set('db', (starts.get('db') ?? 0) + 1)
      await clock.sleep(500, ctx.signal)
      ctx.beat()
      await ctx.idle(aborted(ctx.signal))
    },
  }
  const run = supervisor({ name: 'tree', startOrder: 'ready' }, [slow, worker('app', clock, starts)]).start({ clock })
  await clock.advance(10)
  await run.stopChild('app')
  assert.deepEqual(states(run), { db: 'working', app: 'stopped' })
  await clock.advance(1_000)
  assert.deepEqual(Object.fromEntries(starts), { db: 1 })
  assert.deepEqual(states(run), { db: 'idle', app: 'stopped' })
  await run.startChild('app')
  await flush()
  assert.deepEqual(Object.fromEntries(starts), { db: 1, app: 1 })
  await run.stop()
})

/**
 * A child that beats for the first time `upAfter` ms after each start, then every 100 ms; the
 * incarnations listed in `crashAt` throw 50 ms after their start instead, those in `silentAt`
 * never beat. Counts its starts.
 */
function slowStarter(name: string, clock: ManualClock, starts: Map<string, number>, plan: { upAfter: number; crashAt?: number[]; silentAt?: number[] }): ChildSpec {
  return {
    name,
    timeout: 1_000,
    startTimeout: 2_000,
    ward: async (ctx: WardContext) => {
      starts.set(name, (starts.get(name) ?? 0) + 1)
      if (plan.crashAt?.includes(ctx.attempt) === true) {
        await clock.sleep(50, ctx.signal)
        throw new Error(`${name} crashed at start`)
      }
      if (plan.silentAt?.includes(ctx.attempt) === true) return void (await aborted(ctx.signal))
      await clock.sleep(plan.upAfter, ctx.signal).catch(() => undefined)
      while (!ctx.signal.aborted) {
        ctx.beat()
        await clock.sleep(100, ctx.signal).catch(() => undefined)
      }
    },
  }
}

/** Whether `promise` settled after the microtasks and immediates of `flush()`, and how. */
async function settledYet(promise: Promise<unknown>): Promise<'pending' | 'resolved' | 'rejected'> {
  let state: 'pending' | 'resolved' | 'rejected' = 'pending'
  promise.then(
    () => (state = 'resolved'),
    () => (state = 'rejected'),
  )
  await flush()
  return state
}

test("restartChild with { wait: 'up' } resolves only once the new incarnation beat; without it, once launched", async () => {
  const clock = new ManualClock()
  const starts = new Map<string, number>()
  const { leaks } = await checkLeaks(async () => {
    const run = supervisor({ name: 'tree', strategy: 'independent' }, [slowStarter('web', clock, starts, { upAfter: 300 })]).start({ clock })
    await clock.advance(400)
    const waiting = run.restartChild('web', { wait: 'up' })
    assert.equal(await settledYet(waiting), 'pending')
    assert.equal(starts.get('web'), 2)
    await clock.advance(299)
    assert.equal(await settledYet(waiting), 'pending', 'not up 299 ms into a 300 ms start')
    await clock.advance(1)
    assert.equal(await settledYet(waiting), 'resolved')
    // The default: once launched, not up yet.
    const launched = run.restartChild('web')
    assert.equal(await settledYet(launched), 'resolved')
    assert.equal(run.status().children[0]!.up, false)
    await run.stop()
  })
  assert.deepEqual(leaks, noLeaks)
})

test("restartChild with { wait: 'up' } rejects with ChildNotUpError when the new incarnation crashes before it is up; the supervisor restarts it as usual", async () => {
  const clock = new ManualClock()
  const starts = new Map<string, number>()
  const { leaks } = await checkLeaks(async () => {
    const run = supervisor({ name: 'tree', strategy: 'independent' }, [slowStarter('web', clock, starts, { upAfter: 300, crashAt: [2] })]).start({ clock })
    await clock.advance(400)
    const waiting = run.restartChild('web', { wait: 'up' })
    waiting.catch(() => undefined)
    await clock.advance(50)
    await assert.rejects(waiting, (error: Error) => {
      assert.ok(error instanceof ChildNotUpError)
      assert.equal(error.code, 'ERR_STEWARD_CHILD_NOT_UP')
      assert.equal(error.child, 'web')
      assert.match(error.message, /child 'web' of supervisor 'tree' did not come up: it failed \(failed\): web crashed at start/)
      assert.match((error.cause as Error).message, /web crashed at start/)
      return true
    })
    // Restarted by the supervisor (no backoff configured): its third incarnation comes up.
    await clock.advance(400)
    assert.equal(starts.get('web'), 3)
    assert.equal(run.status().children[0]!.up, true)
    await run.stop()
  })
  assert.deepEqual(leaks, noLeaks)
})

test("restartChild with { wait: 'up' } rejects when the new incarnation misses its startTimeout", async () => {
  const clock = new ManualClock()
  const starts = new Map<string, number>()
  const run = supervisor({ name: 'tree', strategy: 'independent' }, [slowStarter('web', clock, starts, { upAfter: 300, silentAt: [2] })]).start({ clock })
  await clock.advance(400)
  const waiting = run.restartChild('web', { wait: 'up' })
  waiting.catch(() => undefined)
  await clock.advance(1_999)
  assert.equal(await settledYet(waiting), 'pending')
  await clock.advance(1)
  await assert.rejects(waiting, /did not come up: it failed \(hung\): .*2000 ms/)
  await run.stop()
})

test("{ wait: 'up' }: a stop of the supervisor ends the wait; startChild and replaceChild wait too; a bad 'wait' is refused", async () => {
  const clock = new ManualClock()
  const starts = new Map<string, number>()
  const { leaks } = await checkLeaks(async () => {
    const run = supervisor({ name: 'tree', strategy: 'independent' }, [slowStarter('web', clock, starts, { upAfter: 300 }), worker('db', clock, starts)]).start({ clock })
    await clock.advance(400)
    await assert.rejects(run.restartChild('web', { wait: 'ready' as 'up' }), /option 'wait' must be 'launched' or 'up', got "ready"/)
    // startChild of a running child: until its current incarnation is up (it is).
    assert.equal(await settledYet(run.startChild('web', { wait: 'up' })), 'resolved')
    await run.stopChild('web')
    const started = run.startChild('web', { wait: 'up' })
    assert.equal(await settledYet(started), 'pending')
    await clock.advance(300)
    assert.equal(await settledYet(started), 'resolved')
    const replaced = run.replaceChild(slowStarter('web', clock, starts, { upAfter: 500 }), { wait: 'up' })
    await clock.advance(499)
    assert.equal(await settledYet(replaced), 'pending')
    await clock.advance(1)
    assert.equal(await settledYet(replaced), 'resolved')
    const waiting = run.restartChild('web', { wait: 'up' })
    waiting.catch(() => undefined)
    await clock.advance(10)
    await run.stop()
    await assert.rejects(waiting, /did not come up: supervisor 'tree' is stopping/)
  })
  assert.deepEqual(leaks, noLeaks)
})
