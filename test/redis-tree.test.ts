// A real Redis, frozen: a connection, a reader and a writer under rest-for-one survive a 5 s
// SIGSTOP of redis-server (child timeouts 1.5 s, maxRestarts 5 within a minute) and work again
// after SIGCONT. redis-server comes from Debian's package (.ci/run installs it).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { freePort } from '../src/testing/net.js'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import { supervisor, type StewardEvent, type WardContext } from '../src/index.js'


const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** Polls `check` every 50 ms until it holds, for at most `ms`. */
async function until(check: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const deadline = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

async function startRedis(): Promise<{ port: number; server: ChildProcess; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'steward-redis-'))
  const port = await freePort()
  const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], {
    stdio: 'ignore',
  })
  const probe = new Redis({ port, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, maxRetriesPerRequest: 0 })
  probe.on('error', () => {}) // refused until the server listens: retried below
  try {
    await until(async () => {
      try {
        if (probe.status !== 'ready') await probe.connect()
        return (await probe.ping()) === 'PONG'
      } catch {
        probe.disconnect()
        return false
      }
    }, 10_000, 'redis-server to answer')
  } finally {
    probe.disconnect()
  }
  return { port, server, dir }
}

/** Resolves when `signal` aborts. */
function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(signal.reason)
    else signal.addEventListener('abort', () => reject(signal.reason), { once: true })
  })
}

test('a connection/reader/writer tree survives a 5 s SIGSTOP of Redis and works again after SIGCONT', { timeout: 60_000 }, async () => {
  const { port, server, dir } = await startRedis()
  const events: StewardEvent[] = []
  let client: Redis | undefined
  let written = 0
  let read = 0
  // The connection owns the client: it pings, and disconnecting it when retired fails the
  // calls its users are waiting on (they are part of the same restart).
  const connection = async (ctx: WardContext): Promise<void> => {
    const own = new Redis({ port, host: '127.0.0.1', lazyConnect: true, enableReadyCheck: false, retryStrategy: () => null, maxRetriesPerRequest: 0 })
    own.on('error', () => {}) // a lost connection shows as failed calls and a missed beat
    client = own
    const stop = aborted(ctx.signal)
    stop.catch(() => own.disconnect())
    try {
      await Promise.race([own.connect(), stop])
      for (;;) {
        await Promise.race([own.ping(), stop])
        ctx.beat()
        await Promise.race([sleep(200), stop])
      }
    } finally {
      own.disconnect()
    }
  }
  const user = (work: (redis: Redis) => Promise<void>) => async (ctx: WardContext): Promise<void> => {
    const stop = aborted(ctx.signal)
    stop.catch(() => {})
    const redis = client!
    for (;;) {
      await Promise.race([work(redis), stop])
      ctx.beat()
      await Promise.race([sleep(100), stop])
    }
  }
  const writer = user(async (redis) => {
    written = await redis.incr('counter')
  })
  const reader = user(async (redis) => {
    read = Number(await redis.get('counter'))
  })
  const run = supervisor({ name: 'tree', strategy: 'rest-for-one', maxRestarts: 5, within: '1m' }, [
    { name: 'connection', ward: connection, timeout: 1_500, stopTimeout: '2s' },
    { name: 'reader', ward: reader, timeout: 1_500, stopTimeout: '2s' },
    { name: 'writer', ward: writer, timeout: 1_500, stopTimeout: '2s' },
  ]).start({ onEvent: (event) => events.push(event) })
  try {
    await until(() => written > 3 && read > 0, 10_000, 'the tree to work')
    server.kill('SIGSTOP')
    await sleep(5_000)
    const frozenAt = written
    server.kill('SIGCONT')
    await until(() => written > frozenAt + 5 && read > frozenAt, 15_000, 'the tree to work again after SIGCONT')
    assert.equal(run.status().state, 'working')
    assert.equal(events.filter((event) => event.type === 'gave-up').length, 0, 'nothing gave up')
    const decisions = events.filter((event) => event.type === 'decision' && !event.merged)
    assert.ok(decisions.length >= 1 && decisions.length <= 5, `${decisions.length} restarts counted`)
    assert.ok(events.some((event) => event.type === 'hung'), 'the freeze was seen as a hang')
    if (process.env.STEWARD_REDIS_EVENTS === '1') for (const event of events) if (event.type !== 'started') console.log(JSON.stringify(event))
  } finally {
    const report = await run.stop()
    server.kill('SIGCONT')
    server.kill('SIGTERM')
    await new Promise((resolve) => (server.exitCode === null ? server.once('exit', resolve) : resolve(undefined)))
    rmSync(dir, { recursive: true, force: true })
    assert.deepEqual(report.unstopped, [])
  }
})
