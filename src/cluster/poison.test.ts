// Poison counts travel with the checkpoint: failures counted at an input on one node count on
// the next, so a poison input cannot crash one node after another forever.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { cluster, type ClusterNode } from './cluster.js'
import { steward } from '../steward/steward.js'
import { walk } from '../steward/walk.js'
import { fixed } from '../policy/backoff.js'
import { RedisServer } from '../testing/redis-server.js'
import { waitFor } from '../testing/wait.js'

test('failuresHere travels: two failures on the first node, the third on the next one dead-letters the input', { timeout: 30_000 }, async () => {
  const server = await RedisServer.start()
  const admin = new Redis(server.port, '127.0.0.1')
  const seen: Array<{ node: string; failuresHere: number; poisoned: boolean }> = []
  const make = (name: string): ClusterNode =>
    cluster({
      redis: server.url,
      namespace: 'poison',
      node: name,
      leaseTtl: '1s',
      checkpointEvery: '50ms',
      ward: () =>
        steward(
          walk(['poison', 'fine'], async (input, ctx) => {
            if (input !== 'poison') return input
            seen.push({ node: name, failuresHere: ctx.failuresHere, poisoned: ctx.poisoned })
            throw new Error('cannot digest')
          }),
          { poisonAfter: 3, backoff: fixed(1_500) },
        ),
    })
  const first = make('first')
  let second: ClusterNode | undefined
  try {
    await first.ready
    await first.add(['p'])
    await waitFor('two failures on the first node', () => seen.length === 2, 10_000, 50)
    assert.deepEqual(seen.map((s) => s.failuresHere), [0, 1])
    // Let the count be checkpointed, then hand over before the third attempt.
    await waitFor('the failures checkpointed (the next attempt is 1.5 s away)', async () => (await admin.hget('{poison:p}', 'failures')) === '2', 5_000, 50)
    await first.stop()
    assert.equal(seen.length, 2)
    second = make('second')
    await second.ready
    await waitFor('the dead letter', async () => (await admin.xlen('{poison:p}:dead')) === 1, 10_000, 50)
    assert.deepEqual(seen[2], { node: 'second', failuresHere: 2, poisoned: false }, JSON.stringify(seen))
    assert.equal(seen.length, 3, 'the third failure, on the second node, made it poison: dead-lettered, not retried')
  } finally {
    await second?.stop()
    await first.stop()
    admin.disconnect()
    await server.stop()
  }
})
