/** Tick times kept per level of the coarse mode's tick log, by default. @internal */
export const TICK_RING = 4096
/** Each level of the tick log keeps every STRIDE-th tick of the level below. */
const STRIDE = 16
const LEVELS = 4

/**
 * The times of past ticks, to find the first tick after a beat's stamp (the watchdog's coarse
 * mode). Level 0 keeps the last `ring` ticks; level L keeps every 16^L-th tick, so a stamp up to
 * `ring * 16^3` ticks old is still dated by a kept tick at most 16^L ticks after its true
 * successor: never early, and late by a small fraction of any timeout whose stamps reach that far
 * back. A log with `ring` 0 keeps nothing (the exact mode needs none). @internal
 */
export class TickLog {
  readonly #levels: Float64Array[]
  readonly #counts: number[]
  readonly #ring: number
  #recorded = 0

  constructor(ring = TICK_RING) {
    this.#ring = ring
    this.#levels = Array.from({ length: ring === 0 ? 0 : LEVELS }, () => new Float64Array(ring))
    this.#counts = this.#levels.map(() => 0)
  }

  /** Records a tick at `time`, which is not before the previous tick's. */
  record(time: number): void {
    const ring = this.#ring
    let stride = 1
    for (let level = 0; level < this.#levels.length; level++, stride *= STRIDE) {
      if (this.#recorded % stride !== 0) break
      this.#levels[level]![this.#counts[level]! % ring] = time
      this.#counts[level]!++
    }
    this.#recorded++
  }

  /**
   * The first kept tick after `stamp` (strictly later), which must be older than the latest tick
   * (`Infinity` when no tick is later).
   */
  after(stamp: number): number {
    const ring = this.#ring
    // The oldest tick of a finer level that is already known to come after the stamp.
    let fallback = Infinity
    for (let level = 0; level < this.#levels.length; level++) {
      const ticks = this.#levels[level]!
      const count = this.#counts[level]!
      if (count === 0) break
      let lo = Math.max(0, count - ring)
      let hi = count - 1
      if (ticks[hi % ring]! <= stamp) break // this level's ticks are all older: the finer one decides
      if (ticks[lo % ring]! > stamp) {
        fallback = ticks[lo % ring]! // the stamp is older than this level reaches: look further back
        continue
      }
      while (hi - lo > 1) {
        const mid = (lo + hi) >>> 1
        if (ticks[mid % ring]! > stamp) hi = mid
        else lo = mid
      }
      return ticks[hi % ring]!
    }
    return fallback
  }
}
