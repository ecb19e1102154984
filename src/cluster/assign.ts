import type { Member } from './store.js'

/** FNV-1a over a string: 32 bits. */
function fnv(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h
}

/** murmur3's finaliser: every input bit affects every output bit. */
function mix(h: number): number {
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** The rendezvous score of `node` for `ward`: both ids hashed and mixed (32 bits). */
export function score(ward: string, node: string): number {
  return mix(wardKey(ward) ^ nodeKey(node))
}

/** A ward's half of the score: hashed once per ward, not once per (ward, node). */
function wardKey(ward: string): number {
  return mix(fnv(ward))
}

/** A node's half of the score: hashed once per assignment, not once per (ward, node). */
function nodeKey(node: string): number {
  return Math.imul(mix(fnv(node)), 0x9e3779b1)
}

/**
 * Which node each ward belongs to (rendezvous hashing): the live, not leaving node with the
 * highest score, so a join or a leave moves only the wards whose best node changed. With a
 * `cap`, wards are taken in id order and each goes to its best node that still has room (wards
 * beyond every node's room are nobody's). Every node computes the same answer from the same
 * members and ward set (exported to plan a deployment).
 */
export function assign(wards: readonly string[], members: readonly Member[], cap = Infinity): Map<string, string> {
  const nodes = members.filter((member) => member.leaving !== true).map((member) => member.node)
  const owner = new Map<string, string>()
  if (nodes.length === 0) return owner
  // Each node's half of the score is computed once here; per (ward, node) only one mix() remains.
  const keys = nodes.map(nodeKey)
  if (cap === Infinity) {
    for (const ward of wards) {
      const w = wardKey(ward)
      let best = 0
      let bestScore = -1
      for (let i = 0; i < nodes.length; i++) {
        const s = mix(w ^ keys[i]!)
        if (s > bestScore || (s === bestScore && nodes[i]! < nodes[best]!)) {
          best = i
          bestScore = s
        }
      }
      owner.set(ward, nodes[best]!)
    }
    return owner
  }
  const load = new Map<string, number>()
  for (const ward of [...wards].sort()) {
    const w = wardKey(ward)
    const ranked = nodes.map((node, i) => ({ node, s: mix(w ^ keys[i]!) })).sort((a, b) => b.s - a.s || (a.node < b.node ? -1 : 1))
    for (const { node } of ranked) {
      const n = load.get(node) ?? 0
      if (n < cap) {
        load.set(node, n + 1)
        owner.set(ward, node)
        break
      }
    }
  }
  return owner
}
