// Recipe: a client that takes no AbortSignal (ioredis, pg). Each incarnation opens its own
// connection and closes it when its signal aborts, so a hung incarnation's connection (and the
// command stuck on it) never outlives it. Attempt 1 blocks on a BLPOP that never returns and
// sends no beat; the steward sees the hang and aborts attempt 1's signal, which closes its
// connection; attempt 2 then counts the server's client connections: back to one, its own.
// Run: npx tsx examples/redis-connection.ts PORT   (a redis-server on 127.0.0.1:PORT)
import { Redis } from 'ioredis'
import { steward, type WardContext } from 'steward'

const port = Number(process.argv[2])
if (!Number.isInteger(port) || port <= 0 || port > 65_535) throw new RangeError(`usage: redis-connection.ts PORT (a redis-server on 127.0.0.1), got ${process.argv[2]}`)

/** A connection for one incarnation: closed when the incarnation's signal aborts (a stop, a hang, a restart). */
function connectionFor(ctx: WardContext): Redis {
  const client = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: null })
  ctx.signal.addEventListener('abort', () => client.disconnect(), { once: true })
  return client
}

/** The server's normal client connections (CLIENT LIST TYPE normal), this one included. */
async function clients(client: Redis): Promise<number> {
  const list = (await client.call('CLIENT', 'LIST', 'TYPE', 'normal')) as string
  return list.trim().split('\n').length
}

async function ward(ctx: WardContext): Promise<void> {
  const redis = connectionFor(ctx)
  try {
    if (ctx.attempt === 1) {
      console.log(`attempt 1: connected; clients: ${await clients(redis)}`)
      ctx.beat() // up: from now on, 1 s without a beat is a hang
      // A command that never returns and takes no signal: no beat, so the steward sees a hang.
      await redis.blpop('recipe:never', 0)
      return
    }
    // The hung attempt's connection was closed on abort; wait (with a deadline) for the server to
    // have seen the close, beating so the wait is not itself a hang.
    const deadline = Date.now() + 10_000
    let count = await clients(redis)
    while (count > 1 && Date.now() < deadline) {
      ctx.beat()
      await ctx.clock.sleep(50, ctx.signal)
      count = await clients(redis)
    }
    console.log(`attempt ${ctx.attempt}: connected; clients: ${count}`)
  } finally {
    redis.disconnect() // also when the ward ends on its own
  }
}

const run = steward(ward, { name: 'redis-user', timeout: '1s', startTimeout: '30s' }).start()
run.on('hung', (event) => console.log(`steward: '${event.ward}' hung; restarting`))
const outcome = await run.done
console.log(`outcome: ${outcome.kind} after ${outcome.restarts} restart(s)`)
