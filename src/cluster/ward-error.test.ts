// A ward factory that throws: the node reports it (ward-error) and the ward is failed with the
// error as its reason, its checkpoint as it was claimed: neither lost nor overwritten. It is not
// claimed again until `restart()`.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { cluster, type ClusterEvent } from './cluster.js'
import { RedisServer } from '../testing/redis-server.js'
import { waitFor } from '../testing/wait.js'

test('a ward whose factory throws is failed with the error, its checkpoint kept; restart() tries it again', { timeout: 30_000 }, async () => {
  const server = await RedisServer.start()
  const admin = new Redis(server.port, '127.0.0.1')
  const events: ClusterEvent[] = []
  let builds = 0
  const node = cluster({
    redis: server.url,
    namespace: 'broken',
    leaseTtl: '1s',
    checkpointEvery: '100ms',
    onEvent: (event) => events.push(event),
    ward: (id) => {
      builds++
      throw new Error(`cannot build ${id}`)
    },
  })
  try {
    // A checkpoint left by an earlier owner: position 7, one failure there.
    await admin.hset('{broken:bad}', 'node', '', 'epoch', '', 'token', '3', 'progress', '7', 'failures', '1')
    await node.ready
    await node.add(['bad'])
    await waitFor('the ward failed', () => node.status().finished.length === 1, 10_000, 50)
    const error = events.find((event) => event.type === 'ward-error')
    assert.match(error?.type === 'ward-error' ? error.message : '', /cannot build bad/)
    assert.deepEqual(await admin.hmget('{broken:bad}', 'node', 'token', 'progress', 'failures', 'state', 'reason'), ['', '4', '7', '1', 'failed', 'Error: cannot build bad'], 'released as failed, checkpoint untouched')
    assert.deepEqual(node.status().finished.map(({ ward, state, reason }) => ({ ward, state, reason })), [{ ward: 'bad', state: 'failed', reason: 'Error: cannot build bad' }])
    assert.equal(node.metrics()['cluster.wards_failed'], 1)
    assert.equal(node.status().totalWards, 0)
    assert.equal(await node.add(['bad']), 0, 'adding a failed ward again leaves it failed')
    assert.equal(builds, 1)
    // restart(): claimed and built again (and failed again), its failures cleared.
    assert.equal(await node.restart(['bad', 'other']), 1, 'one of the two was finished')
    await waitFor('the ward built again', () => builds === 2, 10_000, 50)
    await waitFor('the ward failed again', async () => (await admin.hget('{broken:bad}', 'state')) === 'failed' && node.status().finished.length === 1, 10_000, 50)
    assert.deepEqual(await admin.hmget('{broken:bad}', 'token', 'progress', 'failures'), ['5', '7', '0'])
  } finally {
    await node.stop()
    admin.disconnect()
    await server.stop()
  }
})
