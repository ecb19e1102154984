// Recipe: a Redis Streams consumer (XREADGROUP + XACK) as a ward. Each incarnation has its own
// connection, closed on abort, and first reads its own pending entries (delivered to this
// consumer name, never acknowledged) before new ones: attempt 1 crashes on entry 3 after
// XREADGROUP handed it over and before XACK; attempt 2 finds it pending and handles it first.
// Run: npx tsx examples/redis-streams.ts PORT   (a redis-server on 127.0.0.1:PORT)
import { Redis } from 'ioredis'
import { steward, type WardContext } from 'steward'

const port = Number(process.argv[2])
if (!Number.isInteger(port) || port <= 0 || port > 65_535) throw new RangeError(`usage: redis-streams.ts PORT, got ${process.argv[2]}`)
const [stream, group, consumer] = ['recipe:events', 'recipe:group', 'worker-1']
type Entries = Array<[stream: string, entries: Array<[id: string, fields: string[]]>]> | null

async function ward(ctx: WardContext): Promise<void> {
  const redis = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: null })
  ctx.signal.addEventListener('abort', () => redis.disconnect(), { once: true })
  try {
    // '0': this consumer's pending entries (handed over before a crash); '>': new entries.
    for (const from of ['0', '>'] as const) {
      for (;;) {
        const read = (await ctx.idle(redis.xreadgroup('GROUP', group, consumer, 'COUNT', 1, 'BLOCK', 0, 'STREAMS', stream, from))) as Entries
        const entry = read?.[0]?.[1][0]
        if (entry === undefined) break // no pending entry left (a '>' read blocks instead)
        const [id, fields] = entry
        const n = fields[1]
        ctx.beat()
        if (n === '3' && ctx.attempt === 1) throw new Error(`crashed on entry ${n} before XACK`)
        console.log(`attempt ${ctx.attempt}: handled entry ${n}${from === '0' ? ' (pending, delivered again)' : ''}`)
        await redis.xack(stream, group, id)
        if (n === '5') return
      }
    }
  } finally {
    redis.disconnect()
  }
}

const admin = new Redis({ host: '127.0.0.1', port })
await admin.del(stream)
await admin.xgroup('CREATE', stream, group, '$', 'MKSTREAM')
for (let n = 1; n <= 5; n++) await admin.xadd(stream, '*', 'n', String(n))

const run = steward(ward, { name: 'stream-consumer', timeout: '5s' }).start()
run.on('failed', (event) => console.log(`steward: ${event.error.message}; restarting`))
const outcome = await run.done
const pending = (await admin.xpending(stream, group)) as [count: number, ...unknown[]]
console.log(`outcome: ${outcome.kind} after ${outcome.restarts} restart(s); pending: ${pending[0]}`)
await admin.del(stream)
admin.disconnect()
