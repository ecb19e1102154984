// maxWardsPerNode on a real redis-server: a node never holds more than its bound; the wards
// beyond every node's room wait unassigned until a node with room joins.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { cluster, type ClusterNode } from './cluster.js'
import { steward } from '../steward/steward.js'
import { RedisServer } from '../testing/redis-server.js'
import { waitFor } from '../testing/wait.js'

const idle = steward(async (ctx) => {
  await ctx.idle(
    (signal) =>
      new Promise<void>((_, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true })
      }),
  )
})

test('maxWardsPerNode: 10 wards, nodes of room 5: the first holds 5; with a second node each holds 5 (uncapped, rendezvous would give the first 7)', { timeout: 30_000 }, async () => {
  const server = await RedisServer.start()
  const nodes: ClusterNode[] = []
  const most: number[] = [0, 0]
  try {
    const make = (name: string, index: number): ClusterNode => {
      const node = cluster({ redis: server.url, namespace: 'cap', node: name, leaseTtl: '1s', maxWardsPerNode: 5, ward: () => idle })
      node.on((event) => {
        if (event.type === 'claimed') most[index] = Math.max(most[index]!, node.status().wards.length)
      })
      nodes.push(node)
      return node
    }
    const first = make('first', 0)
    await first.ready
    await first.add(Array.from({ length: 10 }, (_, i) => `w${i}`))
    await waitFor('the first node to fill its room', () => first.status().wards.length === 5, 10_000, 50)
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    assert.equal(first.status().wards.length, 5, 'still 5 a second later')
    const second = make('second', 1)
    await second.ready
    await waitFor('all 10 wards held', () => first.status().wards.length + second.status().wards.length === 10, 10_000, 50)
    assert.ok(most[0]! <= 5 && most[1]! <= 5, `at most 5 each (${most.join(', ')})`)
    assert.deepEqual([first.status().wards.length, second.status().wards.length], [5, 5])
  } finally {
    for (const node of nodes) await node.stop()
    await server.stop()
  }
})
