import { exactTime, sleepOn, type Clock, type TimeCell, type Timer } from './clock.js'

interface Pending {
  readonly at: number
  readonly seq: number
  callback: (() => void) | undefined
}

/** Options for {@link ManualClock.runUntil}. */
export interface RunUntilOptions {
  /**
   * Give up (throw) if the promise is still pending at this virtual time.
   * Default: no limit; the run stops when no timer is left.
   */
  readonly until?: number
}

/**
 * A {@link Clock} that moves only when told to: time is virtual, timers fire
 * in order as the clock is advanced, and every promise continuation that a
 * timer triggers runs before the clock moves on. Use it to test wards and
 * stewards as exact timelines, without real sleeps.
 *
 * @example
 * const clock = new ManualClock()
 * const run = steward(ward, { timeout: '1s' }).start({ clock })
 * await clock.advance(1_000) // the ward's deadline passes, it is restarted
 */
export class ManualClock implements Clock {
  /** @internal */
  readonly [exactTime]: TimeCell
  #timers: Pending[] = []
  #seq = 0

  /** Starts the virtual time at `start` milliseconds (default 0). */
  constructor(start = 0) {
    if (!Number.isFinite(start)) throw new RangeError(`ManualClock: start must be finite, got ${start}`)
    this[exactTime] = { now: start }
  }

  now(): number {
    return this[exactTime].now
  }

  setTimer(ms: number, callback: () => void): Timer {
    if (!(ms >= 0)) throw new RangeError(`setTimer: ms must be a non-negative number, got ${ms}`)
    const entry: Pending = { at: this.now() + ms, seq: this.#seq++, callback }
    const timers = this.#timers
    let index = timers.length
    while (index > 0 && timers[index - 1]!.at > entry.at) index--
    timers.splice(index, 0, entry)
    return {
      cancel: () => {
        if (entry.callback === undefined) return
        entry.callback = undefined
        const at = timers.indexOf(entry)
        if (at !== -1) timers.splice(at, 1)
      },
    }
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal)
  }

  /** How many timers are set and not yet fired or cancelled. */
  get pendingTimers(): number {
    return this.#timers.length
  }

  /** The virtual time of the next timer, or `undefined` when none is set. */
  get nextTimerAt(): number | undefined {
    return this.#timers[0]?.at
  }

  /**
   * Moves time forward by `ms`, firing each timer that comes due at its own
   * time and letting the promise continuations it causes run before going on.
   */
  async advance(ms: number): Promise<void> {
    if (!(ms >= 0) || !Number.isFinite(ms)) throw new RangeError(`advance: ms must be a finite non-negative number, got ${ms}`)
    await this.advanceTo(this.now() + ms)
  }

  /** Like {@link advance}, to an absolute virtual time (never backwards). */
  async advanceTo(time: number): Promise<void> {
    await settle()
    for (;;) {
      const next = this.#timers[0]
      if (next === undefined || next.at > time) break
      this.#timers.shift()
      if (next.at > this.now()) this[exactTime].now = next.at
      const callback = next.callback
      next.callback = undefined
      callback?.()
      await settle()
    }
    if (time > this.now()) this[exactTime].now = time
    await settle()
  }

  /**
   * Advances from timer to timer until `promise` settles, and returns its
   * value (or throws its error). Throws if it is still pending when no timer
   * is left (nothing could ever settle it) or at `options.until`.
   */
  async runUntil<T>(promise: Promise<T>, options: RunUntilOptions = {}): Promise<T> {
    let settled = false
    const watched = promise.then(
      (value) => {
        settled = true
        return value
      },
      (error: unknown) => {
        settled = true
        throw error
      },
    )
    watched.catch(() => {})
    await settle()
    while (!settled) {
      let next = this.nextTimerAt
      // Work queued with setImmediate (a forced turn in a crash loop) may still be on its way.
      for (let turn = 0; next === undefined && !settled && turn < 10; turn++) {
        await settle()
        next = this.nextTimerAt
      }
      if (settled) break
      if (next === undefined) {
        throw new Error(`runUntil: the promise is still pending at ${this.now()} ms and no timer is left to settle it`)
      }
      if (options.until !== undefined && next > options.until) {
        await this.advanceTo(options.until)
        if (!settled) throw new Error(`runUntil: the promise is still pending at ${options.until} ms`)
        break
      }
      await this.advanceTo(next)
    }
    return watched
  }
}

/** Lets every queued promise continuation run (one macrotask turn). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}
