// Recipe: a Redis list consumer that loses no message around a stop. `ctx.idle(redis.blpop(…))`
// does not: the stop rejects the wait at once, but the BLPOP stays blocked on the server, and a
// message pushed after the stop is popped by it and dropped (nobody awaits that reply any more).
// The safe pattern: a connection per incarnation, closed on abort (the server then forgets the
// blocked command), and BLMOVE into a processing list, acknowledged atomically with the delivery;
// what an incarnation moved and did not acknowledge is delivered again by the next one.
// The example stops and starts the consumer three times, pushing a message while it is stopped,
// and prints what was delivered.
// Run: npx tsx examples/redis-list-queue.ts PORT [--unsafe]   (a redis-server on 127.0.0.1:PORT)
import { Redis } from 'ioredis'
import { supervisor, type WardContext } from 'steward'

const port = Number(process.argv[2])
if (!Number.isInteger(port) || port <= 0 || port > 65_535) throw new RangeError(`usage: redis-list-queue.ts PORT [--unsafe], got ${process.argv[2]}`)
const unsafe = process.argv.includes('--unsafe')
const [jobs, processing, done] = ['recipe:jobs', 'recipe:processing', 'recipe:done']

/** Delivers `message` and acknowledges it in one transaction: it is in `done` once, and out of `processing`. */
async function deliver(redis: Redis, message: string): Promise<void> {
  await redis.multi().rpush(done, message).lrem(processing, 1, message).exec()
}

/** The safe consumer: its own connection, closed on abort; BLMOVE; the unacknowledged ones first. */
async function safeConsumer(ctx: WardContext): Promise<void> {
  const redis = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: null })
  ctx.signal.addEventListener('abort', () => redis.disconnect(), { once: true })
  try {
    // What a previous incarnation moved but did not acknowledge (it was stopped in between).
    for (const message of await redis.lrange(processing, 0, -1)) await deliver(redis, message)
    for (;;) {
      // Waiting for input is healthy; on abort the connection closes and the wait rejects.
      const message = await ctx.idle(redis.blmove(jobs, processing, 'LEFT', 'RIGHT', 0))
      if (message !== null) await deliver(redis, message)
    }
  } finally {
    redis.disconnect()
  }
}

// The unsafe consumer: one connection for the program, a BLPOP the stop only stops waiting for.
const shared = new Redis({ host: '127.0.0.1', port, maxRetriesPerRequest: null })
async function unsafeConsumer(ctx: WardContext): Promise<void> {
  for (;;) {
    const reply = await ctx.idle(shared.blpop(jobs, 0))
    if (reply !== null) await shared.rpush(done, reply[1])
  }
}

const admin = new Redis({ host: '127.0.0.1', port })
await admin.del(jobs, processing, done)

/** Polls `check` every 20 ms until it holds; throws after 10 s naming `what`. */
async function until(what: string, check: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}
const blocked = async (): Promise<boolean> => /blocked_clients:1\r/.test(await admin.info('clients'))
const delivered = (message: string) => async (): Promise<boolean> => (await admin.lrange(done, 0, -1)).includes(message)

const run = supervisor({ name: 'queue' }, [{ name: 'consumer', ward: unsafe ? unsafeConsumer : safeConsumer, timeout: '5s' }]).start()
let pushed = 0
for (let round = 1; round <= 3; round++) {
  await admin.rpush(jobs, `m${++pushed}`) // while the consumer runs
  await until(`m${pushed} delivered`, delivered(`m${pushed}`))
  await until('the consumer to block', blocked)
  await run.stopChild('consumer')
  await admin.rpush(jobs, `m${++pushed}`) // while it is stopped
  await run.startChild('consumer')
}
await admin.rpush(jobs, `m${++pushed}`, 'last')
// Every message is either delivered or lost to a dead BLPOP; 'last' comes after all of them.
await until("'last' delivered", async () => (await admin.lrange(done, -1, -1))[0] === 'last')
const got = (await admin.lrange(done, 0, -1)).filter((message) => message !== 'last')
const lost = Array.from({ length: pushed }, (_, i) => `m${i + 1}`).filter((message) => !got.includes(message))
console.log(`delivered: ${got.join(' ')}`)
console.log(`lost: ${lost.length === 0 ? 'none' : lost.join(' ')}; delivered twice: ${got.length - new Set(got).size}`)
await run.stop()
await admin.del(jobs, processing, done)
admin.disconnect()
shared.disconnect()
