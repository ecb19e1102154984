// What every run has: typed subscriptions, once(), await using, shouldRestart, a context
// without internals, and a clear error for a detached context method.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ManualClock } from '../time/manual-clock.js'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import { supervisor } from '../tree/supervisor.js'
import { DoNotRestart } from './sentinels.js'
import { steward } from './steward.js'
import type { WardContext } from './ward.js'
import { wardHost } from './host.js'


/** Crashes at 10 ms, every incarnation. */
function crasher(clock: ManualClock) {
  return async (ctx: WardContext): Promise<void> => {
    await clock.sleep(10, ctx.signal)
    throw new Error(`crash ${ctx.attempt}`)
  }
}

test('on(type, listener) receives only that type; on(listener) everything; both are disposable', async () => {
  const clock = new ManualClock()
  const run = steward(crasher(clock), { maxRestarts: 2 }).start({ clock })
  const restarts: number[] = []
  const all: string[] = []
  const typed = run.on('restarting', (event) => restarts.push(event.restarts))
  using _all = run.on((event) => all.push(event.type))
  await clock.advance(15)
  typed.dispose()
  await clock.runUntil(run.done)
  assert.deepEqual(restarts, [1])
  assert.deepEqual(all, ['started', 'failed', 'restarting', 'started', 'failed', 'restarting', 'started', 'failed', 'gave-up'])
  assert.throws(() => run.on('restarting', 'no' as never), /listener must be a function/)
})

test('once(type) resolves with the next event of that type and leaves no listener; rejects when the run ends first or its signal aborts', async () => {
  const clock = new ManualClock()
  const { leaks } = await checkLeaks(async () => {
    const run = steward(crasher(clock), { maxRestarts: 1 }).start({ clock })
    const failed = run.once('failed')
    const restarting = run.once('restarting')
    await clock.advance(10)
    assert.equal((await failed).error.message, 'crash 1')
    assert.equal((await restarting).reason, 'failed')
    // Nothing else listens: once() took its listeners with it (events are not even built now).
    assert.equal((run as unknown as { links: { emitter: { active: boolean } } }).links.emitter.active, false)
    const never = assert.rejects(run.once('idle-timeout'), (error: Error) => {
      assert.match(error.message, /ended \(gave-up\) before a 'idle-timeout' event/)
      assert.equal((error.cause as { kind: string }).kind, 'gave-up')
      return true
    })
    const caller = new AbortController()
    const cancelled = run.once('dead-letter', { signal: caller.signal })
    caller.abort(new Error('not waiting any more'))
    await assert.rejects(cancelled, /not waiting any more/)
    await clock.runUntil(run.done)
    await never
    await assert.rejects(run.once('started'), /ended \(gave-up\)/)
  })
  assert.deepEqual(leaks, noLeaks)
})

test('await using stops a run and a supervisor when the scope ends', async () => {
  const clock = new ManualClock()
  const halted: string[] = []
  const ward = (name: string) => async (ctx: WardContext) => {
    try {
      await ctx.idle(new Promise(() => {}))
    } finally {
      halted.push(name)
    }
  }
  let single: { done: Promise<{ kind: string }> } | undefined
  let tree: { done: Promise<{ kind: string }> } | undefined
  await clock.runUntil(
    (async () => {
      await using run = steward(ward('single')).start({ clock })
      await using sup = supervisor({}, [{ name: 'child', ward: ward('child') }]).start({ clock })
      single = run
      tree = sup
      await clock.sleep(5)
    })(),
  )
  assert.deepEqual(halted, ['child', 'single'])
  assert.equal((await single!.done).kind, 'stopped')
  assert.equal((await tree!.done).kind, 'stopped')
})

test('shouldRestart: false ends the run as DoNotRestart does, without spending a restart; a throw counts as true', async () => {
  const clock = new ManualClock()
  const asked: string[] = []
  const run = steward(crasher(clock), {
    maxRestarts: 5,
    shouldRestart: (error, info) => {
      asked.push(`${error.message} ${info.attempt} ${info.restarts} ${info.reason}`)
      return info.attempt < 2
    },
  }).start({ clock })
  const outcome = await clock.runUntil(run.done)
  assert.deepEqual(asked, ['crash 1 1 0 failed', 'crash 2 2 1 failed'])
  assert.equal(outcome.kind, 'stopped')
  assert.equal(outcome.restarts, 1)
  const reason = outcome.kind === 'stopped' ? outcome.reason : undefined
  assert.ok(reason instanceof DoNotRestart)
  assert.equal((reason.cause as Error).message, 'crash 2')
  // A hook that throws is reported and the restart goes ahead.
  const warnings: string[] = []
  const onWarning = (warning: Error): void => void warnings.push(warning.message)
  process.on('warning', onWarning)
  try {
    const again = steward(crasher(clock), {
      maxRestarts: 1,
      shouldRestart: () => {
        throw new Error('hook bug')
      },
    }).start({ clock })
    assert.equal((await clock.runUntil(again.done)).kind, 'gave-up')
    await new Promise((resolve) => setImmediate(resolve))
  } finally {
    process.off('warning', onWarning)
  }
  assert.ok(warnings.some((message) => /shouldRestart of 'ward' threw/.test(message)), warnings.join('\n'))
})

test('the context a ward is handed has no internals, and a detached method says how to call it', async () => {
  const clock = new ManualClock()
  let seen: { keys: string[]; run: unknown; claim: unknown; markSettled: unknown; detached: unknown } | undefined
  const run = steward(async (ctx: WardContext) => {
    const loose = ctx as unknown as Record<string, unknown>
    // eslint-disable-next-line @typescript-eslint/unbound-method -- detaching it is the point
    const { beat } = ctx
    let detached: unknown
    try {
      beat()
    } catch (error) {
      detached = error
    }
    seen = { keys: Object.keys(ctx).sort(), run: loose.run, claim: loose.claim, markSettled: loose.markSettled, detached }
  }).start({ clock })
  await clock.runUntil(run.done)
  assert.deepEqual(seen?.keys, ['attempt', 'failuresHere', 'resume'])
  assert.equal(seen?.run, undefined)
  assert.equal(seen?.claim, undefined)
  assert.equal(seen?.markSettled, undefined)
  assert.ok(seen?.detached instanceof TypeError)
  assert.match(seen.detached.message, /ctx\.beat was called detached from its context: call it as ctx\.beat\(\)/)
})

test('a wrapper of the context (Object.create(ctx), or one that forwards wardHost) keeps beats, paths and events', async () => {
  const clock = new ManualClock()
  const events: string[] = []
  const inner = steward(
    async (ctx: WardContext) => {
      ctx.beat()
      await ctx.idle((signal) => new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true })))
    },
    { name: 'inner', timeout: '1s' },
  )
  const outer = steward(
    async (ctx: WardContext) => {
      // A wrapper made by prototype: its inherited methods act on the context it wraps.
      const wrapped = Object.create(ctx) as WardContext
      wrapped.beat()
      // A wrapper made by hand: only what it forwards, wardHost included.
      const forwarded = { ...{ clock: ctx.clock, signal: ctx.signal, resume: ctx.resume }, beat: (p?: unknown) => ctx.beat(p), idle: ctx.idle.bind(ctx), [wardHost]: ctx[wardHost] } as unknown as WardContext
      await Promise.all([inner(wrapped).done, steward(inner, { name: 'second', timeout: '1s' })(forwarded).done])
    },
    { name: 'outer', timeout: '1s' },
  ).start({ clock, onEvent: (event) => events.push(`${event.path} ${event.type}`) })
  await clock.advance(5_000)
  // Beats and waits through the wrappers keep the outer ward healthy: still its first incarnation,
  // idle because the nested runs wait for input and say so through the wrappers.
  assert.deepEqual([outer.status().state, outer.status().attempt], ['idle', 1])
  await clock.runUntil(outer.stop())
  assert.ok(events.includes('outer/inner started'), events.join('\n'))
  assert.ok(events.includes('outer/second started'), events.join('\n'))
  assert.ok(!events.some((line) => line.endsWith(' hung')), events.join('\n'))
})
