import { test } from 'node:test'
import assert from 'node:assert/strict'
import { getEventListeners } from 'node:events'
import { ManualClock } from '../time/manual-clock.js'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import type { StewardEvent } from '../observe/events.js'
import { GaveUpError, NonErrorThrown, WardHungError, WardRetiredError } from './errors.js'
import { steward } from './steward.js'
import type { Outcome, Run } from './run-api.js'
import type { WardContext } from './ward.js'
import type { Output } from './output.js'
import { aborted } from '../testing/wait.js'

/** Records events as compact strings: `time type attempt [detail]`. */
function recorder(): { lines: string[]; onEvent: (event: StewardEvent) => void } {
  const lines: string[] = []
  return {
    lines,
    onEvent: (event) => {
      let detail = ''
      if (event.type === 'restarting') detail = ` ${event.reason}`
      if (event.type === 'failed') detail = ` ${event.error.message}`
      if (event.type === 'gave-up') detail = ` ${event.restarts}`
      lines.push(`${event.at} ${event.type} ${event.attempt}${detail}`)
    },
  }
}

async function drain<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const values: T[] = []
  for await (const value of iterable) values.push(value)
  return values
}

test('a working ward that does not beat for `timeout` is replaced exactly then', async () => {
  const clock = new ManualClock()
  const events = recorder()
  const ward = async (ctx: WardContext): Promise<void> => {
    ctx.beat()
    await clock.sleep(300) // beats at 0 and 300, then hangs
    ctx.beat()
    await aborted(ctx.signal)
  }
  const run = steward(ward, { timeout: 1_000, maxRestarts: 1 }).start({ clock, onEvent: events.onEvent })
  const outcome = await clock.runUntil(run.done)
  assert.equal(outcome.kind, 'gave-up')
  assert.deepEqual(events.lines, [
    '0 started 1',
    '1300 hung 1',
    '1300 restarting 1 hung',
    '1300 started 2',
    '2600 hung 2',
    '2600 gave-up 2 1',
  ])
  assert.ok(outcome.kind === 'gave-up' && outcome.error.cause instanceof WardHungError)
})

test('a ward that keeps beating is never restarted', async () => {
  const clock = new ManualClock()
  const events = recorder()
  const ward = async (ctx: WardContext): Promise<void> => {
    for (let i = 0; i < 100; i++) {
      ctx.beat()
      await clock.sleep(ctx.pulseInterval)
    }
  }
  const run = steward(ward, { timeout: 1_000 }).start({ clock, onEvent: events.onEvent })
  const outcome = await clock.runUntil(run.done)
  assert.equal(outcome.kind, 'completed')
  assert.deepEqual(events.lines, ['0 started 1', '50000 completed 1'])
})

test('beat() sets and clears no timer: the watchdog re-files a run once per timeout, not per beat', async () => {
  const clock = new ManualClock()
  let timersSet = 0
  const setTimer = clock.setTimer.bind(clock)
  clock.setTimer = (ms, callback) => {
    timersSet++
    return setTimer(ms, callback)
  }
  let beats = 0
  const ward = async (ctx: WardContext): Promise<void> => {
    // 10,000 beats per virtual millisecond for 10 timeouts.
    for (let ms = 0; ms < 10_000; ms++) {
      for (let i = 0; i < 10_000; i++, beats++) ctx.beat(i)
      await new Promise<void>((resolve) => clock.setTimer(1, resolve))
    }
  }
  const run = steward(ward, { timeout: 1_000 }).start({ clock })
  await clock.runUntil(run.done)
  assert.equal(beats, 100_000_000)
  // The ward's own 10,000 sleeps, plus about one watchdog timer per timeout.
  assert.ok(timersSet - 10_000 <= 12, `watchdog set ${timersSet - 10_000} timers`)
})

test('a throw or rejection restarts at once, not at the timeout', async () => {
  const clock = new ManualClock()
  const events = recorder()
  let calls = 0
  const ward = (ctx: WardContext): Promise<void> => {
    calls++
    if (calls === 1) throw new Error('sync boom')
    if (calls === 2) return Promise.reject(new Error('async boom'))
    return clock.sleep(500, ctx.signal)
  }
  const run = steward(ward, { timeout: 10_000 }).start({ clock, onEvent: events.onEvent })
  const outcome = await clock.runUntil(run.done)
  assert.equal(outcome.kind, 'completed')
  assert.deepEqual(events.lines, [
    '0 started 1',
    '0 failed 1 sync boom',
    '0 restarting 1 failed',
    '0 started 2',
    '0 failed 2 async boom',
    '0 restarting 2 failed',
    '0 started 3',
    '500 completed 3',
  ])
})

test('a thrown non-Error is wrapped so the failure has a name and a message', async () => {
  const clock = new ManualClock()
  const ward = async (): Promise<void> => {
    throw 'plain string' // eslint-disable-line @typescript-eslint/only-throw-error
  }
  const run = steward(ward, { restart: 'temporary' }).start({ clock })
  const outcome = await clock.runUntil(run.done)
  assert.ok(outcome.kind === 'gave-up')
  assert.ok(outcome.error.cause instanceof NonErrorThrown)
  assert.equal(outcome.error.cause.cause, 'plain string')
  assert.match(outcome.error.cause.message, /non-Error value: "plain string"/)
})

test('restart types: transient completes on return, permanent restarts, temporary never restarts', async () => {
  const clock = new ManualClock()
  let calls = 0
  const returns = async (): Promise<string> => {
    calls++
    return 'result'
  }
  const transient = await clock.runUntil(steward(returns).start({ clock }).done)
  assert.deepEqual(transient, { kind: 'completed', value: 'result', attempts: 1, restarts: 0 })

  calls = 0
  const events = recorder()
  const permanent = await clock.runUntil(
    steward(returns, { restart: 'permanent', maxRestarts: 3, within: Infinity }).start({ clock, onEvent: events.onEvent }).done,
  )
  assert.equal(calls, 4)
  assert.equal(permanent.kind, 'gave-up')
  assert.ok(permanent.kind === 'gave-up' && /returned and its restart type is 'permanent'/.test(permanent.error.cause.message))
  assert.deepEqual(events.lines.filter((line) => line.includes('restarting')), [
    '0 restarting 1 returned',
    '0 restarting 2 returned',
    '0 restarting 3 returned',
  ])

  calls = 0
  const fails = async (): Promise<void> => {
    calls++
    throw new Error('once')
  }
  const temporary = await clock.runUntil(steward(fails, { restart: 'temporary' }).start({ clock }).done)
  assert.equal(calls, 1)
  assert.ok(temporary.kind === 'gave-up' && temporary.error.reason === 'temporary' && temporary.restarts === 0)
})

test('backpressure is not a hang: a stream ward waiting on its consumer is healthy', async () => {
  const clock = new ManualClock()
  const events = recorder()
  let produced = 0
  const ward = async function* (ctx: WardContext): AsyncGenerator<number> {
    for (let i = 1; i <= 3; i++) {
      ctx.beat()
      produced = i
      yield i
    }
  }
  const run = steward(ward, { timeout: 1_000 }).start({ clock, onEvent: events.onEvent })
  await clock.advance(0)
  assert.equal(produced, 0, 'nothing is produced before the consumer asks')
  await clock.advance(60_000)
  const first = await run.next()
  assert.deepEqual(first, { done: false, value: 1 })
  await clock.advance(60_000) // the consumer is slow: 60 timeouts between two values
  assert.equal(produced, 1)
  assert.equal(run.status().state, 'waiting')
  assert.equal(clock.pendingTimers, 0, 'no timer while the ward waits on its consumer')
  const rest = await clock.runUntil(drain(run))
  assert.deepEqual(rest, [2, 3])
  assert.deepEqual(events.lines, ['0 started 1', '120000 completed 1'])
})

test('waiting for input is healthy without beating and costs no timer; the deadline restarts when input arrives', async () => {
  const clock = new ManualClock()
  const events = recorder()
  let deliver!: (value: string) => void
  const input = new Promise<string>((resolve) => (deliver = resolve))
  const received: string[] = []
  const ward = async (ctx: WardContext): Promise<void> => {
    received.push(await ctx.idle(input))
    await aborted(ctx.signal) // works on it, hangs
  }
  const run = steward(ward, { timeout: 1_000, restart: 'temporary' }).start({ clock, onEvent: events.onEvent })
  await clock.advance(10)
  assert.equal(run.status().state, 'idle')
  assert.equal(clock.pendingTimers, 1, 'only the watchdog timer filed before the ward went idle')
  await clock.advance(1_000)
  assert.equal(clock.pendingTimers, 0, 'an idle ward holds no timer')
  await clock.advance(1_000_000)
  assert.deepEqual(events.lines, ['0 started 1'])
  deliver('job')
  const outcome = await clock.runUntil(run.done)
  assert.equal(outcome.kind, 'gave-up')
  assert.deepEqual(events.lines, ['0 started 1', '1002010 hung 1', '1002010 gave-up 1 0'])
  assert.deepEqual(received, ['job'], 'ctx.idle resolves with the input')
})

test('after maxRestarts failures the consumer loop ends with a GaveUpError carrying the last failure, and done settles', async () => {
  const clock = new ManualClock()
  let calls = 0
  const ward = async function* (): AsyncGenerator<number> {
    calls++
    yield calls
    throw new Error(`failure ${calls}`)
  }
  const run = steward(ward, { maxRestarts: 2, within: Infinity }).start({ clock })
  const received: number[] = []
  const consumer = (async () => {
    try {
      for await (const value of run) received.push(value)
      return 'ended without error'
    } catch (error) {
      return error
    }
  })()
  const error = await clock.runUntil(consumer)
  assert.ok(error instanceof GaveUpError)
  assert.equal(error.code, 'ERR_STEWARD_GAVE_UP')
  assert.equal(error.restarts, 2)
  assert.equal(error.cause.message, 'failure 3')
  assert.deepEqual(received, [1, 2, 3])
  const outcome = await run.done
  assert.ok(outcome.kind === 'gave-up' && outcome.error === error)
  assert.deepEqual(await run.next(), { done: true, value: undefined }, 'the error is delivered once')
})

test('the restart window forgets old restarts', async () => {
  const clock = new ManualClock()
  let calls = 0
  const ward = async (ctx: WardContext): Promise<void> => {
    calls++
    if (calls >= 6) return
    await clock.sleep(600, ctx.signal)
    throw new Error('periodic')
  }
  // A failure every 600 ms, at most 1 restart per 500 ms: never two in one window.
  const within = await clock.runUntil(steward(ward, { maxRestarts: 1, within: 500 }).start({ clock }).done)
  assert.equal(within.kind, 'completed')
  calls = 0
  const without = await clock.runUntil(steward(ward, { maxRestarts: 1, within: Infinity }).start({ clock }).done)
  assert.equal(without.kind, 'gave-up')
  assert.equal(calls, 2)
})

test('the old incarnation is aborted before the new one starts; its late values are never delivered', async () => {
  const clock = new ManualClock()
  const order: string[] = []
  const signals: AbortSignal[] = []
  const ward = async function* (ctx: WardContext): AsyncGenerator<string> {
    order.push(`start ${ctx.attempt} (previous aborted: ${signals.at(-1)?.aborted ?? 'none'})`)
    signals.push(ctx.signal)
    ctx.beat()
    yield `a${ctx.attempt}`
    if (ctx.attempt === 1) {
      await aborted(ctx.signal) // hangs; yields after it was replaced
      order.push(`old ward saw abort: ${(ctx.signal.reason as Error).name}`)
      yield 'late'
      return
    }
    yield `b${ctx.attempt}`
  }
  const run = steward(ward, { timeout: 1_000 }).start({ clock })
  const values = await clock.runUntil(drain(run))
  assert.deepEqual(values, ['a1', 'a2', 'b2'])
  assert.deepEqual(order, ['start 1 (previous aborted: none)', 'old ward saw abort: WardRetiredError', 'start 2 (previous aborted: true)'])
  assert.ok(signals[0]!.reason instanceof WardRetiredError)
})

test('a beat from a replaced incarnation is ignored', async () => {
  const clock = new ManualClock()
  const events = recorder()
  let first: WardContext | undefined
  const ward = async (ctx: WardContext): Promise<void> => {
    if (ctx.attempt === 1) {
      first = ctx
      await new Promise(() => {}) // ignores its signal, never settles
    }
    await aborted(ctx.signal)
  }
  const run = steward(ward, { timeout: 1_000, stopTimeout: 0, maxRestarts: 1 }).start({ clock, onEvent: events.onEvent })
  await clock.advance(1_000)
  // The zombie keeps beating; the new incarnation does not, and must still be found hung.
  for (let t = 0; t < 20; t++) {
    first!.beat(t)
    await clock.advance(100)
  }
  assert.equal(run.status().progress, undefined, 'the stale progress was not recorded')
  await clock.runUntil(run.done)
  assert.deepEqual(
    events.lines.filter((line) => / hung /.test(line)),
    ['1000 hung 1', '2000 hung 2'],
  )
})

test('context: pulse interval, attempt, resume and failures at the same progress', async () => {
  const clock = new ManualClock()
  const seen: Array<[number, number, unknown, number]> = []
  const ward = async (ctx: WardContext): Promise<void> => {
    seen.push([ctx.attempt, ctx.pulseInterval, ctx.resume, ctx.failuresHere])
    if (ctx.attempt === 1) ctx.beat('p1')
    if (ctx.attempt === 3) ctx.beat({ at: 2 })
    if (ctx.attempt === 5) return
    throw new Error('x')
  }
  const run = steward(ward, { timeout: 1_000, maxRestarts: 10 }).start({ clock, resume: 'p0' })
  await clock.runUntil(run.done)
  assert.deepEqual(seen, [
    [1, 500, 'p0', 0],
    [2, 500, 'p1', 1],
    [3, 500, 'p1', 2],
    [4, 500, { at: 2 }, 1],
    [5, 500, { at: 2 }, 2],
  ])
  assert.equal(steward(ward, { timeout: 1_000, pulseInterval: 100 }).stewardName, 'ward')
})

test('bad options throw at construction, naming the option', () => {
  const ward = async (): Promise<void> => {}
  const cases: Array<[object, RegExp]> = [
    [{ timeout: -1 }, /option 'timeout': must not be negative/],
    [{ timeout: 0 }, /option 'timeout': must be greater than zero/],
    [{ timeout: Infinity }, /option 'timeout': must be finite/],
    [{ timeout: NaN }, /option 'timeout'.*NaN/],
    [{ timeout: '10 parsecs' }, /option 'timeout': "10 parsecs" is not a duration/],
    [{ timeout: 1_000, pulseInterval: 1_000 }, /option 'pulseInterval' must be below 'timeout' \(1000 ms\), got 1000 ms/],
    [{ restart: 'sometimes' }, /option 'restart' must be one of 'transient', 'permanent', 'temporary'/],
    [{ maxRestarts: -1 }, /option 'maxRestarts' must be a non-negative integer/],
    [{ maxRestarts: 1.5 }, /option 'maxRestarts'/],
    [{ within: 0 }, /option 'within': must be greater than zero/],
    [{ stopTimeout: -5 }, /option 'stopTimeout': must not be negative/],
    [{ name: '' }, /option 'name' must be a non-empty string/],
    [{ onEvent: 'log' }, /option 'onEvent' must be a function/],
    [{ timout: 5 }, /unknown option 'timout'/],
  ]
  for (const [options, message] of cases) {
    assert.throws(() => steward(ward, options), message, JSON.stringify(options))
  }
  assert.throws(() => steward('not a function' as never), /ward must be a function/)
  assert.throws(() => steward(ward).start({ signal: 'no' as never }), /option 'signal' must be an AbortSignal/)
  assert.throws(() => steward(ward).start({ clock: {} as never }), /option 'clock' must be a Clock/)
  assert.throws(() => steward(ward).start({ sigal: 1 } as never), /unknown option 'sigal'/)
})

test('stop() resolves after teardown, once; a ward that ignores its abort is reported and abandoned', async () => {
  const clock = new ManualClock()
  const events = recorder()
  let halted = false
  const polite = async (ctx: WardContext): Promise<void> => {
    try {
      await ctx.idle(new Promise(() => {}))
    } finally {
      halted = true
    }
  }
  const run = steward(polite).start({ clock, onEvent: events.onEvent })
  await clock.advance(5)
  const stopping = run.stop()
  assert.equal(run.stop(), stopping, 'a second stop returns the same promise')
  assert.deepEqual(await clock.runUntil(stopping), { unstopped: [], killed: [] })
  assert.ok(halted)
  assert.deepEqual(events.lines, ['0 started 1', '5 stopped 1'])

  const deaf = async (): Promise<void> => {
    await new Promise(() => {})
  }
  const events2 = recorder()
  const run2 = steward(deaf, { name: 'deaf', stopTimeout: '2s' }).start({ clock, onEvent: events2.onEvent })
  await clock.advance(0)
  const report = await clock.runUntil(run2.stop())
  assert.deepEqual(report, { unstopped: ['deaf'], killed: [] })
  assert.deepEqual(events2.lines, ['5 started 1', '2005 unstopped 1', '2005 stopped 1'])
  const outcome = await run2.done
  assert.ok(outcome.kind === 'stopped' && outcome.unstopped[0] === 'deaf')
  assert.deepEqual(await run2.stop(), { unstopped: ['deaf'], killed: [] })
})

test("the caller's signal stops the run with its reason, the ward's signal carries it, and its listener is removed", async () => {
  const clock = new ManualClock()
  const caller = new AbortController()
  // What the ward's signal said, recorded here and asserted after the run: an assertion inside
  // the ward would only be a failure of a ward that is being stopped anyway.
  const reasons: unknown[] = []
  const ward = async (ctx: WardContext): Promise<void> => {
    await ctx.idle(aborted(ctx.signal)).catch(() => {})
    reasons.push(ctx.signal.reason)
  }
  const run = steward(ward).start({ clock, signal: caller.signal })
  await clock.advance(1)
  assert.equal(getEventListeners(caller.signal, 'abort').length, 1)
  caller.abort('shutdown')
  const outcome = await clock.runUntil(run.done)
  assert.deepEqual(reasons, ['shutdown'])
  assert.deepEqual(outcome, { kind: 'stopped', reason: 'shutdown', unstopped: [], attempts: 1, restarts: 0 })
  assert.equal(getEventListeners(caller.signal, 'abort').length, 0)

  const early = steward(ward).start({ clock, signal: AbortSignal.abort('before') })
  assert.deepEqual(await clock.runUntil(early.done), { kind: 'stopped', reason: 'before', unstopped: [], attempts: 0, restarts: 0 })
  assert.deepEqual(reasons, ['shutdown'], 'a run whose signal had aborted starts no incarnation')
})

test("the ward's signal says why it was aborted: stop()'s reason as given, or a WardRetiredError naming the cause", async () => {
  const maintenance = new Error('maintenance')
  let caller = new AbortController()
  const stops: Array<[string, (run: Run<unknown>) => Promise<unknown>]> = [
    ['stop(reason)', (run) => run.stop('maintenance')],
    ['stop(error)', (run) => run.stop(maintenance)],
    ['stop()', (run) => run.stop()],
    [
      'the start signal',
      (run) => {
        caller.abort('signalled')
        return run.done
      },
    ],
  ]
  const describe = (reason: unknown): unknown =>
    reason === maintenance ? 'the Error given' : reason instanceof WardRetiredError ? `WardRetiredError ${reason.why}` : reason
  // Per way of stopping: the reasons the two incarnations saw, then the outcome's reason.
  const seen: Array<[string, unknown[]]> = []
  for (const [how, stop] of stops) {
    const clock = new ManualClock()
    caller = new AbortController()
    // Each incarnation records its signal's reason once aborted; asserted after the run.
    const reasons: unknown[] = []
    const ward = async (ctx: WardContext): Promise<void> => {
      if (ctx.attempt === 1) await aborted(ctx.signal) // no beat: hangs at 100
      else await ctx.idle(aborted(ctx.signal)).catch(() => {}) // healthy until stopped
      reasons.push(ctx.signal.reason)
    }
    const run = steward(ward, { timeout: 100 }).start({ clock, signal: caller.signal })
    await clock.advance(150) // the first incarnation hung at 100 and was replaced
    await clock.runUntil(stop(run))
    const outcome = await run.done
    seen.push([how, [...reasons, outcome.kind === 'stopped' ? outcome.reason : outcome.kind].map(describe)])
  }
  assert.deepEqual(seen, [
    ['stop(reason)', ['WardRetiredError hung', 'maintenance', 'maintenance']],
    ['stop(error)', ['WardRetiredError hung', 'the Error given', 'the Error given']],
    ['stop()', ['WardRetiredError hung', 'WardRetiredError stopped', undefined]],
    ['the start signal', ['WardRetiredError hung', 'signalled', 'signalled']],
  ])
})

test('leaving the stream early stops the run and closes the ward', async () => {
  const clock = new ManualClock()
  let closed = false
  const ward = async function* (ctx: WardContext): AsyncGenerator<number> {
    try {
      for (let i = 0; ; i++) {
        ctx.beat()
        yield i
      }
    } finally {
      closed = true
    }
  }
  const run = steward(ward).start({ clock })
  const values: number[] = []
  await clock.runUntil(
    (async () => {
      for await (const value of run) {
        values.push(value)
        if (value === 2) break
      }
    })(),
  )
  assert.deepEqual(values, [0, 1, 2])
  assert.ok(closed)
  assert.equal((await run.done).kind, 'stopped')
  assert.throws(() => run[Symbol.asyncIterator](), /can be iterated once/)
})

test('stewards nest: the inner one heals its ward, the outer one restarts the inner one when it gives up', async () => {
  const clock = new ManualClock()
  const events: string[] = []
  let calls = 0
  const flaky = async function* (ctx: WardContext<number>): AsyncGenerator<string> {
    calls++
    const start = ctx.resume ?? 0
    for (let i = start; i < 6; i++) {
      ctx.beat()
      await clock.sleep(100, ctx.signal)
      if (calls % 2 === 1 && i === start + 1) throw new Error(`flaky ${calls}`)
      yield `v${i}`
      ctx.beat(i + 1)
    }
  }
  const inner = steward(flaky, { name: 'inner', timeout: 1_000, maxRestarts: 0 })
  const outer = steward(inner, { name: 'outer', timeout: 2_000, maxRestarts: 10 })
  const run = outer.start({
    clock,
    onEvent: (event) => events.push(`${event.at} ${event.path} ${event.type}`),
  })
  const values = await clock.runUntil(drain(run))
  assert.deepEqual(values, ['v0', 'v1', 'v2', 'v3', 'v4', 'v5'])
  assert.deepEqual(events, [
    '0 outer started',
    '0 outer/inner started',
    '200 outer/inner failed',
    '200 outer/inner gave-up',
    '200 outer failed',
    '200 outer restarting',
    '200 outer started',
    '200 outer/inner started',
    '700 outer/inner completed',
    '700 outer completed',
  ])
  assert.equal(run.status().state, 'completed')
})

test('stewards nest with ctx.output: the outer steward commits the progress as it delivers, so a restart after the inner one gives up neither repeats nor skips', async () => {
  const clock = new ManualClock()
  let calls = 0
  const flaky = async function* (ctx: WardContext<number>): AsyncGenerator<Output<string, number>> {
    calls++
    const start = ctx.resume ?? 0
    for (let i = start; i < 6; i++) {
      ctx.beat()
      await clock.sleep(100, ctx.signal)
      if (calls === 1 && i === 3) throw new Error('flaky')
      yield ctx.output(`v${i}`, i + 1)
    }
  }
  const inner = steward(flaky, { name: 'inner', timeout: 1_000, maxRestarts: 0 })
  const run = steward(inner, { name: 'outer', timeout: 2_000, maxRestarts: 10 }).start({ clock })
  const values = await clock.runUntil(drain(run))
  assert.deepEqual(values, ['v0', 'v1', 'v2', 'v3', 'v4', 'v5'])
  assert.equal(calls, 2)
  assert.equal(run.status().progress, 6)
})

test("a nested steward's abandoned ward is in the outer stop's report: the operator is not told everything stopped", async () => {
  const clock = new ManualClock()
  const deaf = async (): Promise<void> => {
    await new Promise(() => {})
  }
  const events = recorder()
  const inner = steward(deaf, { name: 'inner', stopTimeout: '1s' })
  const run = steward(inner, { name: 'outer', stopTimeout: '5s' }).start({ clock, onEvent: events.onEvent })
  await clock.advance(10)
  const report = await clock.runUntil(run.stop('shutdown'))
  // The inner steward gave up on its ward at 1 s and settled; the outer one waited for it, not for the ward.
  assert.deepEqual(report, { unstopped: ['outer/inner'], killed: [] })
  const outcome = await run.done
  assert.ok(outcome.kind === 'stopped', outcome.kind)
  assert.deepEqual(outcome.unstopped, ['outer/inner'])
  assert.ok(events.lines.includes('1010 unstopped 1'), events.lines.join('\n'))
  assert.equal(events.lines.at(-1), '1010 stopped 1')
})

test('a nested steward passes beats up: the outer one does not restart it while its ward beats', async () => {
  const clock = new ManualClock()
  const events: string[] = []
  const steady = async (ctx: WardContext): Promise<void> => {
    for (let i = 0; i < 50; i++) {
      ctx.beat(i)
      await clock.sleep(400, ctx.signal)
    }
  }
  const run = steward(steward(steady, { name: 'inner', timeout: 1_000 }), { name: 'outer', timeout: 1_000 }).start({
    clock,
    onEvent: (event) => events.push(`${event.path} ${event.type}`),
  })
  await clock.advance(5_000)
  const status = run.status()
  assert.equal(status.state, 'working')
  assert.equal(status.progress, 12, 'progress is passed up')
  assert.equal(status.children[0]?.path, 'outer/inner')
  assert.equal(status.children[0]?.state, 'working')
  assert.doesNotThrow(() => JSON.stringify(status))
  await clock.runUntil(run.done)
  assert.deepEqual(events, ['outer started', 'outer/inner started', 'outer/inner completed', 'outer completed'])
})

test('nothing is left behind after completion, stop, give-up and abort', async () => {
  const endings: Record<'completed' | 'stopped' | 'gave-up' | 'aborted', (clock: ManualClock) => Promise<Outcome>> = {
    completed: async (clock) => {
      const ward = async function* (ctx: WardContext): AsyncGenerator<number> {
        ctx.beat()
        await clock.sleep(10, ctx.signal)
        yield 1
      }
      const run = steward(ward).start({ clock })
      await drain(run)
      return run.done
    },
    stopped: async (clock) => {
      const ward = async (ctx: WardContext): Promise<void> => {
        await ctx.idle(new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true })))
      }
      const run = steward(ward).start({ clock })
      await clock.advance(100)
      await run.stop()
      return run.done
    },
    'gave-up': async (clock) => {
      const ward = async (ctx: WardContext): Promise<void> => {
        ctx.beat()
        await aborted(ctx.signal)
      }
      const run = steward(ward, { timeout: 100, maxRestarts: 3 }).start({ clock })
      try {
        await drain(run)
      } catch {
        // the give-up error, expected
      }
      return run.done
    },
    aborted: async (clock) => {
      const caller = new AbortController()
      const ward = async function* (ctx: WardContext): AsyncGenerator<number> {
        for (let i = 0; ; i++) {
          ctx.beat()
          await clock.sleep(10, ctx.signal)
          yield i
        }
      }
      const run = steward(ward).start({ clock, signal: caller.signal })
      clock.setTimer(55, () => caller.abort())
      await drain(run)
      return run.done
    },
  }
  for (const [expected, body] of Object.entries(endings)) {
    const clock = new ManualClock()
    const { result, leaks } = await checkLeaks(() => clock.runUntil(body(clock)))
    assert.equal(result.kind, expected === 'aborted' ? 'stopped' : expected)
    assert.deepEqual(leaks, noLeaks, `${expected}: left something behind`)
    assert.equal(clock.pendingTimers, 0, `${expected}: a timer is left`)
  }
})

test('the leak check itself reports listeners, promises and handles left behind', async () => {
  const keep = new AbortController()
  let handle: ReturnType<typeof setTimeout> | undefined
  const { leaks } = await checkLeaks(async () => {
    keep.signal.addEventListener('abort', () => {})
    void new Promise(() => {})
    handle = setTimeout(() => {}, 60_000)
  })
  clearTimeout(handle)
  assert.equal(leaks.abortListeners, 1)
  assert.equal(leaks.pendingPromises, 1)
  assert.deepEqual(leaks.handles, ['Timeout'])
})

test('events and status are plain data', async () => {
  const clock = new ManualClock()
  const all: StewardEvent[] = []
  const ward = async (ctx: WardContext): Promise<void> => {
    ctx.beat({ offset: 3 })
    if (ctx.attempt < 3) throw Object.assign(new Error('disk full'), { code: 'ENOSPC' })
  }
  const run = steward(ward, { name: 'writer' }).start({ clock })
  const subscription = run.on((event) => all.push(event))
  await clock.runUntil(run.done)
  subscription.dispose()
  assert.deepEqual(JSON.parse(JSON.stringify(all[1])), {
    type: 'failed',
    ward: 'writer',
    path: 'writer',
    at: 0,
    attempt: 1,
    reason: 'failed',
    error: { name: 'Error', message: 'disk full', code: 'ENOSPC' },
  })
  assert.deepEqual(
    all.map((event) => event.type),
    ['started', 'failed', 'restarting', 'started', 'failed', 'restarting', 'started', 'completed'],
  )
  const status = JSON.parse(JSON.stringify(run.status())) as Record<string, unknown>
  assert.deepEqual(status, {
    name: 'writer',
    path: 'writer',
    kind: 'steward',
    state: 'completed',
    attempt: 3,
    restarts: 2,
    restartReasons: ['hung', 'failed'],
    up: false,
    lastBeatAgo: null,
    progress: { offset: 3 },
    failuresHere: 2,
    lastFailure: { name: 'Error', message: 'disk full', code: 'ENOSPC' },
    probeFailure: null,
    pid: null,
    threadId: null,
    uptime: null,
    rss: null,
    cpu: null,
    fds: null,
    startTime: null,
    abandoned: 0,
    lastAbandoned: null,
    children: [],
  })
})

test('a crash loop neither overflows the stack nor starves other work', { timeout: 60_000 }, async () => {
  const clock = new ManualClock()
  // Synchronous throws restart in a loop, never recursively.
  let calls = 0
  const syncThrower = (ctx: WardContext): Promise<void> => {
    calls++
    if (ctx.attempt > 30_000) return Promise.resolve()
    throw new Error('at once')
  }
  const outcome = await steward(syncThrower, { maxRestarts: Infinity }).start({ clock }).done
  assert.equal(outcome.kind, 'completed')
  assert.equal(calls, 30_001)

  // An iterator whose next() throws synchronously, over and over.
  const badIterator = (): AsyncIterable<number> => ({
    [Symbol.asyncIterator]: () => ({
      next: () => {
        throw new Error('next broke')
      },
    }),
  })
  const stream = steward(badIterator, { maxRestarts: 20_000, within: Infinity }).start({ clock })
  await assert.rejects(drain(stream), GaveUpError)

  // A loop that never ends still lets a macrotask in, which can stop it.
  const forever = steward(
    async () => {
      throw new Error('always')
    },
    { maxRestarts: Infinity },
  ).start({ clock })
  setImmediate(() => void forever.stop())
  const stopped = await forever.done
  assert.equal(stopped.kind, 'stopped')
  assert.ok(stopped.restarts > 0)

  // The same for synchronous throws, which restart in one loop: it lets the macrotask in long
  // before the ward would end on its own (after 100,000 attempts).
  const syncForever = steward(
    (ctx: WardContext): Promise<void> => {
      if (ctx.attempt > 100_000) return Promise.resolve()
      throw new Error('always, at once')
    },
    { maxRestarts: Infinity },
  ).start({ clock })
  setImmediate(() => void syncForever.stop())
  const syncStopped = await syncForever.done
  assert.equal(syncStopped.kind, 'stopped', 'the macrotask got in')
  assert.ok(syncStopped.restarts > 0 && syncStopped.restarts < 100_000, `restarts: ${syncStopped.restarts}`)
})

test("a permanent ward's normal return resets the failures counted at its progress", async () => {
  const clock = new ManualClock()
  const seen: number[] = []
  const run = steward(
    async (ctx: WardContext) => {
      seen.push(ctx.failuresHere)
      await clock.sleep(10, ctx.signal)
      if (ctx.attempt <= 2) throw new Error('fail')
    },
    { restart: 'permanent', maxRestarts: Infinity },
  ).start({ clock })
  await clock.advance(35)
  assert.deepEqual(seen, [0, 1, 2, 0])
  assert.equal(run.status().failuresHere, 0)
  await clock.runUntil(run.stop())
})

test('failuresHere in status and in the next context counts only failures at the current progress', async () => {
  const clock = new ManualClock()
  const seen: number[] = []
  const run = steward(
    async (ctx: WardContext<number>) => {
      seen.push(ctx.failuresHere)
      await clock.sleep(10, ctx.signal)
      if (ctx.attempt <= 2) throw new Error('fails at 0')
      ctx.beat(1) // progress moves on
      await ctx.idle(clock.sleep(100, ctx.signal))
    },
    { maxRestarts: Infinity },
  ).start({ clock })
  await clock.advance(25)
  assert.deepEqual([run.status().failuresHere, run.status().progress], [2, undefined])
  await clock.advance(10)
  assert.deepEqual([run.status().failuresHere, run.status().progress], [0, 1])
  await clock.runUntil(run.stop())
  assert.deepEqual(seen, [0, 1, 2])
})

test('a promise ward that returns ctx.output(value, progress) commits the progress and completes with the value', async () => {
  const clock = new ManualClock()
  const run = steward(async (ctx: WardContext<number>) => {
    await clock.sleep(10, ctx.signal)
    return ctx.output('all done', 7)
  }).start({ clock })
  const outcome = await clock.runUntil(run.done)
  assert.deepEqual(outcome, { kind: 'completed', value: 'all done', attempts: 1, restarts: 0 })
  assert.equal(run.progress, 7)
})
