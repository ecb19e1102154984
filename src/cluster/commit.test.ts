// Exactly-once effects in Redis (`lease.commit`) on a real redis-server: the commit script's
// answers, a retry after the effect was applied, and wards that commit every input while a node
// loses its connection and another takes its wards over — every input applied exactly once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { cluster, CommitReorderedError, StaleLeaseError, type ClusterNode, type CommitOutcome, type WardLease } from './cluster.js'
import { RedisStore } from './redis-store.js'
import { steward } from '../steward/steward.js'
import { walk } from '../steward/walk.js'
import { fixed } from '../policy/backoff.js'
import { RedisServer } from '../testing/redis-server.js'
import { aborted, waitFor } from '../testing/wait.js'

/** Positions from `from` on, for ever. */
function* positions(from: number): Generator<number> {
  for (let i = from; ; i++) yield i
}
const effect = "return redis.call('HINCRBY', KEYS[1], ARGV[1], 1)"

test('the commit script: the effect and the checkpoint together, only under the current token, once per progress', async () => {
  const server = await RedisServer.start()
  const client = new Redis(server.port, '127.0.0.1')
  try {
    const store = new RedisStore(client, 'c')
    const applied = store.keys.user('w', 'applied')
    const claimed = await store.claim('w', 'a', 1, Number.MAX_SAFE_INTEGER)
    assert.equal(claimed.kind, 'claimed')
    const token = claimed.kind === 'claimed' ? claimed.token : 0
    assert.deepEqual(await store.commit('w', token, 1, '1', effect, [applied], [0]), { kind: 'applied', reply: 1 })
    assert.deepEqual(await client.hmget(store.keys.ward('w'), 'progress', 'seq', 'failures'), ['1', '1', '0'])
    // The same progress again (a retry after a lost reply): nothing runs.
    assert.deepEqual(await store.commit('w', token, 2, '1', effect, [applied], [0]), { kind: 'duplicate' })
    assert.equal(await client.hget(applied, '0'), '1')
    // A commit overtaken by a later write of the same lease is not applied.
    await assert.rejects(store.commit('w', token, 1, '2', effect, [applied], [1]), /STEWARD_SUPERSEDED/)
    assert.equal(await client.hget(applied, '1'), null)
    // A kept checkpoint leaves the committed progress; its failures count only at that progress.
    assert.equal(await store.checkpoint('w', token, 3, { progress: '0', failures: 4 }, true), 'written')
    assert.deepEqual(await client.hmget(store.keys.ward('w'), 'progress', 'failures'), ['1', '0'])
    assert.equal(await store.checkpoint('w', token, 4, { progress: '1', failures: 2 }, true), 'written')
    assert.deepEqual(await client.hmget(store.keys.ward('w'), 'progress', 'failures'), ['1', '2'])
    // Released: the token is no longer current, and a commit under it is refused.
    assert.equal(await store.release('w', token, 5, { progress: '0', failures: 0 }, true), 'written')
    assert.deepEqual(await client.hmget(store.keys.ward('w'), 'node', 'progress'), ['', '1'])
    await assert.rejects(store.commit('w', token, 6, '2', effect, [applied], [1]), /STEWARD_FENCED/)
    assert.equal(await client.hget(applied, '1'), null)
  } finally {
    client.disconnect()
    await server.stop()
  }
})

test('commit: a ward restarted after its effect was applied, before its output was delivered, does not apply it again', { timeout: 30_000 }, async () => {
  const server = await RedisServer.start()
  const admin = new Redis(server.port, '127.0.0.1')
  const outcomes: Array<{ position: number; outcome: CommitOutcome }> = []
  let thrown = false
  const node = cluster({
    redis: server.url,
    namespace: 'once',
    leaseTtl: '2s',
    ward: (_, lease) =>
      steward(
        walk(Array.from({ length: 12 }, (_, i) => i), async (position) => {
          const outcome = await lease.commit(effect, [lease.key('applied')], [position], position + 1)
          outcomes.push({ position, outcome })
          // The ward fails once after input 5's effect was committed, before its output.
          if (position === 5 && !thrown) {
            thrown = true
            throw new Error('after the commit')
          }
          return position
        }),
        { backoff: fixed('1ms') },
      ),
  })
  try {
    await node.ready
    await node.add(['w'])
    const store = new RedisStore(admin, 'once')
    await waitFor('the ward to commit its 12 inputs', async () => (await admin.hget(store.keys.ward('w'), 'progress')) === '12', 20_000)
    assert.deepEqual(await admin.hgetall(store.keys.user('w', 'applied')), Object.fromEntries(Array.from({ length: 12 }, (_, i) => [String(i), '1'])), 'every input applied exactly once')
    const fives = outcomes.filter((o) => o.position === 5).map((o) => o.outcome.applied)
    assert.deepEqual(fives, [true, false], 'the retry of input 5 was answered "already applied"')
    assert.equal(node.metrics()['cluster.commits_total'], 12)
  } finally {
    await node.stop()
    admin.disconnect()
    await server.stop()
  }
})

test('commit: bad arguments are refused naming the argument; a lease no longer current refuses to commit', { timeout: 30_000 }, async () => {
  const server = await RedisServer.start()
  let captured: WardLease | undefined
  const node = cluster({
    redis: server.url,
    namespace: 'args',
    leaseTtl: '2s',
    ward: (_, lease) => {
      captured = lease
      return steward((ctx) => aborted(ctx.signal))
    },
  })
  try {
    await node.ready
    await node.add(['w'])
    await waitFor('the ward to be claimed', () => captured !== undefined, 10_000)
    const lease = captured!
    await assert.rejects(lease.commit(effect, [lease.key('a')], [], undefined), /commit: progress must be a JSON value \(a position\), got undefined/)
    await assert.rejects(lease.commit('', [], [], 1), /commit: script must be a non-empty string of Lua/)
    await assert.rejects(lease.commit(effect, 'k' as never, [], 1), /commit: keys must be an array of strings/)
    await assert.rejects(lease.commit(effect, [], [{}] as never, 1), /commit: args must be an array of strings and numbers/)
    assert.equal(lease.idempotencyKey(7), 'args:w:7')
    assert.equal(lease.idempotencyKey({ page: 2 }), 'args:w:{"page":2}')
    await node.stop()
    await assert.rejects(lease.commit(effect, [lease.key('a')], [1], 1), StaleLeaseError)
  } finally {
    await node.stop()
    await server.stop()
  }
})

/** Every ward's audit: its stored progress P, and inputs 0..P-1 each applied exactly once (nothing beyond). */
async function audit(admin: Redis, store: RedisStore, wards: readonly string[]): Promise<{ problems: string[]; total: number }> {
  const problems: string[] = []
  let total = 0
  for (const ward of wards) {
    const progress = Number((await admin.hget(store.keys.ward(ward), 'progress')) ?? 0)
    const counts = await admin.hgetall(store.keys.user(ward, 'applied'))
    total += progress
    for (let i = 0; i < progress; i++) if (counts[String(i)] !== '1') problems.push(`${ward}: input ${i} applied ${counts[String(i)] ?? 0} times`)
    for (const key of Object.keys(counts)) if (Number(key) >= progress) problems.push(`${ward}: input ${key} applied beyond the committed progress ${progress}`)
  }
  return { problems, total }
}

test('commit: wards commit every input while their node loses Redis and another takes them over; every input applied exactly once', { timeout: 60_000 }, async () => {
  const server = await RedisServer.start()
  const admin = new Redis(server.port, '127.0.0.1')
  const store = new RedisStore(admin, 'moves')
  const wards = Array.from({ length: 20 }, (_, i) => `w${i}`)
  const refused: unknown[] = []
  const make = (name: string, redis: string | Redis): ClusterNode =>
    cluster({
      redis,
      node: name,
      namespace: 'moves',
      leaseTtl: '1s',
      beat: '300ms',
      checkpointEvery: '100ms',
      ward: (_, lease) =>
        steward(
          walk(positions, async (position, ctx) => {
            try {
              await lease.commit(effect, [lease.key('applied')], [position], position + 1)
            } catch (error) {
              if (error instanceof StaleLeaseError || error instanceof CommitReorderedError) refused.push(error)
              throw error
            }
            await ctx.clock.sleep(2, ctx.signal)
            return position
          }),
          { backoff: fixed('10ms') },
        ),
    })
  // Node a has its own client: disconnecting it cuts a off from Redis mid-commit.
  const aClient = new Redis(server.port, '127.0.0.1', { maxRetriesPerRequest: 1 })
  aClient.on('error', () => {})
  const a = make('a', aClient)
  let b: ClusterNode | undefined
  try {
    await a.ready
    await a.add(wards)
    const progressed = async (least: number): Promise<boolean> => (await audit(admin, store, wards)).total >= least
    await waitFor('node a to commit 200 inputs', () => progressed(200), 20_000)
    b = make('b', server.url)
    await b.ready
    // b takes half the wards over by hand-over; then a loses Redis mid-commit and b takes the rest when a's lease expires.
    await waitFor('b to run wards', () => b!.status().wards.length > 0, 20_000)
    const before = (await audit(admin, store, wards)).total
    aClient.disconnect()
    await waitFor("every ward running on b after a lost Redis", () => b!.status().wards.length === wards.length, 20_000)
    await waitFor('the wards to go on committing on b', () => progressed(before + 200), 20_000)
    await b.stop()
    const { problems, total } = await audit(admin, store, wards)
    assert.deepEqual(problems.slice(0, 10), [], `${problems.length} problems over ${total} inputs`)
    assert.ok(total >= before + 200, `${total} inputs committed`)
  } finally {
    await b?.stop()
    await a.stop()
    aClient.disconnect()
    admin.disconnect()
    await server.stop()
  }
})
