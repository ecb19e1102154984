// steward/cluster on a real redis-server (in-process nodes): options, bad input, claims,
// hand-over with resume points, fenced writes, dead letters, and nothing left behind.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { cluster, ClusterOptionError, ClusterStartError, StaleLeaseError, type ClusterEvent, type ClusterNode, type WardLease } from './cluster.js'
import { steward } from '../steward/steward.js'
import { walk } from '../steward/walk.js'
import { freePort } from '../testing/net.js'
import { RedisServer } from '../testing/redis-server.js'
import { waitFor } from '../testing/wait.js'
import { checkLeaks } from '../testing/leaks.js'
import { RedisStore } from './redis-store.js'

/** Positions from `from` on, for ever. */
function* positions(from: number): Generator<number> {
  for (let i = from; ; i++) yield i
}
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const noWard = (): never => {
  throw new Error('no ward expected')
}

test('options are validated before anything starts, naming the option and the reason', () => {
  const base = { redis: 'redis://127.0.0.1:1', namespace: 'ns', ward: noWard }
  const bad: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...base, namespace: 'a{b}' }, /option 'namespace' must be a non-empty string without '\{', '\}'/],
    [{ ...base, redis: 42 }, /option 'redis' must be a Redis URL or an ioredis/],
    [{ ...base, redis: 'http://x' }, /option 'redis' must be a redis:\/\/ or rediss:\/\/ URL/],
    [{ ...base, ward: 'x' }, /option 'ward' must be a function/],
    [{ ...base, leaseTtl: '10ms' }, /option 'leaseTtl' must be at least 100ms/],
    [{ ...base, leaseTtl: 'soon' }, /option 'leaseTtl' "soon" is not a duration/],
    [{ ...base, leaseTtl: '1s', beat: '500ms' }, /option 'beat' must be at most leaseTtl × 0.4 \(400ms\), got 500ms: two renewals must fit before the node stops its wards$/],
    [{ ...base, leaseTtl: '15s', wardStop: '5s', beat: '5s' }, /option 'beat' must be at most \(leaseTtl × 0.95 − wardStop\) \/ 2 \(4625ms\), got 5000ms: two renewals must fit before the node stops its wards; raise leaseTtl, or lower wardStop or beat/],
    [{ ...base, leaseTtl: '10s', wardStop: '10s' }, /option 'wardStop' \(10000ms\) leaves no time to run wards in a lease of 10000ms: .*raise leaseTtl above 10548ms or lower wardStop/],
    [{ ...base, wardStop: 'later' }, /option 'wardStop' "later" is not a duration/],
    [{ ...base, maxWardsPerNode: 0 }, /option 'maxWardsPerNode' must be a whole number > 0 or Infinity/],
    [{ ...base, node: '' }, /option 'node' must be a non-empty string/],
    [{ ...base, leaseTTL: '1s' }, /option 'leaseTTL' is not an option/],
  ]
  for (const [options, message] of bad) {
    assert.throws(() => cluster(options as never), (error: unknown) => error instanceof ClusterOptionError && message.test(error.message), JSON.stringify(options))
  }
})

test('an unreachable Redis at start: ready rejects with a clear error within connectTimeout, nothing left behind', async () => {
  const port = await freePort()
  const { result, leaks } = await checkLeaks(async () => {
    const started = Date.now()
    const node = cluster({ redis: `redis://127.0.0.1:${port}`, namespace: 'ns', ward: noWard, connectTimeout: '1s' })
    const error = await node.ready.then(() => undefined, (e: unknown) => e)
    await assert.rejects(node.add(['a', 'a']), /add: ward id 'a' is given twice/)
    await assert.rejects(node.add(['a']), ClusterStartError)
    await node.stop()
    return { error, took: Date.now() - started }
  })
  assert.ok(result.error instanceof ClusterStartError, String(result.error))
  assert.match(result.error.message, new RegExp(`cannot start node '.+' on Redis at redis://127.0.0.1:${port}`))
  assert.ok(result.took < 5_000, `gave up after ${result.took} ms`)
  assert.deepEqual(leaks.handles, [])
})

test('a namespace written by another protocol version is refused', async () => {
  const server = await RedisServer.start()
  const admin = new Redis(server.port, '127.0.0.1')
  try {
    await admin.hset('{old}:meta', 'version', 'steward-cluster/0')
    const node = cluster({ redis: server.url, namespace: 'old', ward: noWard })
    await assert.rejects(node.ready, /namespace 'old' is used by protocol version 'steward-cluster\/0'; this node speaks 'steward-cluster\/2' and refuses it/)
    await node.stop()
  } finally {
    admin.disconnect()
    await server.stop()
  }
})

/** The active TCP sockets and timers of this process, by kind. */
function activeSocketsAndTimers(): { sockets: number; timers: number } {
  const info = process.getActiveResourcesInfo()
  return { sockets: info.filter((kind) => kind === 'TCPSocketWrap').length, timers: info.filter((kind) => kind === 'Timeout').length }
}

test("stop() resolves once the node's own Redis connection is closed, not while it waits for Redis to close it", { timeout: 30_000 }, async () => {
  const server = await RedisServer.start()
  try {
    // An earlier test's connection may still be closing: start from none.
    await waitFor('no socket or timer left from before', () => activeSocketsAndTimers().sockets === 0 && activeSocketsAndTimers().timers === 0, 10_000, 50)
    const node = cluster({ redis: server.url, namespace: 'closing', ward: noWard })
    await node.ready
    await node.stop()
    // Read in the same turn as stop() resolved: nothing may still be closing.
    assert.deepEqual(activeSocketsAndTimers(), { sockets: 0, timers: 0 })
  } finally {
    await server.stop()
  }
})

interface Record_ {
  readonly node: string
  readonly token: number
  readonly resume: unknown
}

test('three nodes share 30 wards; a node that stops hands its wards over with their progress; stale fenced writes are refused; dead letters go to a stream', { timeout: 60_000 }, async () => {
  const server = await RedisServer.start()
  const admin = new Redis(server.port, '127.0.0.1')
  const starts = new Map<string, Record_[]>()
  const leases = new Map<string, WardLease>()
  const resumedAt = new Map<string, unknown>()
  const events: ClusterEvent[] = []
  const nodes: ClusterNode[] = []
  const store = new RedisStore(admin, 'shared')
  try {
    const { leaks } = await checkLeaks(async () => {
      const make = (name: string): ClusterNode =>
        cluster({
          redis: server.url,
          namespace: 'shared',
          node: name,
          leaseTtl: '1s',
          checkpointEvery: '100ms',
          onEvent: (event) => events.push(event),
          ward: (id, lease) => {
            const list = starts.get(id) ?? []
            list.push({ node: name, token: lease.token, resume: lease.resume })
            starts.set(id, list)
            leases.set(`${id}@${lease.token}`, lease)
            // Input 5 of ward w7 is poison: it is dead-lettered after two failures.
            const wardSteward = steward(
              walk(
                positions,
                async (input, ctx) => {
                  if (!resumedAt.has(`${id}@${lease.token}`)) resumedAt.set(`${id}@${lease.token}`, ctx.resume)
                  if (id === 'w7' && input === 5) throw new Error('poison')
                  await ctx.clock.sleep(20, ctx.signal)
                  return input
                },
              ),
              { poisonAfter: 2, timeout: '2s' },
            )
            return wardSteward
          },
        })
      for (const name of ['a', 'b', 'c']) nodes.push(make(name))
      await Promise.all(nodes.map((node) => node.ready))
      await nodes[0]!.add(Array.from({ length: 30 }, (_, i) => `w${i}`))
      await waitFor('every ward to start', () => starts.size === 30, 10_000, 50)
      await waitFor('every node to run wards', () => nodes.every((node) => node.status().wards.length > 0), 10_000, 50)
      const held = nodes.map((node) => node.status().wards.length)
      assert.equal(held.reduce((a, b) => a + b, 0), 30, `held ${held.join(', ')}`)
      // Let progress build up and be checkpointed.
      await sleep(600)
      const moving = nodes[0]!.status().wards.map((ward) => ward.ward)
      await nodes[0]!.stop()
      const handedOver = events.filter((event) => event.type === 'handed-over')
      assert.deepEqual(handedOver.map((event) => event.ward).sort(), [...moving].sort(), 'a stop hands over every ward it held')
      await waitFor('the moved wards to start elsewhere', () => moving.every((ward) => starts.get(ward)!.length >= 2), 5_000, 50)
      for (const event of handedOver) {
        if (event.type !== 'handed-over') continue
        const next = starts.get(event.ward)!.at(-1)!
        assert.notEqual(next.node, 'a')
        assert.equal(JSON.stringify(next.resume), event.progress, `${event.ward} resumes where it was handed over`)
        assert.equal(resumedAt.get(`${event.ward}@${next.token}`), next.resume, `${event.ward}'s steward got the checkpoint as ctx.resume`)
        assert.ok(typeof next.resume === 'number' && next.resume > 0, `${event.ward} made progress before the hand-over`)
        // The old lease can no longer write.
        const old = leases.get(`${event.ward}@${event.token}`)!
        assert.equal(old.current, false)
        await assert.rejects(old.fenced("return redis.call('SET', KEYS[1], 'late')", [old.key('user')]), StaleLeaseError)
        // Redis itself refuses the old token (a node that did not know it lost the lease).
        await assert.rejects(store.fenced(event.ward, event.token, "return redis.call('SET', KEYS[1], 'late')", [old.key('user')], []), /STEWARD_FENCED/)
        assert.equal(await store.checkpoint(event.ward, event.token, 99, { progress: '0', failures: 0 }), 'fenced')
        assert.equal(await store.deadLetter(event.ward, event.token, { input: 'late' }), false)
      }
      assert.equal(await admin.exists(...handedOver.map((event) => `{shared:${event.type === 'handed-over' ? event.ward : ''}}:user`)), 0, 'no late write landed')
      // The new owner's fenced write is accepted, in the ward's slot.
      const ward = moving[0]!
      const current = leases.get(`${ward}@${starts.get(ward)!.at(-1)!.token}`)!
      assert.equal(await current.fenced("return redis.call('SET', KEYS[1], ARGV[1])", [current.key('user')], ['mine']), 'OK')
      assert.equal(await admin.get(`{shared:${ward}}:user`), 'mine')
      // Wards that did not move were not restarted.
      const stayed = [...starts.keys()].filter((id) => !moving.includes(id))
      for (const id of stayed) assert.equal(starts.get(id)!.length, 1, `${id} did not move and was started once`)
      // The poison input of w7 was dead-lettered to its stream.
      await waitFor("w7's dead letter", async () => (await admin.xlen('{shared:w7}:dead')) === 1, 10_000, 50)
      const [entry] = (await admin.xrange('{shared:w7}:dead', '-', '+')) as Array<[string, string[]]>
      const fields = entry![1]
      assert.equal(fields[fields.indexOf('input') + 1], '5')
      for (const node of nodes.slice(1)) await node.stop()
      const record = await admin.hgetall(`{shared:${ward}}`)
      assert.equal(record.node, '', 'the last stop released the ward')
    })
    assert.deepEqual(leaks.handles, [])
  } finally {
    for (const node of nodes) await node.stop()
    admin.disconnect()
    await server.stop()
  }
})
