// Wards that end by themselves in a cluster: one that completes is released and done, one that
// gives up is released and failed with its reason; neither is claimed again (by this node or
// another) until `restart()`, which runs it again from its last checkpoint.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { cluster, type ClusterEvent, type ClusterNode } from './cluster.js'
import { steward } from '../steward/steward.js'
import { walk } from '../steward/walk.js'
import { RedisServer } from '../testing/redis-server.js'
import { waitFor } from '../testing/wait.js'
import { RedisStore } from './redis-store.js'

/** Positions from `from` on, for ever. */
function* positions(from: number): Generator<number> {
  for (let i = from; ; i++) yield i
}

test('a ward that completes is done and one that gives up is failed with its reason; no node runs them again until restart()', { timeout: 60_000 }, async () => {
  const server = await RedisServer.start()
  const admin = new Redis(server.port, '127.0.0.1')
  const store = new RedisStore(admin, 'ends')
  const events: ClusterEvent[] = []
  /** The wards built, in order (one per claim). */
  const starts: string[] = []
  let broken = true
  const make = (name: string): ClusterNode =>
    cluster({
      redis: server.url,
      node: name,
      namespace: 'ends',
      leaseTtl: '1s',
      checkpointEvery: '50ms',
      onEvent: (event) => events.push(event),
      ward: (id) => {
        starts.push(id)
        // 'runs-on' walks for ever; the others have five inputs.
        const source = id === 'runs-on' ? (from: number) => positions(from) : [0, 1, 2, 3, 4]
        return steward(
          walk(source, async (position, ctx) => {
            if (id === 'fails' && position === 3 && broken) throw new Error('input 3 is bad')
            if (id === 'runs-on') await ctx.clock.sleep(5, ctx.signal)
            return position
          }),
          { maxRestarts: 1, within: '1m' },
        )
      },
    })
  const a = make('a')
  const b = make('b')
  try {
    await Promise.all([a.ready, b.ready])
    await a.add(['ends', 'fails', 'runs-on'])
    await waitFor('two wards finished', () => a.status().finished.length === 2 && b.status().finished.length === 2, 20_000)
    const byWard = new Map(a.status().finished.map((end) => [end.ward, end]))
    assert.equal(byWard.get('ends')?.state, 'done')
    assert.equal(byWard.get('ends')?.reason, '')
    assert.equal(byWard.get('fails')?.state, 'failed')
    assert.match(byWard.get('fails')!.reason, /input 3 is bad/)
    assert.deepEqual(await admin.hmget(store.keys.ward('ends'), 'node', 'state', 'progress'), ['', 'done', '5'])
    assert.deepEqual(await admin.hmget(store.keys.ward('fails'), 'node', 'state', 'progress'), ['', 'failed', '3'])
    assert.deepEqual(await admin.smembers(store.keys.wards), ['runs-on'], 'only the running ward is still to run')
    const finishedEvents = events.filter((e) => e.type === 'finished').map((e) => (e.type === 'finished' ? `${e.ward}:${e.state}` : ''))
    assert.deepEqual(finishedEvents.sort(), ['ends:done', 'fails:failed'])
    assert.equal(a.metrics()['cluster.wards_done'], 1)
    assert.equal(b.metrics()['cluster.wards_failed'], 1)
    // A node leaves: the other claims what it held, but not the finished wards.
    const startsBefore = starts.length
    await b.stop()
    await waitFor('a to run the last ward', () => a.status().wards.some((w) => w.ward === 'runs-on'), 20_000)
    assert.deepEqual(starts.slice(startsBefore).filter((ward) => ward !== 'runs-on'), [], 'no finished ward started again')
    // restart(): the failed ward runs again from its checkpoint (input 3) and completes.
    broken = false
    assert.equal(await a.restart(['fails']), 1)
    await waitFor('the failed ward done', async () => (await admin.hget(store.keys.ward('fails'), 'state')) === 'done', 20_000)
    assert.equal(await admin.hget(store.keys.ward('fails'), 'progress'), '5')
    await waitFor("a's view updated", () => a.status().finished.find((end) => end.ward === 'fails')?.state === 'done', 20_000)
  } finally {
    await b.stop()
    await a.stop()
    admin.disconnect()
    await server.stop()
  }
})

test('the store: a finished ward is not claimed (the next claimer retires it if the retire was lost) until it is reopened', async () => {
  const server = await RedisServer.start()
  const admin = new Redis(server.port, '127.0.0.1')
  try {
    const store = new RedisStore(admin, 'st')
    await store.addWards(['w'])
    const far = Number.MAX_SAFE_INTEGER
    const claimed = await store.claim('w', 'a', 1, far)
    assert.equal(claimed.kind, 'claimed')
    const end = { state: 'failed' as const, reason: 'bad', at: 1 }
    assert.equal(await store.finish('w', 1, 1, { progress: '2', failures: 3 }, false, end), 'written')
    assert.deepEqual(await store.claim('w', 'b', 1, far), { kind: 'finished', finished: { state: 'failed', reason: 'bad', at: 0 } })
    assert.deepEqual((await store.wards()).ids, ['w'], 'still in the set: the retire is a second step')
    await store.retire('w', end)
    await store.retire('w', { ...end, at: 2 })
    const wards = await store.wards()
    assert.deepEqual(wards.ids, [])
    assert.deepEqual([...wards.finished], [['w', end]], 'the first retire is kept')
    assert.equal(await store.addWards(['w']), 0, 'a finished ward is not added again')
    assert.equal(await store.reopen('w'), true)
    assert.equal(await store.reopen('w'), false, 'reopened once')
    assert.equal(await store.addWards(['w'], true), 1)
    const again = await store.claim('w', 'b', 1, far)
    assert.deepEqual(again, { kind: 'claimed', token: 2, checkpoint: { progress: '2', failures: 0 }, from: null })
  } finally {
    admin.disconnect()
    await server.stop()
  }
})
