import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ManualClock } from '../time/manual-clock.js'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import { exponential, fixed, resetAfter } from '../policy/backoff.js'
import { steward } from '../steward/steward.js'
import type { WardContext } from '../steward/ward.js'
import { initialIntensity, nextIntensity } from '../policy/intensity.js'
import { OptionTypeError } from '../steward/errors.js'
import { supervisor, type ChildSpec, type Strategy } from './supervisor.js'
import { aborted } from '../testing/wait.js'

/** A child that logs its start and stop, waits for input until stopped, and fails `failures` times at 10 ms. */
function child(name: string, log: string[], clock: ManualClock, failures = 0, options: Partial<ChildSpec> = {}): ChildSpec {
  let left = failures
  return {
    name,
    ...options,
    ward: async (ctx: WardContext) => {
      log.push(`start ${name}`)
      if (left > 0) {
        left--
        await clock.sleep(10, ctx.signal)
        log.push(`crash ${name}`)
        throw new Error(`${name} crashed`)
      }
      try {
        await ctx.idle(new Promise(() => {})) // input that never comes: the wait ends when it is retired
      } finally {
        log.push(`stop ${name}`)
      }
    },
  }
}

async function strategyLog(strategy: Strategy, failing: 'a' | 'b' | 'c'): Promise<string[]> {
  const clock = new ManualClock()
  const log: string[] = []
  const run = supervisor({ strategy }, ['a', 'b', 'c'].map((name) => child(name, log, clock, name === failing ? 1 : 0))).start({ clock })
  await clock.advance(100)
  log.push('--')
  await clock.runUntil(run.stop())
  return log
}

test('one-for-one restarts only the failed child', async () => {
  assert.deepEqual(await strategyLog('one-for-one', 'b'), [
    'start a', 'start b', 'start c', 'crash b', 'start b', '--', 'stop c', 'stop b', 'stop a',
  ])
  for (const failing of ['a', 'c'] as const) {
    const log = await strategyLog('one-for-one', failing)
    assert.deepEqual(log.slice(3, log.indexOf('--')), [`crash ${failing}`, `start ${failing}`], failing)
  }
})

test('one-for-all stops the others in reverse order and starts all in order', async () => {
  for (const [failing, expected] of [
    ['a', ['crash a', 'stop c', 'stop b', 'start a', 'start b', 'start c']],
    ['b', ['crash b', 'stop c', 'stop a', 'start a', 'start b', 'start c']],
    ['c', ['crash c', 'stop b', 'stop a', 'start a', 'start b', 'start c']],
  ] as const) {
    const log = await strategyLog('one-for-all', failing)
    assert.deepEqual(log.slice(3, log.indexOf('--')), expected, failing)
  }
})

test('rest-for-one restarts the failed child and those started after it', async () => {
  for (const [failing, expected] of [
    ['a', ['crash a', 'stop c', 'stop b', 'start a', 'start b', 'start c']],
    ['b', ['crash b', 'stop c', 'start b', 'start c']],
    ['c', ['crash c', 'start c']],
  ] as const) {
    const log = await strategyLog('rest-for-one', failing)
    assert.deepEqual(log.slice(3, log.indexOf('--')), expected, failing)
  }
})

test('intensity: reached exactly is fine, exceeded by one escalates and stops the children in reverse order', async () => {
  for (const [failures, expected] of [
    [2, 'stopped'],
    [3, 'gave-up'],
  ] as const) {
    const clock = new ManualClock()
    const log: string[] = []
    const run = supervisor({ maxRestarts: 2, within: '1s' }, [child('a', log, clock), child('b', log, clock, failures), child('c', log, clock)]).start({
      clock,
    })
    await clock.advance(500)
    if (failures === 2) await clock.runUntil(run.stop())
    const outcome = await clock.runUntil(run.done)
    assert.equal(outcome.kind, expected, `${failures} failures`)
    if (outcome.kind === 'gave-up') {
      assert.equal(outcome.error.cause.message, 'b crashed')
      assert.deepEqual(log.slice(-2), ['stop c', 'stop a'])
    }
  }
})

test('escalation goes up three levels until the top gives up', async () => {
  const clock = new ManualClock()
  const events: string[] = []
  const log: string[] = []
  const inner = supervisor({ name: 'inner', maxRestarts: 1 }, [child('worker', log, clock, Infinity)])
  const middle = supervisor({ name: 'middle', maxRestarts: 1 }, [{ name: 'inner', ward: inner, timeout: '1m' }])
  const top = supervisor({ name: 'top', maxRestarts: 1 }, [{ name: 'middle', ward: middle, timeout: '1m' }])
  const run = top.start({ clock, onEvent: (event) => events.push(`${event.path} ${event.type}`) })
  const outcome = await clock.runUntil(run.done)
  assert.equal(outcome.kind, 'gave-up')
  const gaveUp = events.filter((line) => line.endsWith(' gave-up'))
  // Each level gives up once per time it is escalated to, the top exactly once, last.
  assert.equal(gaveUp.at(-1), 'top gave-up')
  assert.ok(gaveUp.includes('top/middle/middle/inner/inner gave-up'))
  assert.equal(gaveUp.filter((line) => line === 'top gave-up').length, 1)
})

test('restart types: transient ends normally → forgotten, abnormally → restarted; temporary never restarted', async () => {
  const clock = new ManualClock()
  const log: string[] = []
  let transientCalls = 0
  let temporaryCalls = 0
  let doneCalls = 0
  const run = supervisor({}, [
    child('keeper', log, clock),
    {
      name: 'transient',
      restart: 'transient',
      ward: async () => {
        transientCalls++
        if (transientCalls === 1) throw new Error('abnormal')
      },
    },
    {
      name: 'temporary',
      restart: 'temporary',
      ward: async () => {
        temporaryCalls++
        throw new Error('once')
      },
    },
    {
      name: 'done',
      restart: 'temporary',
      ward: async () => {
        doneCalls++
      },
    },
  ]).start({ clock })
  await clock.advance(100)
  assert.equal(transientCalls, 2, 'restarted after the abnormal end, not after the normal one')
  assert.equal(temporaryCalls, 1)
  assert.equal(doneCalls, 1, 'a temporary child that returns is not restarted either')
  assert.deepEqual(
    run.status().children.map((status) => status.name),
    ['keeper'],
  )
  await clock.runUntil(run.stop())
})

test('a child that ignores its abort is named in the stop report; the rest still stop; a second stop is the same teardown', async () => {
  const clock = new ManualClock()
  const log: string[] = []
  let release!: () => void
  const deaf: ChildSpec = {
    name: 'deaf',
    stopTimeout: '2s',
    ward: () => new Promise<void>((resolve) => (release = resolve)),
  }
  const run = supervisor({ name: 'root' }, [child('a', log, clock), deaf, child('c', log, clock)]).start({ clock })
  await clock.advance(10)
  const first = run.stop()
  assert.equal(run.stop(), first)
  const report = await clock.runUntil(first)
  assert.deepEqual(report, { unstopped: ['root/deaf'], killed: [] })
  assert.deepEqual(log, ['start a', 'start c', 'stop c', 'stop a'])
  release()
})

test('a stop during a backoff wait returns at once and leaves nothing behind', async () => {
  const clock = new ManualClock()
  const log: string[] = []
  const { leaks } = await checkLeaks(async () => {
    const run = supervisor({ backoff: exponential({ initial: '1m' }) }, [child('a', log, clock, 1)]).start({ clock })
    await clock.advance(100) // a crashed at 10; its restart waits a minute
    // Settles under runUntil without the clock moving: the wait is cancelled, not waited out.
    assert.deepEqual(await clock.runUntil(run.stop()), { unstopped: [], killed: [] })
    assert.equal(clock.now(), 100)
    assert.equal((await run.done).kind, 'stopped')
  })
  assert.deepEqual(log, ['start a', 'crash a'])
  assert.equal(clock.pendingTimers, 0)
  assert.deepEqual(leaks, noLeaks)
})

test('children can be added and removed while it runs; the status tree is plain data', async () => {
  const clock = new ManualClock()
  const log: string[] = []
  const run = supervisor({ name: 'root' }, [child('a', log, clock)]).start({ clock })
  await clock.advance(1)
  run.add(child('b', log, clock))
  assert.throws(() => run.add(child('b', log, clock)), /option 'name' must be unique among the children, got 'b' twice/)
  await clock.advance(1)
  const status = JSON.parse(JSON.stringify(run.status())) as { kind: string; children: Array<{ path: string; state: string }> }
  assert.equal(status.kind, 'supervisor')
  assert.deepEqual(
    status.children.map((c) => `${c.path} ${c.state}`),
    ['root/a idle', 'root/b idle'],
  )
  await clock.runUntil(run.remove('a'))
  await assert.rejects(run.remove('zzz'), /has no child 'zzz'/)
  await clock.runUntil(run.stop())
  assert.deepEqual(log, ['start a', 'start b', 'stop a', 'stop b'])
})

test('a supervisor nests in a steward, which restarts it when it escalates', async () => {
  const clock = new ManualClock()
  const log: string[] = []
  let crashes = 2
  const flaky: ChildSpec = {
    name: 'flaky',
    ward: async (ctx) => {
      log.push('start flaky')
      if (crashes-- > 0) throw new Error('crash')
      await ctx.idle(aborted(ctx.signal))
    },
  }
  const tree = supervisor({ name: 'tree', maxRestarts: 0 }, [flaky])
  const run = steward(tree, { name: 'root', timeout: '1s', maxRestarts: 5 }).start({ clock })
  await clock.advance(5_000)
  assert.deepEqual(log, ['start flaky', 'start flaky', 'start flaky'])
  assert.equal(run.status().restarts, 2)
  assert.equal(run.status().children[0]?.kind, 'supervisor')
  await clock.runUntil(run.stop())
})

test("suture's decaying failure count", () => {
  const intensity = { threshold: 2, halfLife: 1_000 }
  let state = initialIntensity(intensity)
  const steps = [0, 0, 0, 5_000, 6_000].map((now) => {
    const decision = nextIntensity(intensity, state, now)
    state = decision.state
    return `${decision.counted} ${decision.allowed}`
  })
  // Counts 1, 2 (equal to the threshold: allowed), 3 (over it: escalate), then after five
  // half-lives 3/32 + 1, and one half-life later half of that + 1.
  assert.deepEqual(steps, ['1 true', '2 true', '3 false', `${3 / 32 + 1} true`, `${(3 / 32 + 1) / 2 + 1} true`])
})

test("a supervisor's start() checks its options as a steward's does: a misspelt key, a bad signal, clock or onEvent, a steward-only key", () => {
  const tree = supervisor({ name: 'tree' }, [{ name: 'a', ward: async () => {} }])
  const refused = (options: unknown, option: string, message: RegExp): void => {
    assert.throws(() => tree.start(options as never), (error: unknown) => {
      assert.ok(error instanceof OptionTypeError, String(error))
      assert.equal(error.code, 'ERR_STEWARD_OPTION')
      assert.equal(error.where, 'start')
      assert.equal(error.option, option)
      assert.match(error.message, message)
      return true
    })
  }
  refused({ sigal: new AbortController().signal }, 'sigal', /^start: unknown option 'sigal'; did you mean 'signal'\? known options: signal, clock, onEvent$/)
  refused({ resume: 3 }, 'resume', /unknown option 'resume'/)
  refused({ signal: true }, 'signal', /option 'signal' must be an AbortSignal/)
  refused({ clock: Date }, 'clock', /option 'clock' must be a Clock/)
  refused({ onEvent: {} }, 'onEvent', /option 'onEvent' must be a function/)
  refused(42, 'options', /options must be an object/)
})

test('one-for-one with a backoff: a failure of another child during the first one\'s backoff is its own decision, counted', async () => {
  const clock = new ManualClock()
  const log: string[] = []
  const decisions: string[] = []
  const run = supervisor({ strategy: 'one-for-one', backoff: fixed(1_000), maxRestarts: 5, within: '1m' }, [
    child('a', log, clock, 1),
    { ...child('b', log, clock), ward: async (ctx: WardContext) => {
      log.push('start b')
      if (!log.includes('crash b')) {
        await clock.sleep(500, ctx.signal) // fails while a's restart waits out its backoff
        log.push('crash b')
        throw new Error('b crashed')
      }
      await ctx.idle(new Promise(() => {}))
    } },
  ]).start({
    clock,
    onEvent: (event) => {
      if (event.type === 'decision') decisions.push(`${event.at} ${event.child} merged=${String(event.merged)} restarts=${event.restarts}`)
    },
  })
  await clock.advance(3_000)
  assert.deepEqual(decisions, ['10 a merged=false restarts=1', '500 b merged=false restarts=2'])
  assert.equal(run.status().restarts, 2)
  await clock.runUntil(run.stop())
})

test('in a tree, the backoff sees each child\'s uptime: resetAfter starts the delays over after a stable run', async () => {
  const clock = new ManualClock()
  const delays: number[] = []
  let calls = 0
  const run = supervisor({ backoff: resetAfter(exponential({ initial: 100, max: '1m' }), '10s'), maxRestarts: 10, within: '10s' }, [
    {
      name: 'flaky',
      ward: async (ctx: WardContext) => {
        calls++
        // Two quick failures, then one after a 20 s run, then a quick one again.
        await clock.sleep(calls === 3 ? 20_000 : 10, ctx.signal)
        throw new Error(`failure ${calls}`)
      },
    },
  ]).start({
    clock,
    onEvent: (event) => {
      if (event.type === 'decision') delays.push(event.delay)
    },
  })
  await clock.advance(25_000)
  assert.deepEqual(delays.slice(0, 4), [100, 200, 100, 200], `the delay after the 20 s run is the initial one again: ${delays.join(', ')}`)
  await clock.runUntil(run.stop())
})

test('bad supervisor options and children are refused, naming the problem', () => {
  assert.throws(() => supervisor({ strategy: 'all-for-one' as never }, []), /option 'strategy' must be one of/)
  assert.throws(() => supervisor({ maxRestarts: -1 }, []), /option 'maxRestarts'/)
  assert.throws(() => supervisor({ decay: { threshold: 0, halfLife: '1s' } }, []), /decay.threshold/)
  assert.throws(() => supervisor({ decay: { threshold: 1, halfLife: '1s' }, maxRestarts: 2 }, []), /'decay' replaces/)
  assert.throws(() => supervisor({}, [{ name: '', ward: async () => {} }]), /'name' must be a non-empty string/)
  assert.throws(() => supervisor({}, [{ name: 'x', ward: 'no' as never }]), /child 'x': option 'ward' must be a function/)
  assert.throws(
    () => supervisor({}, [{ name: 'x', ward: async () => {} }, { name: 'x', ward: async () => {} }]),
    /option 'name' must be unique among the children, got 'x' twice/,
  )
  // Eagerly, by supervisor() itself, each error naming the supervisor, the child and the option.
  let started = 0
  const ward = async (): Promise<void> => void started++
  const refused = (options: object, children: readonly object[], expected: { name: string; option: string; child?: string; message: RegExp }): void =>
    assert.throws(() => supervisor({ name: 'tree', ...options }, children as never), (error: Error & { code?: string; option?: string; child?: string }) => {
      assert.equal(error.name, expected.name)
      assert.equal(error.code, 'ERR_STEWARD_OPTION')
      assert.equal(error.option, expected.option)
      assert.equal(error.child, expected.child)
      assert.match(error.message, expected.message)
      return true
    })
  refused({ stratgy: 'one-for-all' }, [], { name: 'OptionTypeError', option: 'stratgy', message: /unknown option 'stratgy'; did you mean 'strategy'\?/ })
  refused({}, [{ name: 'reader', ward, timout: '1s' }], {
    name: 'OptionTypeError',
    option: 'timout',
    child: 'reader',
    message: /^supervisor 'tree': child 'reader': unknown option 'timout'; did you mean 'timeout'\?/,
  })
  refused({}, [{ name: 'reader', ward, maxRestarts: 3 }], {
    name: 'OptionTypeError',
    option: 'maxRestarts',
    child: 'reader',
    message: /^supervisor 'tree': child 'reader': option 'maxRestarts' does not apply to a child/,
  })
  refused({}, [{ name: 'reader', ward, timeout: -1 }], { name: 'OptionRangeError', option: 'timeout', child: 'reader', message: /child 'reader': option 'timeout'/ })
  refused({}, [{ name: 'reader', ward, poisonAfter: '2' }], { name: 'OptionTypeError', option: 'poisonAfter', child: 'reader', message: /child 'reader': option 'poisonAfter'/ })
  assert.equal(started, 0, 'nothing started')
})
