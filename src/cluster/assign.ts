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
 * The rendezvous assignment kept up to date as the members and the ward set change, with the
 * same answer as {@link assign} (without a cap): each ward's best node and its score are kept,
 * so a node that joins costs one score per ward (a ward moves only if the new node beats its
 * best), a node that leaves costs a full ranking of its own wards only, a new ward one ranking,
 * and an unchanged view nothing — instead of wards × nodes at every change. @internal
 */
export class Rendezvous {
  #nodes: string[] = []
  #keys: number[] = []
  readonly #index = new Map<string, number>()
  #wards: string[] = []
  #wardKeys: number[] = []
  /** Per ward (by index): its owner's index in `#nodes` (-1: none), and the owner's score. */
  #owner: number[] = []
  #best: number[] = []
  #owners: Map<string, string> | undefined

  /** Brings the assignment to `wards` over `members` (leaving ones excluded); answers whether an owner may have changed. */
  update(wards: readonly string[], members: readonly Member[]): boolean {
    const nodes = members.filter((member) => member.leaving !== true).map((member) => member.node)
    const sameNodes = nodes.length === this.#nodes.length && nodes.every((node, i) => node === this.#nodes[i])
    const sameWards = wards.length === this.#wards.length && wards.every((ward, i) => ward === this.#wards[i])
    if (sameNodes && sameWards) return false
    this.#owners = undefined
    if (!sameNodes) this.#setNodes(nodes)
    if (!sameWards) this.#setWards(wards)
    return true
  }

  #setNodes(nodes: string[]): void {
    const before = new Set(this.#nodes)
    const joined = nodes.filter((node) => !before.has(node))
    const old = this.#nodes
    this.#nodes = nodes
    this.#keys = nodes.map(nodeKey)
    const position = new Map(nodes.map((node, i) => [node, i]))
    for (let i = 0; i < this.#wards.length; i++) {
      const owner = this.#owner[i]!
      const kept = owner === -1 ? undefined : position.get(old[owner]!)
      if (kept === undefined) {
        // Its owner left (or it had none): ranked again over everyone.
        this.#rank(i)
        continue
      }
      this.#owner[i] = kept
      // Only a node that joined can beat the owner it keeps.
      const w = this.#wardKeys[i]!
      for (const node of joined) {
        const j = position.get(node)!
        const s = mix(w ^ this.#keys[j]!)
        if (beats(s, node, this.#best[i]!, this.#nodes[this.#owner[i]!]!)) {
          this.#owner[i] = j
          this.#best[i] = s
        }
      }
    }
  }

  #setWards(wards: readonly string[]): void {
    const previous = this.#index
    const owner: number[] = new Array<number>(wards.length)
    const best: number[] = new Array<number>(wards.length)
    const keys: number[] = new Array<number>(wards.length)
    const oldOwner = this.#owner
    const oldBest = this.#best
    const oldKeys = this.#wardKeys
    const index = new Map<string, number>()
    this.#wards = [...wards]
    this.#owner = owner
    this.#best = best
    this.#wardKeys = keys
    for (let i = 0; i < wards.length; i++) {
      const ward = wards[i]!
      index.set(ward, i)
      const was = previous.get(ward)
      if (was !== undefined) {
        owner[i] = oldOwner[was]!
        best[i] = oldBest[was]!
        keys[i] = oldKeys[was]!
      } else {
        keys[i] = wardKey(ward)
        this.#rank(i)
      }
    }
    previous.clear()
    for (const [ward, i] of index) previous.set(ward, i)
  }

  /** Ward `i`'s best node over all nodes. */
  #rank(i: number): void {
    const w = this.#wardKeys[i]!
    let best = -1
    let bestScore = -1
    for (let j = 0; j < this.#nodes.length; j++) {
      const s = mix(w ^ this.#keys[j]!)
      if (best === -1 || beats(s, this.#nodes[j]!, bestScore, this.#nodes[best]!)) {
        best = j
        bestScore = s
      }
    }
    this.#owner[i] = best
    this.#best[i] = bestScore
  }

  /** Each ward's node (none while there is no node). */
  owners(): ReadonlyMap<string, string> {
    if (this.#owners !== undefined) return this.#owners
    const owners = new Map<string, string>()
    for (let i = 0; i < this.#wards.length; i++) {
      const j = this.#owner[i]!
      if (j !== -1) owners.set(this.#wards[i]!, this.#nodes[j]!)
    }
    this.#owners = owners
    return owners
  }

}

/** Whether score `s` of node `a` beats score `t` of node `b` (ties: the smaller id). */
function beats(s: number, a: string, t: number, b: string): boolean {
  return s > t || (s === t && a < b)
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
    const packed = Int32Array.from(keys)
    const n = packed.length
    for (const ward of wards) {
      const w = wardKey(ward)
      let best = 0
      let bestScore = -1
      for (let i = 0; i < n; i++) {
        // mix(w ^ key), inlined: this loop is the whole cost (wards × nodes).
        let h = w ^ packed[i]!
        h ^= h >>> 16
        h = Math.imul(h, 0x85ebca6b)
        h ^= h >>> 13
        h = Math.imul(h, 0xc2b2ae35)
        h ^= h >>> 16
        const s = h >>> 0
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
