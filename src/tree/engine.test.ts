// One engine: a supervisor's child is one steward run for its whole life, and every steward
// guarantee (attempt, resume, failures at a progress, poison, deadlines) holds inside a tree.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { StewardEvent } from '../observe/events.js'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import { ManualClock } from '../time/manual-clock.js'
import type { WardContext } from '../steward/ward.js'
import { exponential } from '../policy/backoff.js'
import { steward } from '../steward/steward.js'
import { supervisor, type ChildSpec, type Strategy } from './supervisor.js'
import { aborted } from '../testing/wait.js'

interface Seen {
  readonly attempt: number
  readonly failuresHere: number
  readonly poisoned: boolean
  readonly resume: unknown
}

/** What each incarnation of a child saw when it started, recorded outside the ward. */
function recorder(): { seen: Map<string, Seen[]>; note: (name: string, ctx: WardContext) => void } {
  const seen = new Map<string, Seen[]>()
  return {
    seen,
    note: (name, ctx) => {
      const list = seen.get(name) ?? []
      list.push({ attempt: ctx.attempt, failuresHere: ctx.failuresHere, poisoned: ctx.poisoned, resume: ctx.resume })
      seen.set(name, list)
    },
  }
}

/** Works through three inputs, beating its position; the second input ('bad') always throws. Poisoned: dead-letters it. */
function poisonChild(clock: ManualClock, note: (ctx: WardContext<number>) => void): ChildSpec<unknown, number>['ward'] {
  const inputs = ['ok', 'bad', 'ok2']
  return async (ctx: WardContext<number>) => {
    note(ctx)
    for (let i = ctx.resume ?? 0; i < inputs.length; i++) {
      if (ctx.poisoned) {
        ctx.deadLetter(inputs[i], i + 1)
        continue
      }
      await clock.sleep(10, ctx.signal)
      if (inputs[i] === 'bad') throw new Error('bad input')
      ctx.beat(i + 1)
    }
    await ctx.idle(aborted(ctx.signal))
  }
}

/** Beats its own progress 'p' once, then waits until stopped. */
function quietChild(note: (ctx: WardContext) => void): ChildSpec['ward'] {
  return async (ctx: WardContext) => {
    note(ctx)
    ctx.beat(`p${ctx.attempt}`)
    await ctx.idle(aborted(ctx.signal))
  }
}

for (const strategy of ['one-for-one', 'one-for-all', 'rest-for-one'] as const satisfies readonly Strategy[]) {
  test(`${strategy}: a child failing at the same progress sees attempt 1, 2, 3 and failuresHere 0, 1, 2, then dead-letters the poison; siblings keep their own history`, async () => {
    const clock = new ManualClock()
    const { seen, note } = recorder()
    const letters: unknown[] = []
    const events: StewardEvent[] = []
    const run = supervisor({ name: 'tree', strategy, maxRestarts: 5, within: '1m' }, [
      { name: 'first', ward: quietChild((ctx) => note('first', ctx)) },
      { name: 'flaky', ward: poisonChild(clock, (ctx) => note('flaky', ctx)), poisonAfter: 2, onDeadLetter: (letter) => letters.push([letter.input, letter.position, letter.failures]) },
      { name: 'last', ward: quietChild((ctx) => note('last', ctx)) },
    ]).start({ clock, onEvent: (event) => events.push(event) })
    await clock.advance(1_000)
    assert.deepEqual(seen.get('flaky'), [
      { attempt: 1, failuresHere: 0, poisoned: false, resume: undefined },
      { attempt: 2, failuresHere: 1, poisoned: false, resume: 1 },
      { attempt: 3, failuresHere: 2, poisoned: true, resume: 1 },
    ])
    assert.deepEqual(letters, [['bad', 1, 2]])
    const flaky = run.status().children.find((child) => child.name === 'flaky')!
    assert.deepEqual([flaky.attempt, flaky.restarts, flaky.progress, flaky.state], [3, 2, 3, 'idle'])
    // Siblings restarted by the strategy: a new attempt each time, resumed from their own
    // progress, and never a failure of their own.
    const restartedWithIt = (name: string): boolean => strategy === 'one-for-all' || (strategy === 'rest-for-one' && name === 'last')
    for (const name of ['first', 'last']) {
      const expected = restartedWithIt(name)
        ? [
            { attempt: 1, failuresHere: 0, poisoned: false, resume: undefined },
            { attempt: 2, failuresHere: 0, poisoned: false, resume: 'p1' },
            { attempt: 3, failuresHere: 0, poisoned: false, resume: 'p2' },
          ]
        : [{ attempt: 1, failuresHere: 0, poisoned: false, resume: undefined }]
      assert.deepEqual(seen.get(name), expected, name)
    }
    assert.ok(!events.some((event) => event.type === 'gave-up'), 'nothing gave up')
    assert.deepEqual(
      events.filter((event) => event.type === 'decision').map((event) => (event.type === 'decision' ? `${event.child} ${event.restarting.join(',')}` : '')),
      Array(2).fill(strategy === 'one-for-one' ? 'flaky flaky' : strategy === 'one-for-all' ? 'flaky first,flaky,last' : 'flaky flaky,last'),
    )
    await clock.runUntil(run.stop())
  })
}

/** The events after `from` (ms), as `path type detail`. */
function brief(events: readonly StewardEvent[], from: number): string[] {
  return events
    .filter((event) => event.at >= from && event.at < 3_000)
    .map((event) => {
      switch (event.type) {
        case 'decision':
          return `${event.path} decision ${event.child} ${event.reason} ${event.action} [${event.restarting.join(',')}] ${event.restarts}/${event.maxRestarts} in ${event.within}`
        case 'restarting':
          return `${event.path} restarting ${event.attempt} ${event.reason} #${event.restarts}`
        case 'started':
        case 'hung':
        case 'failed':
        case 'stopped':
          return `${event.path} ${event.type} ${event.attempt}`
        default:
          return `${event.path} ${event.type}`
      }
    })
}

function threeChildren(clock: ManualClock, failing: 'crash' | 'hang'): ChildSpec[] {
  const steady = async (ctx: WardContext): Promise<void> => {
    await ctx.idle(aborted(ctx.signal))
  }
  let runs = 0
  const b = async (ctx: WardContext): Promise<void> => {
    if (++runs === 1) {
      ctx.beat()
      await clock.sleep(100, ctx.signal)
      if (failing === 'crash') throw new Error('b crashed')
      await aborted(ctx.signal) // stops beating: hung at 100 + timeout
      return
    }
    await ctx.idle(aborted(ctx.signal))
  }
  return [
    { name: 'a', ward: steady },
    { name: 'b', ward: b, timeout: 1_000 },
    { name: 'c', ward: steady },
  ]
}

test('the event sequence of one child restart, exactly: on the child, the decision on the supervisor, no gave-up', async () => {
  for (const [strategy, failing, at, expected] of [
    ['one-for-one', 'crash', 100, ['tree/b failed 1', 'tree decision b failed restart [b] 1/3 in 5000', 'tree/b restarting 1 failed #1', 'tree/b started 2']],
    ['one-for-one', 'hang', 1_000, ['tree/b hung 1', 'tree decision b hung restart [b] 1/3 in 5000', 'tree/b restarting 1 hung #1', 'tree/b started 2']],
    [
      'one-for-all',
      'crash',
      100,
      [
        'tree/b failed 1',
        'tree decision b failed restart [a,b,c] 1/3 in 5000',
        'tree/b restarting 1 failed #1',
        'tree/c restarting 1 sibling #1',
        'tree/a restarting 1 sibling #1',
        'tree/a started 2',
        'tree/b started 2',
        'tree/c started 2',
      ],
    ],
  ] as const) {
    const clock = new ManualClock()
    const events: StewardEvent[] = []
    const { leaks } = await checkLeaks(async () => {
      const run = supervisor({ name: 'tree', strategy }, threeChildren(clock, failing)).start({ clock, onEvent: (event) => events.push(event) })
      await clock.advance(3_000)
      await clock.runUntil(run.stop())
    })
    assert.deepEqual(brief(events, at), expected, `${strategy} ${failing}`)
    const attempts = strategy === 'one-for-all' ? [2, 2, 2] : [1, 2, 1]
    assert.deepEqual(
      events.filter((event) => event.type === 'stopped').map((event) => `${event.path} ${event.attempt}`),
      [`tree/c ${attempts[2]}`, `tree/b ${attempts[1]}`, `tree/a ${attempts[0]}`, 'tree 1'],
    )
    assert.equal(events.filter((event) => event.type === 'gave-up').length, 0)
    assert.deepEqual(leaks, noLeaks)
    assert.equal(clock.pendingTimers, 0)
  }
})

test('a supervised child resumes from its last progress after every restart', async () => {
  const clock = new ManualClock()
  const resumed: unknown[] = []
  const run = supervisor({ maxRestarts: Infinity }, [
    {
      name: 'counter',
      ward: async (ctx: WardContext<number>) => {
        resumed.push(ctx.resume)
        let n = ctx.resume ?? 0
        for (let i = 0; i < 3; i++) {
          await clock.sleep(10, ctx.signal)
          ctx.beat(++n)
        }
        throw new Error('tired')
      },
    },
  ]).start({ clock })
  await clock.advance(95)
  await clock.runUntil(run.stop())
  assert.deepEqual(resumed, [undefined, 3, 6, 9])
})

test("startOrder 'ready': each child starts after the previous one is up, at first and after a restart", async () => {
  for (const startOrder of ['started', 'ready'] as const) {
    const clock = new ManualClock()
    const starts: string[] = []
    let crashed = false
    // Up after `boot` ms (its first beat); `a` crashes once at 1 s.
    const child = (name: string, boot: number): ChildSpec => ({
      name,
      ward: async (ctx: WardContext) => {
        starts.push(`${clock.now()} ${name}`)
        await clock.sleep(boot, ctx.signal)
        ctx.beat()
        if (name === 'a' && !crashed) {
          await clock.sleep(1_000 - boot, ctx.signal)
          crashed = true
          throw new Error('a crashed')
        }
        await ctx.idle(aborted(ctx.signal))
      },
    })
    const run = supervisor({ strategy: 'one-for-all', startOrder }, [child('a', 300), child('b', 200), child('c', 100)]).start({ clock })
    await clock.advance(100)
    // Every child is in the status at every moment, those not started yet too.
    assert.deepEqual(
      run.status().children.map((status) => `${status.path} ${status.state} ${status.attempt}`),
      startOrder === 'ready'
        ? ['supervisor/a working 1', 'supervisor/b starting 0', 'supervisor/c starting 0']
        : ['supervisor/a working 1', 'supervisor/b working 1', 'supervisor/c idle 1'],
    )
    await clock.advance(2_900)
    await clock.runUntil(run.stop())
    assert.deepEqual(
      starts,
      startOrder === 'ready'
        ? ['0 a', '300 b', '500 c', '1000 a', '1300 b', '1500 c']
        : ['0 a', '0 b', '0 c', '1000 a', '1000 b', '1000 c'],
      startOrder,
    )
  }
})

test("startOrder 'ready' waits for the start deadline: a child that never comes up is hung at startTimeout, restarted, and the next waits", async () => {
  const clock = new ManualClock()
  const starts: string[] = []
  const events: string[] = []
  let silent = true
  const run = supervisor({ startOrder: 'ready' }, [
    {
      name: 'slow',
      startTimeout: 2_000,
      timeout: 500,
      ward: async (ctx: WardContext) => {
        starts.push(`${clock.now()} slow`)
        if (silent) {
          silent = false
          return aborted(ctx.signal) // never shows life: hung at its start deadline
        }
        ctx.beat()
        await ctx.idle(aborted(ctx.signal))
      },
    },
    {
      name: 'next',
      ward: async (ctx: WardContext) => {
        starts.push(`${clock.now()} next`)
        await ctx.idle(aborted(ctx.signal))
      },
    },
  ]).start({ clock, onEvent: (event) => events.push(`${event.at} ${event.path} ${event.type}`) })
  await clock.advance(5_000)
  await clock.runUntil(run.stop())
  assert.deepEqual(starts, ['0 slow', '2000 slow', '2000 next'])
  assert.ok(events.includes('2000 supervisor/slow hung'))
})

test('shouldRestart on a child: false ends that child (forgotten, no decision, no budget spent); true restarts it', async () => {
  const clock = new ManualClock()
  const events: StewardEvent[] = []
  let calls = 0
  const run = supervisor({ maxRestarts: 1 }, [
    {
      name: 'configured',
      shouldRestart: (error) => !error.message.includes('config'),
      ward: async () => {
        calls++
        await clock.sleep(10)
        throw new Error(calls === 1 ? 'network blip' : 'bad config')
      },
    },
    { name: 'other', ward: async (ctx: WardContext) => ctx.idle(aborted(ctx.signal)) },
  ]).start({ clock, onEvent: (event) => events.push(event) })
  await clock.advance(1_000)
  assert.equal(calls, 2)
  assert.deepEqual(
    events.filter((event) => event.type === 'decision').map((event) => event.type === 'decision' && event.reason),
    ['failed'],
  )
  assert.deepEqual(run.status().children.map((child) => child.name), ['other'])
  assert.equal(run.status().state, 'working')
  await clock.runUntil(run.stop())
})

test('status() lists every child with its own attempt and restarts while a restart is in progress', async () => {
  const clock = new ManualClock()
  const snapshots: string[] = []
  let tree: ReturnType<ReturnType<typeof supervisor>['start']> | undefined
  tree = supervisor({ name: 'tree', strategy: 'one-for-all' }, threeChildren(clock, 'crash')).start({
    clock,
    onEvent: (event) => {
      if (event.type === 'restarting' || event.type === 'decision') {
        snapshots.push(tree!.status().children.map((child) => `${child.name}:${child.attempt}/${child.restarts}`).join(' '))
      }
    },
  })
  await clock.advance(1_000)
  await clock.runUntil(tree.stop())
  tree = undefined
  assert.deepEqual(snapshots, ['a:1/0 b:1/0 c:1/0', 'a:1/0 b:1/1 c:1/0', 'a:1/0 b:1/1 c:1/1', 'a:1/1 b:1/1 c:1/1'])
})

test('status() at every event of a one-for-all restart with a child slow to stop: every child present, each state true to the moment', async () => {
  const clock = new ManualClock()
  const seen: string[] = []
  const holder: { tree?: ReturnType<ReturnType<typeof supervisor>['start']> } = {}
  let crashed = false
  const legal = new Set(['starting', 'working', 'idle', 'waiting', 'stopping', 'backoff', 'restarting', 'stopped'])
  // Checked after the run: an assertion inside a listener would only be a process warning.
  const wrong: string[] = []
  const run = supervisor({ name: 'tree', strategy: 'one-for-all', backoff: exponential({ initial: '100ms' }) }, [
    {
      name: 'slow',
      stopTimeout: '1s',
      ward: async (ctx: WardContext) => {
        await ctx.idle(new Promise(() => {})).catch(() => {}) // the wait ends when it is retired
        await clock.sleep(300) // finishes its work before it leaves
      },
    },
    {
      name: 'crashy',
      ward: async (ctx: WardContext) => {
        if (!crashed) {
          await clock.sleep(50, ctx.signal)
          crashed = true
          throw new Error('crash')
        }
        await ctx.idle(aborted(ctx.signal))
      },
    },
  ]).start({
    clock,
    onEvent: (event) => {
      const children = holder.tree!.status().children
      if (children.map((child) => child.name).join() !== 'slow,crashy') wrong.push(`children at ${event.type}: ${children.map((c) => c.name).join()}`)
      for (const child of children) if (!legal.has(child.state)) wrong.push(`${child.name} ${child.state} at ${event.type}`)
      seen.push(`${event.at} ${event.path} ${event.type}: ${children.map((child) => `${child.name}=${child.state}`).join(' ')}`)
    },
  })
  holder.tree = run
  // Between events too: sampled while the slow child stops, during the backoff, after it.
  const states = (): string => run.status().children.map((child) => `${child.name}=${child.state}`).join(' ')
  const sampled: string[] = []
  for (const until of [40, 100, 400, 460]) {
    await clock.advanceTo(until)
    sampled.push(`${until} ${states()}`)
  }
  await clock.runUntil(run.stop())
  assert.deepEqual(sampled, [
    '40 slow=idle crashy=working',
    '100 slow=stopping crashy=restarting', // the slow child finishes its work until 350
    '400 slow=backoff crashy=backoff', // the supervisor's backoff (100 ms) from 350
    '460 slow=idle crashy=idle',
  ])
  assert.deepEqual(wrong, [])
  assert.ok(seen.length > 8, 'sampled at every event')
  assert.deepEqual(
    seen.filter((line) => line.includes('restarting:') || line.includes(' started:')).slice(-4),
    [
      '50 tree/crashy restarting: slow=idle crashy=working',
      '50 tree/slow restarting: slow=idle crashy=restarting',
      '450 tree/slow started: slow=working crashy=backoff',
      '450 tree/crashy started: slow=idle crashy=working',
    ],
  )
})

test('stop() reports what this stop abandoned; an incarnation abandoned by an earlier restart is in status and events', async () => {
  const clock = new ManualClock()
  const unstopped: string[] = []
  // A ward deaf to its abort: the first incarnation hangs (no beat) and never settles.
  let deafRelease!: () => void
  const deaf = steward(
    async (ctx: WardContext) => {
      if (ctx.attempt === 1) return new Promise<void>((resolve) => (deafRelease = resolve))
      await ctx.idle(aborted(ctx.signal))
    },
    { name: 'consumer', stopTimeout: '1s', timeout: '200ms', maxRestarts: 3 },
  ).start({ clock, onEvent: (event) => void (event.type === 'unstopped' && unstopped.push(`${event.at} ${event.path} ${event.attempt}`)) })
  await clock.advance(8_000)
  assert.deepEqual(unstopped, ['1200 consumer 1'])
  const status = deaf.status()
  assert.deepEqual([status.state, status.attempt, status.abandoned, status.lastAbandoned], ['idle', 2, 1, { path: 'consumer', attempt: 1, at: 1_200 }])
  const before = clock.now()
  assert.deepEqual(await clock.runUntil(deaf.stop()), { unstopped: [], killed: [] })
  assert.equal(clock.now(), before)
  const outcome = await deaf.done
  assert.deepEqual(outcome.kind === 'stopped' ? outcome.unstopped : undefined, [])
  deafRelease()
})

test('status().up: a run is up once its incarnation showed life; a supervisor once every child is', async () => {
  const clock = new ManualClock()
  const child = (name: string, boot: number): ChildSpec => ({
    name,
    ward: async (ctx: WardContext) => {
      await clock.sleep(boot, ctx.signal)
      ctx.beat()
      await ctx.idle(aborted(ctx.signal))
    },
  })
  const run = supervisor({}, [child('fast', 100), child('slow', 300)]).start({ clock })
  const ups = (): string => `${run.status().up} ${run.status().children.map((status) => status.up).join(' ')}`
  await clock.advance(50)
  assert.equal(ups(), 'false false false')
  await clock.advance(100)
  assert.equal(ups(), 'false true false')
  await clock.advance(200)
  assert.equal(ups(), 'true true true')
  await clock.runUntil(run.stop())
  assert.equal(ups(), 'false false false')
})

test('a child held while a sibling stops for its restart, then the tree stopped: stopped from held, nothing started again', async () => {
  const clock = new ManualClock()
  const starts: string[] = []
  const run = supervisor({ name: 'tree', strategy: 'one-for-all' }, [
    {
      name: 'slow',
      stopTimeout: '1s',
      ward: async (ctx: WardContext) => {
        starts.push(`${clock.now()} slow ${ctx.attempt}`)
        await ctx.idle(new Promise(() => {})).catch(() => {}) // the wait ends when it is retired
        await clock.sleep(300) // then it takes 300 ms to leave
      },
    },
    {
      name: 'eager',
      ward: (ctx: WardContext) => {
        starts.push(`${clock.now()} eager ${ctx.attempt}`)
        // Its first incarnation fails in the call that starts it.
        if (ctx.attempt === 1) throw new Error('fails at once')
        return ctx.idle(aborted(ctx.signal))
      },
    },
  ]).start({ clock })
  const states = (): string => run.status().children.map((child) => `${child.name}=${child.state}`).join(' ')
  await clock.advanceTo(100)
  // eager failed at 0; slow takes until 300 to stop; eager waits for it, held.
  assert.equal(states(), 'slow=stopping eager=restarting')
  const stopped = run.stop()
  // Both are stopped while held (the state table allows HELD to STOPPING), once slow has left.
  assert.deepEqual(await clock.runUntil(stopped), { unstopped: [], killed: [] })
  assert.equal(clock.now(), 300)
  assert.equal((await run.done).kind, 'stopped')
  assert.deepEqual(starts, ['0 slow 1', '0 eager 1'])
})

test('under one-for-all, a child that fails in the call that starts it restarts the sibling started after it', async () => {
  const clock = new ManualClock()
  const starts: string[] = []
  const child = (name: string, failFirst: boolean) => ({
    name,
    ward: (ctx: WardContext) => {
      starts.push(`${name} ${ctx.attempt}`)
      if (failFirst && ctx.attempt === 1) throw new Error('fails at once')
      return ctx.idle(aborted(ctx.signal))
    },
  })
  const run = supervisor({ name: 'tree', strategy: 'one-for-all' }, [child('eager', true), child('later', false)]).start({ clock })
  await clock.advance(10)
  assert.deepEqual(run.status().children.map((c) => `${c.name}=${c.state} attempt ${c.attempt}`), ['eager=idle attempt 2', 'later=idle attempt 2'])
  assert.deepEqual(starts, ['eager 1', 'later 1', 'eager 2', 'later 2'])
  await clock.runUntil(run.stop())
})
