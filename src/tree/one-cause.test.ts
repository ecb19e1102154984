// One cause, one restart: a connection and the children that use it fail together, in the same
// instant or a few ms apart, in either order: the supervisor restarts them once, in start order.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { StewardEvent } from '../observe/events.js'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import { ManualClock } from '../time/manual-clock.js'
import type { WardContext } from '../steward/ward.js'
import { supervisor, type Strategy } from './supervisor.js'

/** A fake connection: calls on it wait until it drops, then reject (after `lag` ms). */
class Link {
  readonly #waiting: Array<(error: Error) => void> = []
  #closed!: (error: Error) => void
  readonly closed = new Promise<never>((_, reject) => (this.#closed = reject))

  /** A call that also ends when `signal` aborts (the caller's incarnation is retired). */
  call(signal: AbortSignal): Promise<never> {
    return new Promise((_, reject) => {
      const onAbort = (): void => reject(signal.reason)
      signal.addEventListener('abort', onAbort, { once: true })
      this.#waiting.push((error) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      })
    })
  }

  /** Drops the link: its owner first or its users first, the users `lag` ms later or at once. */
  drop(clock: ManualClock, lag: number, usersFirst: boolean): void {
    const users = (): void => {
      for (const reject of this.#waiting.splice(0)) reject(new Error('call failed: connection lost'))
    }
    if (usersFirst) users()
    this.#closed(new Error('connection reset'))
    if (!usersFirst) {
      if (lag === 0) users()
      else clock.setTimer(lag, users)
    }
  }
}

function connectionTree(strategy: Strategy, log: string[]): { ward: ReturnType<typeof supervisor>; link: () => Link } {
  // Made by the connection ward, which starts first.
  let link!: Link
  const connection = async (ctx: WardContext): Promise<void> => {
    log.push('conn')
    link = new Link()
    void link.closed.catch(() => {})
    const closed = link.closed
    await ctx.idle(new Promise((resolve, reject) => {
      const onAbort = (): void => resolve(undefined)
      ctx.signal.addEventListener('abort', onAbort, { once: true })
      closed.catch((error: unknown) => {
        ctx.signal.removeEventListener('abort', onAbort)
        reject(error)
      })
    }))
  }
  const user = (name: string) => async (ctx: WardContext): Promise<void> => {
    log.push(name)
    while (!ctx.signal.aborted) await ctx.idle(link.call(ctx.signal))
  }
  const ward = supervisor({ name: 'tree', strategy, maxRestarts: 5, within: '1m' }, [
    { name: 'connection', ward: connection, timeout: 1_500 },
    { name: 'reader', ward: user('reader'), timeout: 1_500 },
    { name: 'writer', ward: user('writer'), timeout: 1_500 },
  ])
  return { ward, link: () => link }
}

for (const strategy of ['rest-for-one', 'one-for-all'] as const) {
  for (const [lag, usersFirst] of [
    [0, false],
    [0, true],
    [5, false],
  ] as const) {
    const when = lag === 0 ? (usersFirst ? 'its users first, in the same instant' : 'its users in the same instant') : `its users ${lag} ms later`
    test(`${strategy}: the connection drops and ${when}: one restart, connection → reader → writer, ten times over`, async () => {
      const clock = new ManualClock()
      const log: string[] = []
      const events: StewardEvent[] = []
      const { leaks } = await checkLeaks(async () => {
        const tree = connectionTree(strategy, log)
        const run = tree.ward.start({ clock, onEvent: (event) => events.push(event) })
        await clock.advance(1_000)
        assert.deepEqual(log.splice(0), ['conn', 'reader', 'writer'])
        for (let episode = 1; episode <= 10; episode++) {
          tree.link().drop(clock, lag, usersFirst)
          await clock.advance(1_000)
          assert.deepEqual(log.splice(0), ['conn', 'reader', 'writer'], `episode ${episode}: started once each, in order`)
          assert.equal(run.status().restarts, episode, `episode ${episode}: one restart counted`)
          assert.deepEqual(
            run.status().children.map((child) => child.state),
            ['idle', 'idle', 'idle'],
          )
          await clock.advance(61_000) // beyond `within`: the intensity window forgets it
        }
        assert.equal(run.status().state, 'working')
        await clock.runUntil(run.stop())
        tree.link().drop(clock, 0, false) // settles the fixture's own promises
      })
      assert.deepEqual(leaks, noLeaks)
      assert.equal(events.filter((event) => event.type === 'gave-up').length, 0)
      const decisions = events.filter((event) => event.type === 'decision')
      assert.equal(decisions.filter((event) => event.type === 'decision' && !event.merged).length, 10, 'ten counted decisions')
      assert.ok(decisions.every((event) => event.type === 'decision' && event.action === 'restart'))
    })
  }
}

test("rest-for-one: a dependent's failure first, then the connection's in the same instant: the earliest child wins, counted once", async () => {
  const clock = new ManualClock()
  const log: string[] = []
  const events: string[] = []
  const tree = connectionTree('rest-for-one', log)
  const run = tree.ward.start({
    clock,
    onEvent: (event) => {
      if (event.type === 'decision') events.push(`${event.child} ${event.merged ? 'merged' : 'counted'} [${event.restarting.join(',')}]`)
    },
  })
  await clock.advance(1_000)
  log.length = 0
  tree.link().drop(clock, 0, true)
  await clock.advance(1_000)
  assert.deepEqual(log, ['conn', 'reader', 'writer'])
  assert.deepEqual(events, ['reader counted [reader,writer]', 'connection merged [connection,reader,writer]'])
  assert.equal(run.status().restarts, 1)
  await clock.runUntil(run.stop())
})

test("startOrder 'ready': the connection fails while a restart is starting its dependents again: the newer restart takes them over, each starts once after it", async () => {
  const clock = new ManualClock()
  const log: string[] = []
  let link!: Link
  let readerRuns = 0
  const connection = async (ctx: WardContext): Promise<void> => {
    log.push(`${clock.now()} conn`)
    link = new Link()
    void link.closed.catch(() => {})
    ctx.beat()
    await ctx.idle(Promise.race([link.closed, new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }))]))
  }
  const reader = async (ctx: WardContext): Promise<void> => {
    log.push(`${clock.now()} reader`)
    if (++readerRuns === 1) {
      await clock.sleep(100, ctx.signal)
      throw new Error('reader crashed')
    }
    await clock.sleep(50, ctx.signal) // slow to be up: the writer waits for it
    ctx.beat()
    await ctx.idle(new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true })))
  }
  const writer = async (ctx: WardContext): Promise<void> => {
    log.push(`${clock.now()} writer`)
    ctx.beat()
    await ctx.idle(new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true })))
  }
  const run = supervisor({ strategy: 'rest-for-one', startOrder: 'ready', maxRestarts: 5, within: '1m' }, [
    { name: 'connection', ward: connection },
    { name: 'reader', ward: reader },
    { name: 'writer', ward: writer },
  ]).start({ clock })
  await clock.advance(120) // the reader crashed at 100 and was started again; it is up at 150
  link.drop(clock, 0, false) // at 120, before the writer was started again
  await clock.advance(500)
  await clock.runUntil(run.stop())
  // The writer waits for the reader to be up (it never was before 150); the connection's restart
  // at 120 takes the reader and the writer over from the reader's restart: each starts once more.
  assert.deepEqual(log, ['0 conn', '0 reader', '100 reader', '120 conn', '120 reader', '170 writer'])
})
