// A ward factory that throws: the node reports it (ward-error) and keeps the ward's checkpoint
// as it was claimed: it is neither lost nor overwritten, and the release hands it on unchanged.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { cluster, type ClusterEvent } from './cluster.js'
import { RedisServer } from '../testing/redis-server.js'
import { waitFor } from '../testing/wait.js'

test('a ward whose factory throws keeps its checkpoint; the error is an event', { timeout: 30_000 }, async () => {
  const server = await RedisServer.start()
  const admin = new Redis(server.port, '127.0.0.1')
  const events: ClusterEvent[] = []
  const node = cluster({
    redis: server.url,
    namespace: 'broken',
    leaseTtl: '1s',
    checkpointEvery: '100ms',
    onEvent: (event) => events.push(event),
    ward: (id) => {
      throw new Error(`cannot build ${id}`)
    },
  })
  try {
    // A checkpoint left by an earlier owner: position 7, one failure there.
    await admin.hset('{broken:bad}', 'node', '', 'epoch', '', 'token', '3', 'progress', '7', 'failures', '1')
    await node.ready
    await node.add(['bad'])
    await waitFor('the ward error', () => events.some((event) => event.type === 'ward-error'), 10_000, 50)
    const error = events.find((event) => event.type === 'ward-error')
    assert.match(error?.type === 'ward-error' ? error.message : '', /cannot build bad/)
    await new Promise((resolve) => setTimeout(resolve, 800)) // several beats and checkpoint intervals
    assert.deepEqual(await admin.hmget('{broken:bad}', 'node', 'token', 'progress', 'failures'), [node.node, '4', '7', '1'], 'held, checkpoint untouched')
    await node.stop()
    assert.deepEqual(await admin.hmget('{broken:bad}', 'node', 'token', 'progress', 'failures'), ['', '4', '7', '1'])
  } finally {
    await node.stop()
    admin.disconnect()
    await server.stop()
  }
})
