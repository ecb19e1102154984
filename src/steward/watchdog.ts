import { exactTime, type Clock, type TimeCell, type Timer } from '../time/clock.js'

/** The ward is running and must beat before its deadline. @internal */
export const WORKING = 0
/** The ward waits for input (`ctx.idle`): healthy without beating. @internal */
export const IDLE = 1
/** The ward is suspended at a `yield` nobody asked for yet: healthy. @internal */
export const WAITING = 2
/** No live incarnation is watched. @internal */
export const OFF = 3

/**
 * What the watchdog needs from a supervised run. The run writes `lastBeat`
 * and `state` directly (that is the whole cost of a beat); the watchdog
 * reads them only when the run's deadline comes up.
 * @internal
 */
export interface Watched {
  /** The time stamp of the last beat, copied from the watchdog's cell. */
  lastBeat: number
  /** Heartbeat timeout in ms, > 0. */
  readonly timeout: number
  /** WORKING, IDLE, WAITING or OFF. */
  state: number
  /** Position in the heap, -1 when not in it. */
  heapIndex: number
  /** Called (synchronously, from the watchdog's timer) when a WORKING ward missed its deadline. */
  onHang(now: number): void
}

/** How many ticks per timeout the coarse (system clock) check makes. */
export const TICKS_PER_TIMEOUT = 100
const RING = 4096

/**
 * One watchdog per clock checks the deadlines of every watched run with a
 * single timer. A beat is a field write; the watchdog files each run under
 * the deadline it last saw and, when that deadline comes up, either finds a
 * newer beat and files the run again or reports the hang. So a run costs
 * about one heap operation per timeout, not one per beat, and nothing at all
 * while it is idle or waiting on its consumer.
 *
 * Exact mode (a clock with an always-current time field, i.e. the manual
 * clock): beats copy the exact time, and the timer is set for the earliest
 * deadline, so a hang is reported exactly `timeout` after the last beat.
 *
 * Coarse mode (any other clock): beats copy a time field that a tick
 * refreshes every `timeout / 100` ms (at least 1 ms) while anything is
 * watched. A beat stamped with tick k happened before tick k+1, so the
 * deadline is taken from tick k+1: never early, late by at most one tick.
 * @internal
 */
export class Watchdog {
  readonly cell: TimeCell
  readonly clock: Clock
  readonly #exact: boolean
  readonly #heap: Watched[] = []
  // The deadline each heap entry is filed under, beside it: no boxed number per run.
  #keys = new Float64Array(64)
  #timer: Timer | undefined
  #timerAt = Infinity
  // Coarse mode: the times of recent ticks, to find the tick after a stamp.
  readonly #ticks: Float64Array
  #tickCount = 0
  readonly #timeoutCounts = new Map<number, number>()
  #tickMs = Infinity

  constructor(clock: Clock) {
    this.clock = clock
    const cell = (clock as Partial<Record<typeof exactTime, TimeCell>>)[exactTime]
    this.#exact = cell !== undefined
    this.cell = cell ?? { now: clock.now() }
    this.#ticks = new Float64Array(this.#exact ? 0 : RING)
  }

  /** How many runs are filed (working, or not yet found idle). */
  get size(): number {
    return this.#heap.length
  }

  /** Files `w` (now WORKING, with `lastBeat` set) unless it is filed already. */
  watch(w: Watched): void {
    if (w.heapIndex !== -1) return
    if (!this.#exact && this.#heap.length === 0) this.#recordTick()
    if (!this.#exact) this.#countTimeout(w.timeout, 1)
    this.#push(w, w.lastBeat + w.timeout)
    this.#arm()
  }

  /** Removes `w` from the schedule at once (its run settled). */
  unwatch(w: Watched): void {
    const index = w.heapIndex
    if (index === -1) return
    if (!this.#exact) this.#countTimeout(w.timeout, -1)
    const heap = this.#heap
    const last = heap.pop()!
    w.heapIndex = -1
    if (index < heap.length) {
      heap[index] = last
      this.#keys[index] = this.#keys[heap.length]!
      last.heapIndex = index
      this.#down(index)
      this.#up(last.heapIndex)
    }
    if (heap.length === 0) this.#disarm()
  }

  #countTimeout(timeout: number, delta: number): void {
    const counts = this.#timeoutCounts
    const count = (counts.get(timeout) ?? 0) + delta
    if (count === 0) counts.delete(timeout)
    else counts.set(timeout, count)
    let min = Infinity
    for (const t of counts.keys()) if (t < min) min = t
    this.#tickMs = min === Infinity ? Infinity : Math.max(1, min / TICKS_PER_TIMEOUT)
  }

  #recordTick(): void {
    const now = this.clock.now()
    this.cell.now = now
    this.#ticks[this.#tickCount % RING] = now
    this.#tickCount++
  }

  /** Coarse mode: the latest time the beat stamped `stamp` can have happened. */
  #latestBeat(stamp: number, now: number): number {
    const ticks = this.#ticks
    const count = this.#tickCount
    if (stamp >= this.cell.now) return now
    const oldest = Math.max(0, count - RING)
    // Binary search for the first recorded tick after the stamp.
    let lo = oldest
    let hi = count - 1
    if (ticks[lo % RING]! > stamp) return ticks[lo % RING]!
    while (hi - lo > 1) {
      const mid = (lo + hi) >>> 1
      if (ticks[mid % RING]! > stamp) hi = mid
      else lo = mid
    }
    return ticks[hi % RING]!
  }

  #arm(): void {
    const heap = this.#heap
    if (heap.length === 0) return this.#disarm()
    const at = this.#exact ? this.#keys[0]! : Math.min(this.#keys[0]!, this.cell.now + this.#tickMs)
    if (this.#timer !== undefined && this.#timerAt <= at) return
    this.#timer?.cancel()
    this.#timerAt = at
    this.#timer = this.clock.setTimer(Math.max(0, at - this.clock.now()), this.#fire)
  }

  #disarm(): void {
    this.#timer?.cancel()
    this.#timer = undefined
    this.#timerAt = Infinity
  }

  readonly #fire = (): void => {
    this.#timer = undefined
    this.#timerAt = Infinity
    let now: number
    if (this.#exact) {
      now = this.cell.now
    } else {
      this.#recordTick()
      now = this.cell.now
    }
    const heap = this.#heap
    while (heap.length > 0 && this.#keys[0]! <= now) {
      const w = heap[0]!
      if (w.state !== WORKING) {
        this.unwatch(w)
        continue
      }
      const latest = this.#exact ? w.lastBeat : this.#latestBeat(w.lastBeat, now)
      const deadline = latest + w.timeout
      if (deadline > now) {
        this.#keys[0] = deadline
        this.#down(0)
        continue
      }
      this.unwatch(w)
      w.onHang(now)
    }
    this.#arm()
  }

  #push(w: Watched, key: number): void {
    const heap = this.#heap
    const index = heap.length
    if (index === this.#keys.length) {
      const keys = new Float64Array(index * 2)
      keys.set(this.#keys)
      this.#keys = keys
    }
    heap.push(w)
    this.#keys[index] = key
    w.heapIndex = index
    this.#up(index)
  }

  #up(index: number): void {
    const heap = this.#heap
    const keys = this.#keys
    const w = heap[index]!
    const key = keys[index]!
    while (index > 0) {
      const parentIndex = (index - 1) >> 1
      if (keys[parentIndex]! <= key) break
      const parent = heap[parentIndex]!
      heap[index] = parent
      keys[index] = keys[parentIndex]!
      parent.heapIndex = index
      index = parentIndex
    }
    heap[index] = w
    keys[index] = key
    w.heapIndex = index
  }

  #down(index: number): void {
    const heap = this.#heap
    const keys = this.#keys
    const length = heap.length
    const w = heap[index]!
    const key = keys[index]!
    for (;;) {
      const left = 2 * index + 1
      if (left >= length) break
      const right = left + 1
      const child = right < length && keys[right]! < keys[left]! ? right : left
      if (keys[child]! >= key) break
      const c = heap[child]!
      heap[index] = c
      keys[index] = keys[child]!
      c.heapIndex = index
      index = child
    }
    heap[index] = w
    keys[index] = key
    w.heapIndex = index
  }
}

const watchdogs = new WeakMap<Clock, Watchdog>()

/** The watchdog shared by every run on `clock`. @internal */
export function watchdogFor(clock: Clock): Watchdog {
  let watchdog = watchdogs.get(clock)
  if (watchdog === undefined) {
    watchdog = new Watchdog(clock)
    watchdogs.set(clock, watchdog)
  }
  return watchdog
}
