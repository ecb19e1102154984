// The memory samples of every process ward with a `maxMemory` on one clock: one scan of /proc per
// tick, however many wards have a limit. And the figures `status()` shows of every process ward
// (RSS, CPU, fds, start time): one scan of /proc for all of them, at most once per `usageEvery`.
import { readdirSync } from 'node:fs'
import type { Clock, Timer } from '../time/clock.js'
import { groupsRss, groupsUsage, hasProc, type GroupUsage } from './process-group.js'

/** A process group watched for its memory, and what to tell of each sample. */
interface Watch {
  readonly pgid: number
  readonly every: number
  /** Called with the group's RSS in bytes (0 once it has no live member) at each of its samples. */
  readonly onSample: (rss: number) => void
  /** When its next sample is due: a multiple of `every`, so watches of the same `every` share a tick. */
  due: number
}

/** How many times a sampler scanned /proc (for tests: one scan per tick, not one per ward). @internal */
export const memoryScans = { count: 0 }

/**
 * Samples the resident memory of process groups, for every process ward on a clock. A watch is due
 * every `every` ms, on multiples of `every` of the clock's time, so watches with the same interval
 * (the default `memoryEvery` of 1 s) fall on the same ticks; each tick reads /proc once and answers
 * every watch then due. The one timer runs only while something is watched. @internal
 */
export class MemorySampler {
  readonly #clock: Clock
  readonly #watches = new Set<Watch>()
  #timer: Timer | undefined
  #timerAt = Infinity

  constructor(clock: Clock) {
    this.#clock = clock
  }

  /** Samples group `pgid` every `every` ms (the first within `every`) until the returned function is called. */
  watch(pgid: number, every: number, onSample: (rss: number) => void): () => void {
    const watch: Watch = { pgid, every, onSample, due: nextMultiple(this.#clock.now(), every) }
    this.#watches.add(watch)
    this.#arm()
    return () => {
      if (!this.#watches.delete(watch)) return
      if (this.#watches.size === 0) this.#disarm()
    }
  }

  #arm(): void {
    let at = Infinity
    for (const watch of this.#watches) if (watch.due < at) at = watch.due
    if (at === Infinity) return this.#disarm()
    if (this.#timer !== undefined && this.#timerAt === at) return
    this.#timer?.cancel()
    this.#timerAt = at
    this.#timer = this.#clock.setTimer(Math.max(0, at - this.#clock.now()), this.#tick)
  }

  #disarm(): void {
    this.#timer?.cancel()
    this.#timer = undefined
    this.#timerAt = Infinity
  }

  readonly #tick = (): void => {
    this.#timer = undefined
    this.#timerAt = Infinity
    const now = this.#clock.now()
    const due: Watch[] = []
    for (const watch of this.#watches) if (watch.due <= now) due.push(watch)
    if (due.length > 0) {
      memoryScans.count++
      const rss = groupsRss(new Set(due.map((watch) => watch.pgid)))
      for (const watch of due) {
        watch.due = nextMultiple(now, watch.every)
        // A callback may end its own watch (or another's): only those still watched hear.
        if (this.#watches.has(watch)) watch.onSample(rss.get(watch.pgid) ?? 0)
      }
    }
    this.#arm()
  }
}

/** The first multiple of `every` after `now`. */
function nextMultiple(now: number, every: number): number {
  return (Math.floor(now / every) + 1) * every
}

const samplers = new WeakMap<Clock, MemorySampler>()

/** The sampler shared by every process ward on `clock`. @internal */
export function memorySamplerFor(clock: Clock): MemorySampler {
  let sampler = samplers.get(clock)
  if (sampler === undefined) {
    sampler = new MemorySampler(clock)
    samplers.set(clock, sampler)
  }
  return sampler
}

/**
 * The figures of every live process ward's group, as `status()` shows them: the first ask after
 * `every` ms (or after a group was added) scans /proc once for all tracked groups, and every ask
 * until then — and every ask in the same synchronous turn, whatever `every` — reads that scan. So
 * building a status of N process wards, or a scrape, costs at most one scan, and a status polled
 * many times a second costs one scan a second. No timer: nothing is
 * read while nobody asks. Real time (`performance.now()`), whatever clock the runs use: /proc
 * changes in real time. @internal
 */
export class UsageSampler {
  /** The longest a figure is reused, in ms. */
  every: number
  readonly #groups = new Set<number>()
  #sample = new Map<number, GroupUsage>()
  #sampledAt = -Infinity
  /** A group was tracked since the last scan: the next ask scans. */
  #added = false
  #selfFds: number | null = null
  /** A scan was made in this synchronous turn (until the next microtask). */
  #thisTurn = false
  readonly #turnEnded = (): void => {
    this.#thisTurn = false
  }

  constructor(every: number) {
    this.every = every
  }

  /** Tracks group `pgid` (a process ward's child) until the returned function is called. */
  track(pgid: number): () => void {
    this.#groups.add(pgid)
    this.#added = true
    return () => {
      this.#groups.delete(pgid)
      this.#sample.delete(pgid)
    }
  }

  /** Group `pgid`'s figures from the latest scan (scanning first if it is due); `undefined` without /proc, untracked or with no live member. */
  usage(pgid: number): GroupUsage | undefined {
    if (!hasProc || !this.#groups.has(pgid)) return undefined
    this.#refresh()
    return this.#sample.get(pgid)
  }

  /** This process's open file descriptors (`/proc/self/fd`), from the same scan; `null` without /proc. */
  selfFds(): number | null {
    if (!hasProc) return null
    this.#refresh()
    return this.#selfFds
  }

  #refresh(): void {
    // One status() (one scrape) is one synchronous walk: it reads one scan, even at the turn of an interval.
    if (this.#thisTurn) return
    const now = performance.now()
    if (!this.#added && now - this.#sampledAt < this.every) return
    usageScans.count++
    this.#sampledAt = now
    this.#added = false
    this.#thisTurn = true
    queueMicrotask(this.#turnEnded)
    this.#sample = groupsUsage(this.#groups)
    try {
      // Less the one the read itself opens.
      this.#selfFds = readdirSync('/proc/self/fd').length - 1
    } catch {
      this.#selfFds = null
    }
  }
}

/** How many times the usage sampler scanned /proc (for tests: one scan per status, not one per ward). @internal */
export const usageScans = { count: 0 }

/**
 * The one usage sampler of this process: `status()`'s `rss`, `cpu`, `fds` and `startTime` of
 * every process ward, and the steward process's own `process_open_fds`, read from /proc at most
 * once a second (`every`: 1000 ms). @internal
 */
export const usageSampler = new UsageSampler(1000)
