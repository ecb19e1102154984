// The memory samples of every process ward with a `maxMemory` on one clock: one scan of /proc per
// tick, however many wards have a limit.
import type { Clock, Timer } from '../time/clock.js'
import { groupsRss } from './process-group.js'

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
