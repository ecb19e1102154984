import { test } from 'node:test'
import assert from 'node:assert/strict'
import { assign, Rendezvous, score } from './assign.js'
import type { Member } from './store.js'

const wards = Array.from({ length: 20_000 }, (_, i) => `ward-${i}`)
const members = (n: number, from = 0): Member[] => Array.from({ length: n }, (_, i) => ({ node: `node-${from + i}`, epoch: 0 }))

/** The definition: the highest score(ward, node), ties to the lower node id. */
function reference(ward: string, nodes: readonly string[]): string {
  let best = nodes[0]!
  for (const node of nodes) {
    const s = score(ward, node)
    const b = score(ward, best)
    if (s > b || (s === b && node < best)) best = node
  }
  return best
}

test('assign gives each ward its highest-scoring node, the same from any member order', () => {
  const nodes = members(17)
  const a = assign(wards, nodes)
  const b = assign(wards, [...nodes].reverse())
  assert.deepEqual([...a], [...b], 'the answer depends on the member order')
  const ids = nodes.map((m) => m.node)
  for (const ward of wards.slice(0, 2_000)) assert.equal(a.get(ward), reference(ward, ids), `ward ${ward}`)
})

test('with a cap the answer is the same from any member order and no node exceeds it', () => {
  const nodes = members(7)
  const cap = Math.ceil(wards.length / 7) + 10
  const a = assign(wards, nodes, cap)
  assert.deepEqual([...a].sort(), [...assign(wards, [...nodes].reverse(), cap)].sort())
  const load = new Map<string, number>()
  for (const node of a.values()) load.set(node, (load.get(node) ?? 0) + 1)
  for (const [node, n] of load) assert.ok(n <= cap, `${node} holds ${n} > cap ${cap}`)
  assert.equal(a.size, wards.length)
})

test('a leaving node gets nothing', () => {
  const nodes = members(5)
  nodes[2] = { ...nodes[2]!, leaving: true }
  const a = assign(wards, nodes)
  assert.equal(a.size, wards.length)
  assert.ok(![...a.values()].includes('node-2'), 'a leaving node was given wards')
  assert.equal(assign(wards, nodes, 10_000).size, wards.length)
  assert.ok(![...assign(wards, nodes, 10_000).values()].includes('node-2'))
})

test('a join moves only wards to the new node, about 1/N of them; a leave moves only the leaver\'s', () => {
  const before = assign(wards, members(10))
  const after = assign(wards, members(11))
  let moved = 0
  for (const ward of wards) {
    if (before.get(ward) === after.get(ward)) continue
    moved++
    assert.equal(after.get(ward), 'node-10', `ward ${ward} moved between old nodes`)
  }
  const ideal = wards.length / 11
  assert.ok(moved > ideal * 0.8 && moved < ideal * 1.2, `${moved} moved on a join, ideal ${Math.round(ideal)}`)
  const left = assign(wards, members(10).filter((m) => m.node !== 'node-3'))
  for (const ward of wards) if (before.get(ward) !== 'node-3') assert.equal(left.get(ward), before.get(ward), `ward ${ward} moved off a staying node`)
})

test('the load is balanced: max/mean under 1.2 over 20 nodes', () => {
  const load = new Map<string, number>()
  for (const node of assign(wards, members(20)).values()) load.set(node, (load.get(node) ?? 0) + 1)
  assert.equal(load.size, 20)
  const max = Math.max(...load.values())
  assert.ok(max / (wards.length / 20) < 1.2, `max ${max}, mean ${wards.length / 20}`)
})

test('Rendezvous kept up to date through joins, leaves, leaving nodes and ward changes answers exactly as assign() does', () => {
  let seed = 7
  const random = (): number => {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0
    return seed / 2 ** 32
  }
  const kept = new Rendezvous()
  let wards = Array.from({ length: 3_000 }, (_, i) => `w${i}`)
  let members: Member[] = []
  let next = 0
  for (let step = 0; step < 60; step++) {
    const roll = random()
    if (roll < 0.35 || members.length === 0) members = [...members, { node: `n${next++}`, epoch: 1 }]
    else if (roll < 0.55) members = members.filter((_, i) => i !== Math.floor(random() * members.length))
    else if (roll < 0.65) members = members.map((m, i) => (i === 0 ? { ...m, leaving: !m.leaving } : m))
    else if (roll < 0.75) members = [...members].reverse()
    else if (roll < 0.85) wards = [...wards.filter(() => random() > 0.05), ...Array.from({ length: 50 }, (_, i) => `x${step}-${i}`)]
    else wards = [...wards].sort(() => random() - 0.5)
    kept.update(wards, members)
    assert.deepEqual(new Map([...kept.owners()].sort()), new Map([...assign(wards, members)].sort()), `step ${step}`)
  }
  assert.equal(kept.update(wards, members), false, 'an unchanged view changes nothing')
})
