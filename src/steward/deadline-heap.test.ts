import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DeadlineHeap } from './deadline-heap.js'

interface Entry {
  heapIndex: number
  readonly id: number
}

function entry(id: number): Entry {
  return { heapIndex: -1, id }
}

/** What each entry was filed with, to check that stamps and meta move with their entry. */
interface Filed {
  key: number
  stamp: number
  progressStamp: number
  meta: number
}

/** Files `entry` under `key` with stamps and a meta byte derived from its id. */
function push(heap: DeadlineHeap<Entry>, filed: Map<Entry, Filed>, e: Entry, key: number): void {
  const f = { key, stamp: e.id * 2 + 0.5, progressStamp: e.id * 3 + 0.25, meta: e.id % 256 }
  filed.set(e, f)
  heap.push(e, f.key, f.stamp, f.progressStamp, f.meta)
}

/** Takes every entry off the top, checking each one's key, stamps and meta; returns the keys. */
function drain(heap: DeadlineHeap<Entry>, filed: Map<Entry, Filed>): number[] {
  const keys: number[] = []
  while (heap.size > 0) {
    const top = heap.top
    assert.equal(top.heapIndex, 0, `the top entry ${top.id} knows its index`)
    const f = filed.get(top)!
    assert.equal(heap.topKey, f.key, `key of ${top.id}`)
    assert.equal(heap.topStamp, f.stamp, `stamp of ${top.id}`)
    assert.equal(heap.topProgressStamp, f.progressStamp, `progress stamp of ${top.id}`)
    assert.equal(heap.topMeta, f.meta, `meta of ${top.id}`)
    keys.push(heap.topKey)
    const size = heap.size
    heap.remove(top)
    assert.equal(top.heapIndex, -1)
    assert.equal(heap.size, size - 1)
  }
  return keys
}

/** A small deterministic generator (mulberry32), so a failure is reproducible. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const ascending = (keys: number[]): number[] => [...keys].sort((a, b) => a - b)

test('entries come off the top in key order, each with its own stamps and meta', () => {
  const next = random(1)
  const heap = new DeadlineHeap<Entry>()
  const filed = new Map<Entry, Filed>()
  const keys: number[] = []
  for (let id = 0; id < 50; id++) {
    const key = Math.floor(next() * 20) // ties included
    keys.push(key)
    push(heap, filed, entry(id), key)
  }
  assert.equal(heap.size, 50)
  assert.deepEqual(drain(heap, filed), ascending(keys))
})

test('refileTop moves the top entry to its new key; restampTop keeps its place', () => {
  const heap = new DeadlineHeap<Entry>()
  const filed = new Map<Entry, Filed>()
  const entries = [10, 20, 30, 40, 50].map((key, id) => {
    const e = entry(id)
    push(heap, filed, e, key)
    return e
  })
  heap.refileTop(35, 7, 8, 9)
  filed.set(entries[0]!, { key: 35, stamp: 7, progressStamp: 8, meta: 9 })
  assert.equal(heap.top, entries[1])
  heap.restampTop(1.5, 2.5, 3)
  filed.set(entries[1]!, { key: 20, stamp: 1.5, progressStamp: 2.5, meta: 3 })
  assert.equal(heap.top, entries[1])
  heap.refileTop(5, 1.5, 2.5, 3) // an earlier key stays on top
  filed.set(entries[1]!, { key: 5, stamp: 1.5, progressStamp: 2.5, meta: 3 })
  assert.equal(heap.top, entries[1])
  assert.deepEqual(drain(heap, filed), [5, 30, 35, 40, 50])
})

test('equal keys do not move past each other (ties are common: same timeout, same tick)', () => {
  const heap = new DeadlineHeap<Entry>()
  const filed = new Map<Entry, Filed>()
  const first = entry(0)
  const second = entry(1)
  push(heap, filed, first, 5)
  push(heap, filed, second, 5) // sifting up stops at a parent with the same key
  assert.equal(heap.top, first)
  assert.equal(second.heapIndex, 1)
  heap.refileTop(1, 0, 0, 0)
  heap.refileTop(5, 0, 0, 0) // sifting down stops at a child with the same key
  assert.equal(heap.top, first)
  assert.equal(second.heapIndex, 1)
})

test('removing an entry from the middle keeps heap order (the last entry moves up or down)', () => {
  // Filed in heap order: 0 has children 10 and 1; 10 has 11 and 12; 1 has 2 and 3.
  const up = new DeadlineHeap<Entry>()
  const upFiled = new Map<Entry, Filed>()
  const upEntries = [0, 10, 1, 11, 12, 2, 3].map((key, id) => {
    const e = entry(id)
    push(up, upFiled, e, key)
    return e
  })
  up.remove(upEntries[3]!) // 11: the last entry (3) takes its place, below 10, and must move up
  assert.equal(upEntries[6]!.heapIndex, 1)
  assert.deepEqual(drain(up, upFiled), [0, 1, 2, 3, 10, 12])

  const down = new DeadlineHeap<Entry>()
  const downFiled = new Map<Entry, Filed>()
  const downEntries = [0, 1, 10, 2, 3, 11, 12].map((key, id) => {
    const e = entry(id)
    push(down, downFiled, e, key)
    return e
  })
  down.remove(downEntries[1]!) // 1: the last entry (12) takes its place, above 2 and 3, and must move down
  down.remove(downEntries[1]!) // removing it twice is harmless
  assert.deepEqual(drain(down, downFiled), [0, 2, 3, 10, 11, 12])
})

test('removals anywhere, interleaved with pushes, keep every entry in order', () => {
  const next = random(7)
  const heap = new DeadlineHeap<Entry>()
  const filed = new Map<Entry, Filed>()
  const live: Entry[] = []
  let id = 0
  let peak = 0
  for (let round = 0; round < 600; round++) {
    if (live.length === 0 || next() < 0.65) {
      const e = entry(id++)
      push(heap, filed, e, Math.floor(next() * 100))
      live.push(e)
    } else {
      const [e] = live.splice(Math.floor(next() * live.length), 1)
      heap.remove(e!)
      assert.equal(e!.heapIndex, -1)
      filed.delete(e!)
    }
    assert.equal(heap.size, live.length)
    peak = Math.max(peak, live.length)
  }
  assert.ok(peak > 64, 'the heap grew on the way')
  assert.deepEqual(drain(heap, filed), ascending(live.map((e) => filed.get(e)!.key)))
})

test('the heap grows past 64 entries, keeping keys, stamps and meta', () => {
  const heap = new DeadlineHeap<Entry>()
  const filed = new Map<Entry, Filed>()
  const keys: number[] = []
  for (let id = 0; id < 300; id++) {
    const key = 1_000 - id // each new entry goes to the top
    keys.push(key)
    push(heap, filed, entry(id), key)
  }
  assert.equal(heap.size, 300)
  assert.deepEqual(drain(heap, filed), ascending(keys))
  push(heap, filed, entry(300), 1) // still usable once empty
  assert.equal(heap.topKey, 1)
})

test('advance files an entry under an earlier key from anywhere in the heap, its stamps and meta with it', () => {
  const next = random(7)
  for (let round = 0; round < 50; round++) {
    const heap = new DeadlineHeap<Entry>()
    const filed = new Map<Entry, Filed>()
    const entries = Array.from({ length: 40 }, (_, id) => entry(id))
    for (const e of entries) push(heap, filed, e, Math.floor(next() * 1_000) + 1_000)
    for (let i = 0; i < 10; i++) {
      const e = entries[Math.floor(next() * entries.length)]!
      const f = filed.get(e)!
      assert.equal(heap.keyOf(e), f.key)
      const key = Math.floor(next() * f.key)
      const moved = { key, stamp: f.stamp + 1, progressStamp: f.progressStamp + 1, meta: (f.meta + 1) % 256 }
      filed.set(e, moved)
      heap.advance(e, moved.key, moved.stamp, moved.progressStamp, moved.meta)
      assert.equal(heap.keyOf(e), key)
    }
    const keys = drain(heap, filed)
    assert.deepEqual(keys, ascending(keys))
  }
})
