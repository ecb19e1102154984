import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ManualClock } from '../time/manual-clock.js'
import { supervisor, type ChildSpec } from './supervisor.js'
import type { WardContext } from '../steward/ward.js'
import type { StewardEvent } from '../observe/events.js'
import { aborted } from '../testing/wait.js'

/** A child that records its starts and idles until stopped (up at once). */
function idler(name: string, starts: string[], clock: ManualClock): ChildSpec {
  return {
    name,
    ward: async (ctx: WardContext) => {
      starts.push(`${clock.now()} ${name}`)
      await ctx.idle(aborted(ctx.signal))
    },
  }
}

test("startOrder 'ready': the next child waits through the previous one's restarts until it is up", async () => {
  const clock = new ManualClock()
  const starts: string[] = []
  const events: string[] = []
  // db never shows life in its first three incarnations (hung at its 2 s start deadline), then is up.
  const db: ChildSpec = {
    name: 'db',
    startTimeout: 2_000,
    ward: async (ctx: WardContext) => {
      starts.push(`${clock.now()} db`)
      if (ctx.attempt <= 3) return aborted(ctx.signal)
      await ctx.idle(aborted(ctx.signal))
    },
  }
  const run = supervisor({ startOrder: 'ready', maxRestarts: 10, within: '1m' }, [db, idler('app', starts, clock)]).start({
    clock,
    onEvent: (event) => events.push(`${event.at} ${event.path} ${event.type}`),
  })
  await clock.advance(5_000)
  // Two restarts of db so far (the second one used to wake the wait and start app).
  assert.deepEqual(starts, ['0 db', '2000 db', '4000 db'])
  const app = run.status().children[1]!
  assert.equal(app.state, 'starting')
  assert.equal(app.waitingFor, 'db')
  assert.equal(app.attempt, 0)
  await clock.advance(2_000)
  assert.deepEqual(starts, ['0 db', '2000 db', '4000 db', '6000 db', '6000 app'], 'app starts once db is up, not before')
  assert.ok(events.includes('4000 supervisor/db hung'))
  assert.equal(run.status().children[1]!.waitingFor, undefined)
  await clock.runUntil(run.stop())
})

test("startOrder 'ready': a dependency that ends without being up leaves the children after it unstarted, says so, and the others run on", async () => {
  const clock = new ManualClock()
  const starts: string[] = []
  const events: StewardEvent[] = []
  const db: ChildSpec = {
    name: 'db',
    restart: 'temporary',
    ward: async () => {
      starts.push(`${clock.now()} db`)
      await clock.sleep(500)
      throw new Error('db: no such table')
    },
  }
  const run = supervisor({ startOrder: 'ready' }, [idler('cache', starts, clock), db, idler('app', starts, clock), idler('web', starts, clock)]).start({
    clock,
    onEvent: (event) => events.push(event),
  })
  await clock.advance(5_000)
  assert.deepEqual(starts, ['0 cache', '0 db'], 'neither app nor web starts')
  const blocked = events.filter((event) => event.type === 'blocked')
  assert.deepEqual(
    blocked.map((event) => ({ ...event })),
    [{ type: 'blocked', ward: 'supervisor', path: 'supervisor', at: 500, attempt: 1, child: 'db', blocked: ['app', 'web'], error: { name: 'Error', message: 'db: no such table' } }],
  )
  const status = run.status()
  assert.equal(status.state, 'working', 'cache runs on')
  assert.deepEqual(
    status.children.map((child) => [child.name, child.state, child.blocked ?? false, child.waitingFor ?? null]),
    [
      ['cache', 'idle', false, null],
      ['app', 'starting', true, 'db'],
      ['web', 'starting', true, 'db'],
    ],
  )
  await clock.runUntil(run.stop())
})

test("startOrder 'ready': with nothing else running, a dependency that ends without being up makes the supervisor give up with its failure", async () => {
  const clock = new ManualClock()
  const starts: string[] = []
  const db: ChildSpec = {
    name: 'db',
    restart: 'temporary',
    ward: async () => {
      starts.push(`${clock.now()} db`)
      throw new Error('db: bad password')
    },
  }
  const run = supervisor({ startOrder: 'ready' }, [db, idler('app', starts, clock)]).start({ clock })
  const outcome = await clock.runUntil(run.done)
  assert.equal(outcome.kind, 'gave-up')
  assert.match(outcome.kind === 'gave-up' ? outcome.error.cause.message : '', /db: bad password/)
  assert.deepEqual(starts, ['0 db'])
})

test("startOrder 'ready': a child that completes (a one-shot task) lets the next one start", async () => {
  const clock = new ManualClock()
  const starts: string[] = []
  const migrate: ChildSpec = {
    name: 'migrate',
    restart: 'transient',
    ward: async () => {
      starts.push(`${clock.now()} migrate`)
      await clock.sleep(300)
    },
  }
  const events: string[] = []
  const run = supervisor({ startOrder: 'ready' }, [migrate, idler('app', starts, clock)]).start({ clock, onEvent: (event) => events.push(event.type) })
  await clock.advance(1_000)
  assert.deepEqual(starts, ['0 migrate', '300 app'])
  assert.ok(!events.includes('blocked'))
  await clock.runUntil(run.stop())
})
