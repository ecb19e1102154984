/** What the heap needs of an entry: the slot where it records the entry's position. @internal */
export interface HeapEntry {
  /** Position in the heap, -1 when not in it. The heap keeps it current. */
  heapIndex: number
}

/** The typed arrays' initial length; they double when full. */
const INITIAL_CAPACITY = 64

/**
 * A binary min-heap of entries by deadline (the watchdog's schedule). Beside each entry, in
 * parallel typed arrays (no object and no boxed number per entry), it keeps its key (the
 * deadline it is filed under), two stamps and a meta byte, which it stores and moves with the
 * entry but does not interpret. Each entry's `heapIndex` is its position, so it can be removed
 * from anywhere in O(log n). @internal
 */
export class DeadlineHeap<T extends HeapEntry> {
  readonly #entries: T[] = []
  #keys = new Float64Array(INITIAL_CAPACITY)
  #stamps = new Float64Array(INITIAL_CAPACITY)
  #progressStamps = new Float64Array(INITIAL_CAPACITY)
  #meta = new Uint8Array(INITIAL_CAPACITY)

  /** How many entries are filed. */
  get size(): number {
    return this.#entries.length
  }

  /** The entry with the earliest key; the heap must not be empty. */
  get top(): T {
    return this.#entries[0]!
  }

  /** The earliest key (meaningless when the heap is empty). */
  get topKey(): number {
    return this.#keys[0]!
  }

  /** The top entry's stamp. */
  get topStamp(): number {
    return this.#stamps[0]!
  }

  /** The top entry's progress stamp. */
  get topProgressStamp(): number {
    return this.#progressStamps[0]!
  }

  /** The top entry's meta byte. */
  get topMeta(): number {
    return this.#meta[0]!
  }

  /** Files `entry` (not filed yet) under `key`, with its stamps and meta byte. */
  push(entry: T, key: number, stamp: number, progressStamp: number, meta: number): void {
    const entries = this.#entries
    const index = entries.length
    if (index === this.#keys.length) this.#grow()
    entries.push(entry)
    this.#keys[index] = key
    this.#stamps[index] = stamp
    this.#progressStamps[index] = progressStamp
    this.#meta[index] = meta
    entry.heapIndex = index
    this.#up(index)
  }

  /** Re-files the top entry under a new `key`, with new stamps and meta byte. */
  refileTop(key: number, stamp: number, progressStamp: number, meta: number): void {
    this.#keys[0] = key
    this.#stamps[0] = stamp
    this.#progressStamps[0] = progressStamp
    this.#meta[0] = meta
    this.#down(0)
  }

  /** Replaces the top entry's stamps and meta byte, keeping its key (and so its place). */
  restampTop(stamp: number, progressStamp: number, meta: number): void {
    this.#stamps[0] = stamp
    this.#progressStamps[0] = progressStamp
    this.#meta[0] = meta
  }

  /** The key `entry` (filed) is filed under. */
  keyOf(entry: T): number {
    return this.#keys[entry.heapIndex]!
  }

  /** Files `entry` (filed, under a later key) under the earlier `key`, with new stamps and meta byte. */
  advance(entry: T, key: number, stamp: number, progressStamp: number, meta: number): void {
    const index = entry.heapIndex
    this.#keys[index] = key
    this.#stamps[index] = stamp
    this.#progressStamps[index] = progressStamp
    this.#meta[index] = meta
    this.#up(index)
  }

  /** Removes `entry` from wherever it is; nothing when it is not filed. */
  remove(entry: T): void {
    const index = entry.heapIndex
    if (index === -1) return
    const entries = this.#entries
    const last = entries.pop()!
    entry.heapIndex = -1
    if (index < entries.length) {
      this.#copy(entries.length, index, last)
      this.#down(index)
      this.#up(last.heapIndex)
    }
  }

  #grow(): void {
    const size = this.#keys.length * 2
    const keys = new Float64Array(size)
    keys.set(this.#keys)
    this.#keys = keys
    const stamps = new Float64Array(size)
    stamps.set(this.#stamps)
    this.#stamps = stamps
    const progressStamps = new Float64Array(size)
    progressStamps.set(this.#progressStamps)
    this.#progressStamps = progressStamps
    const meta = new Uint8Array(size)
    meta.set(this.#meta)
    this.#meta = meta
  }

  /** Moves the entry at `from` (which is `entry`) to `to`. */
  #copy(from: number, to: number, entry: T): void {
    this.#entries[to] = entry
    this.#keys[to] = this.#keys[from]!
    this.#stamps[to] = this.#stamps[from]!
    this.#progressStamps[to] = this.#progressStamps[from]!
    this.#meta[to] = this.#meta[from]!
    entry.heapIndex = to
  }

  /** Puts an entry taken out at some index back at `index`. */
  #place(index: number, entry: T, key: number, stamp: number, progressStamp: number, meta: number): void {
    this.#entries[index] = entry
    this.#keys[index] = key
    this.#stamps[index] = stamp
    this.#progressStamps[index] = progressStamp
    this.#meta[index] = meta
    entry.heapIndex = index
  }

  #up(index: number): void {
    const entries = this.#entries
    const keys = this.#keys
    const entry = entries[index]!
    const key = keys[index]!
    const stamp = this.#stamps[index]!
    const progressStamp = this.#progressStamps[index]!
    const meta = this.#meta[index]!
    while (index > 0) {
      const parentIndex = (index - 1) >> 1
      if (keys[parentIndex]! <= key) break
      this.#copy(parentIndex, index, entries[parentIndex]!)
      index = parentIndex
    }
    this.#place(index, entry, key, stamp, progressStamp, meta)
  }

  #down(index: number): void {
    const entries = this.#entries
    const keys = this.#keys
    const length = entries.length
    const entry = entries[index]!
    const key = keys[index]!
    const stamp = this.#stamps[index]!
    const progressStamp = this.#progressStamps[index]!
    const meta = this.#meta[index]!
    for (;;) {
      const left = 2 * index + 1
      if (left >= length) break
      const right = left + 1
      const child = right < length && keys[right]! < keys[left]! ? right : left
      if (keys[child]! >= key) break
      this.#copy(child, index, entries[child]!)
      index = child
    }
    this.#place(index, entry, key, stamp, progressStamp, meta)
  }
}
