import { exactTime, type Clock, type TimeCell, type Timer } from '../time/clock.js'
import { DeadlineHeap } from './deadline-heap.js'
import { IDLE, WORKING } from './run-states.js'
import { TICK_RING, TickLog } from './tick-log.js'

/**
 * What the watchdog needs from a supervised run. The run writes `lastBeat`
 * and `state` directly (that is the whole cost of a beat); the watchdog
 * reads them only when the run's deadline comes up.
 * @internal
 */
export interface Watched {
  /** The time stamp of the last beat (or, while IDLE, of the start of the wait), from the watchdog's cell. */
  lastBeat: number
  /** The time stamp of the last change of progress (or of the start of work). */
  progressAt: number
  /** Heartbeat timeout in ms, > 0, now (it may change while filed: a start deadline, then the steady one). */
  readonly timeout: number
  /** The shortest heartbeat timeout the run can have, fixed for its life: the coarse mode's tick is a fraction of it. */
  readonly tickTimeout: number
  /** A WORKING ward whose progress has not changed for this long is stalled. `Infinity`: never. */
  readonly progressTimeout: number
  /** An IDLE ward that has waited this long has timed out. `Infinity`: never (and it is not filed). */
  readonly idleTimeout: number
  /** The run's state (`run-states.ts`): only WORKING, and IDLE with an idle timeout, have deadlines. */
  state: number
  /** Position in the heap, -1 when not in it. */
  heapIndex: number
  /** Called (synchronously, from the watchdog's timer) when a deadline passed. */
  onHang(now: number, cause: HangCause): void
}

/** Which deadline passed: the heartbeat, the progress, or the idle wait. @internal */
export type HangCause = 'heartbeat' | 'progress' | 'idle'

/** How many ticks per timeout the coarse (system clock) check makes. */
export const TICKS_PER_TIMEOUT = 100
/**
 * Coarse mode: the most turns polled for one deadline before leaving it to the timer. On the
 * system clock a deadline under 1 ms away passes within a few hundred turns (about 1 µs each
 * when idle); a clock that stands still (a caller's fake) would otherwise keep the loop spinning.
 */
const MAX_POLLS = 5_000
/** The meta bit of a heap entry whose deadline is the true one for its stamps. */
const FINAL = 1

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
 * watched, and again in the check phase of the event loop turn the tick ran
 * in (one `setImmediate` per tick): the callbacks that ran after the tick in
 * that turn are dated by the end of the turn, not by the next tick, which a
 * busy loop delays as much as any timer. A beat stamped with refresh k
 * happened before refresh k+1, so the deadline is taken from refresh k+1:
 * never early, and late by about one timer's lateness, not two. Deadlines
 * are checked at each tick and again at its refresh. A true deadline (the
 * one a verdict is made on) less than 1 ms away is closer than Node's timers
 * can aim: they round it up to the next millisecond of the loop's own clock.
 * The watchdog polls for it in the check phase of each turn instead, so the
 * loop spins for that last millisecond, and only before a verdict.
 * @internal
 */
export class Watchdog {
  readonly cell: TimeCell
  readonly clock: Clock
  readonly #exact: boolean
  // The filed runs, keyed by the deadline each is filed under. Beside each, in the heap's typed
  // arrays (no boxed number per run): the beat and progress stamps that deadline was computed
  // from, and a meta byte holding the state it was computed for (`meta >> 1`) and whether it is
  // the true deadline for them (FINAL) or only a lower bound (coarse mode, until the tick after a
  // stamp is known). A deadline whose inputs are unchanged and final has passed for real.
  readonly #heap = new DeadlineHeap<Watched>()
  #cause: HangCause = 'heartbeat'
  #timer: Timer | undefined
  #timerAt = Infinity
  // Coarse mode: the times of past ticks, to find the tick after a stamp.
  readonly #ticks: TickLog
  readonly #timeoutCounts = new Map<number, number>()
  #tickMs = Infinity
  /** Coarse mode: a refresh is scheduled for the check phase of this turn. */
  #refreshing = false
  readonly #refresh = (): void => {
    this.#refreshing = false
    if (this.#heap.size === 0) return
    // Only a time that moved is a tick: the log's reach is counted in ticks.
    const now = this.clock.now()
    if (now <= this.cell.now) return
    this.cell.now = now
    this.#ticks.record(now)
    // A deadline that passed while the tick's turn ran is found here, not a timer's delay later.
    if (this.#heap.topKey <= now) this.#check(now)
  }

  /** Coarse mode: a check is scheduled for the check phase of this turn (a true deadline is near). */
  #polling = false
  /** Polls since the last check (a tick, its refresh, a poll that found a deadline passed), at most MAX_POLLS. */
  #polls = 0
  readonly #poll = (): void => {
    this.#polling = false
    if (this.#heap.size === 0) return
    // Not a tick: the log's reach is counted in ticks, and polls can be many.
    const now = this.clock.now()
    if (this.#heap.topKey <= now) this.#check(now)
    else this.#pollIfNear(now)
  }

  /** `ring` (tick times kept per level in coarse mode) is for tests. */
  constructor(clock: Clock, ring = TICK_RING) {
    this.clock = clock
    const cell = (clock as Partial<Record<typeof exactTime, TimeCell>>)[exactTime]
    this.#exact = cell !== undefined
    this.cell = cell ?? { now: clock.now() }
    this.#ticks = new TickLog(this.#exact ? 0 : ring)
  }

  /** How many runs are filed (working, or not yet found idle). */
  get size(): number {
    return this.#heap.size
  }

  /** Files `w` (WORKING, or IDLE with an idle timeout; its stamps set) unless it is filed already. */
  watch(w: Watched): void {
    if (w.heapIndex !== -1) return
    if (!this.#exact && this.#heap.size === 0) this.#recordTick()
    if (!this.#exact) this.#countTimeout(w.tickTimeout, 1)
    const key = this.#deadline(w, w.state, w.lastBeat, w.progressAt, false)
    this.#heap.push(w, key, w.lastBeat, w.progressAt, this.#metaOf(w.state))
    this.#arm()
  }

  /**
   * Files `w` (filed already) earlier when its deadline for its state and stamps now comes before
   * the key it is filed under: a working run that went idle with an `idleTimeout` shorter than
   * its working deadline. (A later deadline needs nothing: the entry is re-filed when its key
   * comes up.)
   */
  hasten(w: Watched): void {
    if (w.heapIndex === -1) return this.watch(w)
    const key = this.#deadline(w, w.state, w.lastBeat, w.progressAt, false)
    if (key >= this.#heap.keyOf(w)) return
    this.#heap.advance(w, key, w.lastBeat, w.progressAt, this.#metaOf(w.state))
    this.#arm()
  }

  /** The meta byte of an entry filed for `state`: exact deadlines are final at once. */
  #metaOf(state: number): number {
    return (state << 1) | (this.#exact ? FINAL : 0)
  }

  /**
   * The deadline of `w` in `state` from its stamps: their lower bounds (`upper` false), or in
   * coarse mode the latest times the stamped events can have happened (`upper` true). Sets
   * `#cause` to the deadline that comes first.
   */
  #deadline(w: Watched, state: number, beat: number, progress: number, upper: boolean, now = this.cell.now): number {
    if (upper) beat = this.#latestBeat(beat, now)
    if (state === IDLE) {
      this.#cause = 'idle'
      return beat + w.idleTimeout
    }
    const heartbeat = beat + w.timeout
    if (w.progressTimeout === Infinity) {
      this.#cause = 'heartbeat'
      return heartbeat
    }
    if (upper) progress = this.#latestBeat(progress, now)
    const stalled = progress + w.progressTimeout
    this.#cause = stalled < heartbeat ? 'progress' : 'heartbeat'
    return Math.min(heartbeat, stalled)
  }

  /** Removes `w` from the schedule at once (its run settled). */
  unwatch(w: Watched): void {
    if (w.heapIndex === -1) return
    if (!this.#exact) this.#countTimeout(w.tickTimeout, -1)
    const heap = this.#heap
    heap.remove(w)
    if (heap.size === 0) this.#disarm()
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
    this.#ticks.record(now)
  }

  /** Coarse mode: the latest time the beat stamped `stamp` can have happened. */
  #latestBeat(stamp: number, now: number): number {
    return stamp >= this.cell.now ? now : this.#ticks.after(stamp)
  }

  /** Coarse mode: polls in the next check phase when the top deadline is true and less than a millisecond after `now`. */
  #pollIfNear(now: number): void {
    const heap = this.#heap
    if (this.#polling || this.#polls >= MAX_POLLS || (heap.topMeta & FINAL) === 0 || heap.topKey - now >= 1) return
    this.#polling = true
    this.#polls++
    setImmediate(this.#poll)
  }

  /** Sets the timer for the top deadline (or, in coarse mode, the next tick if sooner); `now` is the time of the check that calls it. */
  #arm(now = this.cell.now): void {
    const heap = this.#heap
    if (heap.size === 0) return this.#disarm()
    const at = this.#exact ? heap.topKey : Math.min(heap.topKey, this.cell.now + this.#tickMs)
    // A timer would round a true deadline less than a millisecond away up to the loop's next one.
    if (!this.#exact) this.#pollIfNear(now)
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
      if (!this.#refreshing) {
        this.#refreshing = true
        setImmediate(this.#refresh)
      }
    }
    this.#check(now)
  }

  /** Reports every filed run whose deadline has passed at `now` (the cell's time, or a poll's later reading), files the others anew, and re-arms. */
  #check(now: number): void {
    this.#polls = 0
    const heap = this.#heap
    while (heap.size > 0 && heap.topKey <= now) {
      const w = heap.top
      const state = w.state
      if (state !== WORKING && (state !== IDLE || w.idleTimeout === Infinity)) {
        this.unwatch(w)
        continue
      }
      const beat = w.lastBeat
      const progress = w.progressAt
      const meta = heap.topMeta
      if (beat !== heap.topStamp || progress !== heap.topProgressStamp || state !== meta >> 1) {
        // It beat, progressed or changed state since it was filed: file it anew (lower bound).
        const key = this.#deadline(w, state, beat, progress, false)
        if (key > now) {
          heap.refileTop(key, beat, progress, this.#metaOf(state))
          continue
        }
        heap.restampTop(beat, progress, this.#metaOf(state))
      }
      if ((heap.topMeta & FINAL) === 0) {
        // Coarse: each stamped event happened before the tick after its stamp; date it there.
        const deadline = this.#deadline(w, state, beat, progress, true, now)
        if (deadline > now) {
          heap.refileTop(deadline, beat, progress, (state << 1) | FINAL)
          continue
        }
      } else {
        this.#deadline(w, state, beat, progress, !this.#exact, now)
      }
      this.unwatch(w)
      w.onHang(now, this.#cause)
    }
    this.#arm(now)
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
