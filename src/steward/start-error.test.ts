import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ManualClock } from '../time/manual-clock.js'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import { supervisor } from '../tree/supervisor.js'
import { GaveUpError, WardStartError } from './errors.js'
import { steward } from './steward.js'
import type { RestartInfo } from './options.js'
import type { WardContext } from './ward.js'

// The engine's side of a permanent start error (a WardStartError, as thread and process wards
// throw it): the run ends at once with no restart spent, unless shouldRestart returns true.

function notFound(ward = 'api'): WardStartError {
  return new WardStartError(ward, { command: 'api-serverr' }, Object.assign(new Error('spawn api-serverr ENOENT'), { code: 'ENOENT' }), 'not found (ENOENT)')
}

test('a start error ends the run at once: gave-up, reason start, no restart spent, whatever the limit and restart type', async () => {
  const clock = new ManualClock()
  for (const restart of ['permanent', 'transient'] as const) {
    let calls = 0
    const events: string[] = []
    const { result: outcome, leaks } = await checkLeaks(() =>
      clock.runUntil(
        steward(
          async () => {
            calls++
            throw notFound()
          },
          { name: 'api', restart, maxRestarts: 20, within: Infinity },
        ).start({ clock, onEvent: (event) => events.push(event.type === 'failed' ? `failed ${event.reason}` : event.type) }).done,
      ),
    )
    assert.equal(calls, 1, restart)
    assert.deepEqual(events, ['started', 'failed start', 'gave-up'])
    assert.ok(outcome.kind === 'gave-up')
    assert.equal(outcome.restarts, 0)
    assert.equal(outcome.error.reason, 'start')
    assert.ok(outcome.error.cause instanceof WardStartError)
    assert.equal(outcome.error.cause.command, 'api-serverr')
    assert.equal((outcome.error.cause.cause as NodeJS.ErrnoException).code, 'ENOENT')
    assert.match(outcome.error.message, /steward gave up on ward 'api': it could not be started.*cannot start command 'api-serverr': not found \(ENOENT\)/)
    assert.deepEqual(leaks, noLeaks)
  }
  const error = notFound()
  assert.equal(error.name, 'WardStartError')
  assert.equal(error.code, 'ERR_WARD_START')
  assert.equal(error.message, "ward 'api': cannot start command 'api-serverr': not found (ENOENT)")
  assert.equal(error.module, undefined)
})

test('shouldRestart decides for a start error only by returning true: then it is restarted (reason start) within the limit', async () => {
  const clock = new ManualClock()
  const cases: Array<[string, (error: Error, info: RestartInfo) => boolean, number]> = [
    ['true', () => true, 3],
    ['undefined', () => undefined as unknown as boolean, 1],
    ['false', () => false, 1],
    ['a throw', () => {
      throw new Error('hook broke')
    }, 1],
  ]
  const warnings: string[] = []
  const onWarning = (warning: Error): number => warnings.push(warning.message)
  process.on('warning', onWarning)
  try {
    for (const [what, shouldRestart, calls] of cases) {
      let count = 0
      const reasons: string[] = []
      const outcome = await clock.runUntil(
        steward(
          async () => {
            count++
            throw notFound()
          },
          { maxRestarts: 2, within: Infinity, shouldRestart: (error, info) => (reasons.push(info.reason), shouldRestart(error, info)) },
        ).start({ clock }).done,
      )
      assert.equal(count, calls, `shouldRestart returning ${what}`)
      assert.ok(reasons.every((reason) => reason === 'start'))
      assert.ok(outcome.kind === 'gave-up', what)
      // Retried until the restart limit: then it is the limit that ends it.
      assert.equal(outcome.error.reason, what === 'true' ? 'limit' : 'start', what)
    }
  } finally {
    process.off('warning', onWarning)
  }
  await new Promise((resolve) => setImmediate(resolve))
  assert.ok(warnings.some((message) => /not restarting a start error/.test(message)), warnings.join('\n'))
})

test('a nested steward that gave up on a start error: its parent gives up at once too', async () => {
  const clock = new ManualClock()
  let calls = 0
  const inner = steward(
    async () => {
      calls++
      throw notFound('inner')
    },
    { name: 'inner' },
  )
  const events: string[] = []
  const outcome = await clock.runUntil(steward(inner, { name: 'outer', maxRestarts: 5 }).start({ clock, onEvent: (event) => events.push(`${event.path} ${event.type}`) }).done)
  assert.equal(calls, 1)
  assert.ok(outcome.kind === 'gave-up' && outcome.error.reason === 'start')
  assert.ok(outcome.error.cause instanceof GaveUpError && outcome.error.cause.cause instanceof WardStartError)
  assert.ok(!events.some((line) => line.endsWith('restarting')), events.join('\n'))
})

test('a supervisor child that cannot start: its run ends without a decision, its siblings run on (and restart without it), and status keeps it with its failure', async () => {
  const clock = new ManualClock()
  const events: string[] = []
  const decisions: string[][] = []
  let healthyStarts = 0
  const healthy = async (ctx: WardContext): Promise<void> => {
    healthyStarts++
    for (;;) {
      ctx.beat()
      await clock.sleep(100, ctx.signal)
    }
  }
  const tree = supervisor({ name: 'app', strategy: 'one-for-all' }, [
    {
      name: 'db',
      // Fails once, at 500 ms, after api gave up: one-for-all restarts the others, not api.
      ward: async (ctx: WardContext): Promise<void> => {
        if (ctx.attempt === 1) {
          ctx.beat()
          await clock.sleep(500, ctx.signal)
          throw new Error('db connection lost')
        }
        await healthy(ctx)
      },
    },
    {
      name: 'api',
      ward: async () => {
        throw notFound()
      },
    },
    { name: 'jobs', ward: healthy },
  ]).start({
    clock,
    onEvent: (event) => {
      events.push(`${event.path} ${event.type}`)
      if (event.type === 'decision') decisions.push([...event.restarting])
    },
  })
  await clock.advance(1_000)
  const status = tree.status()
  assert.equal(status.state, 'working')
  assert.deepEqual(
    status.children.map((child) => [child.name, child.state, child.restarts]),
    [
      ['db', 'working', 1],
      ['api', 'gave-up', 0],
      ['jobs', 'working', 1],
    ],
  )
  const api = status.children[1]!
  assert.equal(api.lastFailure?.name, 'WardStartError')
  assert.match(api.lastFailure?.message ?? '', /cannot start command 'api-serverr'/)
  assert.deepEqual(decisions, [['db', 'jobs']], "db's failure restarts db and jobs; api is not started again")
  assert.equal(healthyStarts, 3, 'db once more, jobs twice')
  assert.ok(!events.includes('app/api restarting'), events.join('\n'))
  assert.ok(events.includes('app/api gave-up'))
  // It stays until removed.
  await tree.remove('api')
  assert.deepEqual(
    tree.status().children.map((child) => child.name),
    ['db', 'jobs'],
  )
  await clock.runUntil(tree.stop())
})

test('a supervisor whose every child left has not completed when one could not start: it gives up with that start error', async () => {
  const clock = new ManualClock()
  const tree = supervisor({ name: 'app' }, [
    { name: 'once', restart: 'transient', ward: async () => 'done' },
    {
      name: 'api',
      ward: async () => {
        throw notFound()
      },
    },
  ]).start({ clock })
  const outcome = await clock.runUntil(tree.done)
  assert.ok(outcome.kind === 'gave-up', JSON.stringify(outcome))
  assert.equal(outcome.error.reason, 'start')
  assert.ok(outcome.error.cause instanceof WardStartError)
})
