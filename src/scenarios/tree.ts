// A supervision tree healing: a connection, a reader and a writer under rest-for-one.
// The writer crashes at 2 s (only it restarts), the reader beats last at 2.5 s (hung at 3.5 s:
// it and the writer restart), the connection crashes at 6 s (everything restarts, in order),
// and the caller stops the tree at 8 s (children stop in reverse order).
import type { StewardEvent } from '../observe/events.js'
import { supervisor } from '../tree/supervisor.js'
import type { WardContext } from '../steward/ward.js'
import { aborted, type Scenario } from './timeline.js'

export const tree: Scenario = {
  id: 'tree',
  title: 'a rest-for-one tree heals a crash, a hang and a cascade (timeouts 1s, the caller stops at 8s)',
  ward: 'tree',
  async run({ clock, signal, log, write, record, started }) {
    let connections = 0
    let link = 0
    const runs = { reader: 0, writer: 0, connection: 0 }
    const untilStopped = async (ctx: WardContext, name: string): Promise<void> => {
      try {
        await ctx.idle((signal) => aborted(signal)) // waits for input that never comes, until it is stopped
      } finally {
        log('ward', `${name}: stopped`)
      }
    }
    const connection = async (ctx: WardContext): Promise<void> => {
      runs.connection++
      link = ++connections
      log('ward', `connection: ${link} up`)
      if (runs.connection === 1) {
        await ctx.idle(clock.sleep(6_000, ctx.signal)) // waits on the socket: healthy
        throw new Error('connection reset')
      }
      await untilStopped(ctx, 'connection')
    }
    const reader = async (ctx: WardContext): Promise<void> => {
      runs.reader++
      log('ward', `reader: reading connection ${link}`)
      if (runs.reader === 1) {
        while (clock.now() < 3_000) {
          ctx.beat()
          await clock.sleep(500, ctx.signal)
        }
        await aborted(ctx.signal) // stops beating: hung
        log('ward', 'reader: stopped')
        return
      }
      await untilStopped(ctx, 'reader')
    }
    const writer = async (ctx: WardContext): Promise<void> => {
      runs.writer++
      log('ward', `writer: writing to connection ${link}`)
      if (runs.writer === 1) {
        await ctx.idle(clock.sleep(2_000, ctx.signal)) // waits for something to write
        throw new Error('write failed')
      }
      await untilStopped(ctx, 'writer')
    }
    const caller = new AbortController()
    const halt = clock.setTimer(8_000, () => {
      log('main', 'main: stopping the tree.')
      caller.abort()
    })
    let restarts = 0
    const onEvent = (event: StewardEvent): void => {
      record(event)
      if (event.type === 'failed') log('steward', `steward: ${event.path} failed: ${event.error.message}`)
      if (event.type === 'hung') log('steward', `steward: ${event.path} unhealthy (no heartbeat)`)
      if (event.type === 'decision' && event.action === 'restart') {
        restarts++
        log('steward', `supervisor: restarting ${event.restarting.join(', ')} after ${event.child} ${event.reason} (restart ${restarts})`)
      }
      if (event.type === 'stopped' && event.path === 'tree') write({ type: 'stopped' })
    }
    const stopAll = (): void => caller.abort()
    signal.addEventListener('abort', stopAll, { once: true })
    const run = supervisor({ name: 'tree', strategy: 'rest-for-one', maxRestarts: 5, within: '1m' }, [
      { name: 'connection', ward: connection, timeout: 1_000 },
      { name: 'reader', ward: reader, timeout: 1_000 },
      { name: 'writer', ward: writer, timeout: 1_000 },
    ]).start({ clock, signal: caller.signal, onEvent })
    started(run)
    await run.done
    halt.cancel()
    signal.removeEventListener('abort', stopAll)
  },
}
