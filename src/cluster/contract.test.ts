// The contract between the model and the scripts: one table of store calls run against the
// simulated Redis the simulation checks the protocol on (`src/testing/sim-redis.ts`) and against
// the Lua scripts on a real Redis (a server, then a 3-master Redis Cluster), every answer compared.
// It includes the cases the real-Redis integration tests never produce on their own: a claim that
// reaches Redis after its `notAfter`, a reordered (lower) checkpoint sequence number, a renew of an
// expired lease (which must not revive it), commits and writes under stale tokens.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Cluster, Redis } from 'ioredis'
import { hashSlot, RedisStore } from './redis-store.js'
import type { Checkpoint, Finished, Member } from './store.js'
import { SimRedis } from '../testing/sim-redis.js'
import { RedisServer, startRedisCluster } from '../testing/redis-server.js'
import { waitFor } from '../testing/wait.js'

/** One side of the contract: the store's calls, plus the user-script preludes and a ward's record. */
interface Side {
  join(node: string, ttl: number): Promise<unknown>
  renew(node: string, epoch: number, ttl: number, leaving: boolean): Promise<unknown>
  alive(member: Member): Promise<unknown>
  leave(node: string, epoch: number): Promise<unknown>
  wards(): Promise<unknown>
  addWards(ids: readonly string[], again?: boolean): Promise<unknown>
  retire(ward: string, finished: Finished): Promise<unknown>
  reopen(ward: string): Promise<unknown>
  claim(ward: string, node: string, epoch: number, notAfter: 'past' | 'future', ifOwners?: readonly Member[]): Promise<unknown>
  checkpoint(ward: string, token: number, seq: number, checkpoint: Checkpoint, kept?: boolean): Promise<unknown>
  release(ward: string, token: number, seq: number, checkpoint: Checkpoint, kept?: boolean): Promise<unknown>
  finish(ward: string, token: number, seq: number, checkpoint: Checkpoint, kept: boolean, finished: Finished): Promise<unknown>
  /** A user's fenced script under `token`: `'ran'` or `'fenced'`. */
  fenced(ward: string, token: number): Promise<unknown>
  /** A fenced dead letter: accepted or not. */
  deadLetter(ward: string, token: number): Promise<unknown>
  /** A commit of `progress` whose effect adds one to the ward's counter: its answer's kind. */
  commit(ward: string, token: number, seq: number, progress: string): Promise<unknown>
  /** The ward's record and its commit counter, as stored. */
  record(ward: string): Promise<unknown>
}

/** A renew's answer without Redis's time (the two sides' clocks are not the same number). */
function withoutTime(answer: { time: number; members: readonly Member[] }): unknown {
  const { time: _, ...rest } = answer
  return { ...rest, members: [...answer.members].sort((x, y) => x.node.localeCompare(y.node)) }
}

function wardsAnswer(answer: { ids: readonly string[]; version: number; finished: ReadonlyMap<string, Finished> }): unknown {
  return { ids: [...answer.ids].sort(), version: answer.version, finished: Object.fromEntries(answer.finished) }
}

/** The model, at Redis's time: `time()` reads the real server's clock before every call. */
function simSide(redis: SimRedis, at: { now: number }): Side {
  const effects = new Map<string, number>()
  const deadline = (when: 'past' | 'future'): number => (when === 'past' ? at.now - 1_000 : at.now + 60_000)
  return {
    join: async (node, ttl) => redis.join(node, ttl),
    renew: async (node, epoch, ttl, leaving) => withoutTime(redis.renew(node, epoch, ttl, leaving)),
    alive: async (member) => redis.alive(member),
    leave: async (node, epoch) => redis.leave(node, epoch),
    wards: async () => wardsAnswer(redis.wards()),
    addWards: async (ids, again) => redis.addWards(ids, again),
    retire: async (ward, finished) => redis.retire(ward, finished),
    reopen: async (ward) => redis.reopen(ward),
    claim: async (ward, node, epoch, notAfter, ifOwners) => redis.claim(ward, node, epoch, deadline(notAfter), ifOwners),
    checkpoint: async (ward, token, seq, checkpoint, kept) => redis.checkpoint(ward, token, seq, checkpoint, kept),
    release: async (ward, token, seq, checkpoint, kept) => redis.release(ward, token, seq, checkpoint, kept),
    finish: async (ward, token, seq, checkpoint, kept, finished) => redis.finish(ward, token, seq, checkpoint, kept, finished),
    fenced: async (ward, token) => (redis.fenced(ward, token) ? 'ran' : 'fenced'),
    deadLetter: async (ward, token) => redis.fenced(ward, token),
    commit: async (ward, token, seq, progress) => redis.commit(ward, token, seq, progress, () => void effects.set(ward, (effects.get(ward) ?? 0) + 1)),
    record: async (ward) => {
      const record = redis.records.get(ward)
      return record === undefined ? null : { node: record.node, epoch: record.node === '' ? '' : String(record.epoch), token: record.token, progress: record.progress, failures: record.failures, seq: record.seq, state: record.state, reason: record.reason, effects: effects.get(ward) ?? 0 }
    },
  }
}

/** The Lua scripts on a real Redis. */
function realSide(store: RedisStore, client: Redis | Cluster, at: { now: number }): Side {
  const deadline = (when: 'past' | 'future'): number => (when === 'past' ? at.now - 1_000 : at.now + 60_000)
  const kind = async (promise: Promise<{ kind: string }>): Promise<string> => {
    try {
      return (await promise).kind
    } catch (error) {
      const match = /STEWARD_(FENCED|SUPERSEDED)/.exec((error as Error).message)
      if (match === null) throw error
      return match[1]!.toLowerCase()
    }
  }
  return {
    join: (node, ttl) => store.join(node, ttl),
    renew: async (node, epoch, ttl, leaving) => withoutTime(await store.renew(node, epoch, ttl, leaving)),
    alive: (member) => store.alive(member),
    leave: (node, epoch) => store.leave(node, epoch),
    wards: async () => wardsAnswer(await store.wards()),
    addWards: (ids, again) => store.addWards(ids, again),
    retire: (ward, finished) => store.retire(ward, finished),
    reopen: (ward) => store.reopen(ward),
    claim: (ward, node, epoch, notAfter, ifOwners) => store.claim(ward, node, epoch, deadline(notAfter), ifOwners),
    checkpoint: (ward, token, seq, checkpoint, kept) => store.checkpoint(ward, token, seq, checkpoint, kept),
    release: (ward, token, seq, checkpoint, kept) => store.release(ward, token, seq, checkpoint, kept),
    finish: (ward, token, seq, checkpoint, kept, finished) => store.finish(ward, token, seq, checkpoint, kept, finished),
    fenced: async (ward, token) => {
      try {
        await store.fenced(ward, token, "return redis.call('INCR', KEYS[1])", [store.keys.user(ward, 'fenced')], [])
        return 'ran'
      } catch (error) {
        if ((error as Error).message.includes('STEWARD_FENCED')) return 'fenced'
        throw error
      }
    },
    deadLetter: (ward, token) => store.deadLetter(ward, token, { input: '1' }),
    commit: (ward, token, seq, progress) => kind(store.commit(ward, token, seq, progress, "return redis.call('INCR', KEYS[1])", [store.keys.user(ward, 'effects')], [])),
    record: async (ward) => {
      const record = await client.hgetall(store.keys.ward(ward))
      if (Object.keys(record).length === 0) return null
      const effects = Number((await client.get(store.keys.user(ward, 'effects'))) ?? 0)
      return { node: record.node, epoch: record.epoch, token: Number(record.token), progress: record.progress === '' ? undefined : record.progress, failures: Number(record.failures ?? 0), seq: Number(record.seq ?? 0), state: record.state ?? '', reason: record.reason ?? '', effects }
    },
  }
}

const LONG = 60_000
const SHORT = 300
const far = 'future' as const
const at = (progress: string, failures = 0): Checkpoint => ({ progress, failures })
const bad: Finished = { state: 'failed', reason: 'input 3 is bad', at: 5 }

/** The table: a label and a call per row, or a wait on the real Redis for a node's lease to expire. */
type Row = readonly [label: string, call: ((side: Side) => Promise<unknown>) | { readonly expire: string }]

const rows: readonly Row[] = [
  ['join a', (s) => s.join('a', LONG)],
  ['join a again while its lease lives: refused', (s) => s.join('a', LONG)],
  ['join b with a short lease', (s) => s.join('b', SHORT)],
  ['renew a', (s) => s.renew('a', 1, LONG, false)],
  ['renew a under an epoch it does not hold', (s) => s.renew('a', 2, LONG, false)],
  ['alive a:1', (s) => s.alive({ node: 'a', epoch: 1 })],
  ['alive a:2', (s) => s.alive({ node: 'a', epoch: 2 })],
  ['add w1, w2', (s) => s.addWards(['w1', 'w2'])],
  ['add w1 again', (s) => s.addWards(['w1'])],
  ['the ward set', (s) => s.wards()],
  ['claim w1 for a:1', (s) => s.claim('w1', 'a', 1, far)],
  ['claim w1 for a:1 again (a retried claim)', (s) => s.claim('w1', 'a', 1, far)],
  ['claim w1 for c:9: held by a:1', (s) => s.claim('w1', 'c', 9, far)],
  ['claim w1 for c:9 if its owner is a:2: held', (s) => s.claim('w1', 'c', 9, far, [{ node: 'a', epoch: 2 }])],
  ['claim w1 for c:9 if its owner is b:1 or a:3: held', (s) => s.claim('w1', 'c', 9, far, [{ node: 'b', epoch: 1 }, { node: 'a', epoch: 3 }])],
  ['claim w2 arriving after its notAfter: expired', (s) => s.claim('w2', 'a', 1, 'past')],
  ['w2 is still unowned', (s) => s.record('w2')],
  ['checkpoint w1 seq 2', (s) => s.checkpoint('w1', 1, 2, at('5'))],
  ['checkpoint w1 seq 1, reordered: superseded', (s) => s.checkpoint('w1', 1, 1, at('3'))],
  ['checkpoint w1 seq 2 again: superseded', (s) => s.checkpoint('w1', 1, 2, at('4'))],
  ['checkpoint w1 under a stale token: fenced', (s) => s.checkpoint('w1', 7, 3, at('9'))],
  ['w1 after the checkpoints', (s) => s.record('w1')],
  ['a fenced script under the token', (s) => s.fenced('w1', 1)],
  ['a fenced script under another token', (s) => s.fenced('w1', 2)],
  ['a dead letter under the token', (s) => s.deadLetter('w1', 1)],
  ['a dead letter under another token', (s) => s.deadLetter('w1', 2)],
  ['commit w1 progress 6', (s) => s.commit('w1', 1, 3, '6')],
  ['commit w1 progress 6 again: duplicate', (s) => s.commit('w1', 1, 4, '6')],
  ['commit w1 progress 7 at an old seq: superseded', (s) => s.commit('w1', 1, 3, '7')],
  ['commit w1 under another token: fenced', (s) => s.commit('w1', 2, 9, '7')],
  ['kept checkpoint at another progress', (s) => s.checkpoint('w1', 1, 5, at('5', 2), true)],
  ['w1: progress and failures kept', (s) => s.record('w1')],
  ['kept checkpoint at the committed progress', (s) => s.checkpoint('w1', 1, 6, at('6', 2), true)],
  ['w1: failures written', (s) => s.record('w1')],
  ["b's short lease expires", { expire: 'b' }],
  ['alive b:2 after its lease expired', (s) => s.alive({ node: 'b', epoch: 2 })],
  ['renew b:2 after expiry: refused', (s) => s.renew('b', 2, LONG, false)],
  ['alive b:2 after the refused renew: still dead', (s) => s.alive({ node: 'b', epoch: 2 })],
  ['claim w1 for c:9 if its owner is b:2 or a:1', (s) => s.claim('w1', 'c', 9, far, [{ node: 'b', epoch: 2 }, { node: 'a', epoch: 1 }])],
  ['checkpoint w1 under the old token: fenced', (s) => s.checkpoint('w1', 1, 7, at('8'))],
  ['commit under the old token: fenced', (s) => s.commit('w1', 1, 8, '8')],
  ['release w1 under token 2', (s) => s.release('w1', 2, 1, at('6', 2))],
  ['release w1 again: no owner, fenced', (s) => s.release('w1', 2, 2, at('6', 2))],
  ['a fenced script after the release', (s) => s.fenced('w1', 2)],
  ['w1 released', (s) => s.record('w1')],
  ['claim w2 for a:1', (s) => s.claim('w2', 'a', 1, far)],
  ['finish w2 as failed', (s) => s.finish('w2', 1, 1, at('3'), false, bad)],
  ['claim w2 for c:9: finished', (s) => s.claim('w2', 'c', 9, far)],
  ['retire w2', (s) => s.retire('w2', bad)],
  ['retire w2 again, later: the first end stays', (s) => s.retire('w2', { ...bad, at: 6 })],
  ['the ward set without w2', (s) => s.wards()],
  ['add w2: it stays finished', (s) => s.addWards(['w2'])],
  ['reopen w2', (s) => s.reopen('w2')],
  ['reopen w2 again', (s) => s.reopen('w2')],
  ['add w2 to run again', (s) => s.addWards(['w2'], true)],
  ['claim w2 for c:9', (s) => s.claim('w2', 'c', 9, far)],
  ['w2 claimed again', (s) => s.record('w2')],
  ['leave a:1', (s) => s.leave('a', 1)],
  ['alive a:1 after leaving', (s) => s.alive({ node: 'a', epoch: 1 })],
  ['join a after leaving: a new epoch', (s) => s.join('a', LONG)],
  ['renew a:3 (leaving)', (s) => s.renew('a', 3, LONG, true)],
  ['join b after its lease expired: a new epoch', (s) => s.join('b', LONG)],
  ['the members', (s) => s.renew('b', 4, LONG, false)],
]

async function contract(client: Redis | Cluster, namespace: string): Promise<void> {
  const store = new RedisStore(client, namespace)
  const clock = { now: 0 }
  const sim = simSide(new SimRedis(() => clock.now), clock)
  const real = realSide(store, client, clock)
  const differences: string[] = []
  for (const [label, call] of rows) {
    if (typeof call !== 'function') {
      await waitFor(`the lease of ${call.expire} to expire in Redis`, async () => (await client.exists(store.keys.node(call.expire))) === 0, 10_000, 10)
      continue
    }
    // The model runs at Redis's time: the namespace master's clock just before the call.
    const [seconds, micros] = (await client.eval("return redis.call('TIME')", 1, store.keys.meta)) as [string, string]
    clock.now = Number(seconds) * 1_000 + Math.floor(Number(micros) / 1_000)
    const expected = await call(sim)
    const actual = await call(real)
    try {
      assert.deepEqual(actual, expected)
    } catch {
      differences.push(`${label}: model ${JSON.stringify(expected)}, Redis ${JSON.stringify(actual)}`)
    }
  }
  assert.deepEqual(differences, [], `the scripts answered otherwise than the model:\n${differences.join('\n')}`)
}

test('contract: every call of the table answers the same on the model and on the Lua scripts of a Redis server', { timeout: 30_000 }, async () => {
  const server = await RedisServer.start()
  const client = new Redis(server.port, '127.0.0.1')
  try {
    await contract(client, 'contract')
  } finally {
    client.disconnect()
    await server.stop()
  }
})

test('contract: the same on a 3-master Redis Cluster (the namespace and the wards on different masters)', { timeout: 60_000 }, async () => {
  const cluster = await startRedisCluster()
  const client = new Cluster(cluster.servers.map((server) => ({ host: '127.0.0.1', port: server.port })))
  try {
    await contract(client, 'contract')
    // Claims are judged on the clock of the master holding the ward: the store names that master
    // (from our own hash slot, as Redis computes it) and reads its clock.
    const store = new RedisStore(client, 'contract')
    const masters = new Set(cluster.servers.map((server) => `127.0.0.1:${server.port}`))
    const seen = new Set<string>()
    for (let i = 0; i < 60; i++) {
      const key = store.keys.ward(`w${i}`)
      assert.equal(hashSlot(key), await client.call('CLUSTER', 'KEYSLOT', key), key)
      const clock = store.clockOf(`w${i}`)!
      assert.ok(masters.has(clock), `${clock} is a master`)
      seen.add(clock)
    }
    assert.equal(seen.size, 3, 'the wards spread over the three masters')
    const [seconds] = (await client.eval("return redis.call('TIME')", 1, store.keys.meta)) as [string]
    assert.ok(Math.abs((await store.time('w1')) - Number(seconds) * 1_000) < 5_000)
    assert.equal(new RedisStore(new Redis(1, '127.0.0.1', { lazyConnect: true }), 'x').clockOf('w1'), undefined, 'one server: the namespace clock')
  } finally {
    client.disconnect()
    await cluster.stop()
  }
})
