import { Emitter, type EventListener, type RestartReason, type StewardEvent, type Subscription } from '../observe/events.js'
import type { RunState, WardStatus } from '../observe/status.js'
import { nextRestart, noRestarts, type RestartHistory } from '../policy/restart-limit.js'
import type { Clock, TimeCell, Timer } from '../time/clock.js'
import { systemClock } from '../time/clock.js'
import {
  asError,
  errorInfo,
  GaveUpError,
  WardHungError,
  WardIdleTimeoutError,
  WardRetiredError,
  WardStalledError,
  type GiveUpReason,
} from './errors.js'
import { DoNotRestart, TerminateTree } from './sentinels.js'
import type { ResolvedOptions } from './options.js'
import { sameProgress } from './progress.js'
import { Output } from './output.js'
import { IDLE, OFF, WAITING, watchdogFor, WORKING, type HangCause, type Watchdog, type Watched } from './watchdog.js'
import type { WardContext } from './ward.js'

/** How a run ended. `done` resolves with it; it never rejects. */
export type Outcome =
  | {
      /** The ward returned normally (restart type `transient` or `temporary`). */
      readonly kind: 'completed'
      /** What the ward returned (a stream ward: its generator's return value). */
      readonly value: unknown
      readonly attempts: number
      readonly restarts: number
    }
  | {
      /** `stop()` was called, the start signal aborted, or the consumer left the stream. */
      readonly kind: 'stopped'
      /** The reason given to `stop()` or the signal's reason; `undefined` when the consumer left. */
      readonly reason: unknown
      /** Paths of wards that did not settle within their stop deadline and were abandoned. */
      readonly unstopped: readonly string[]
      readonly attempts: number
      readonly restarts: number
    }
  | {
      /** The restart limit was reached, or a `temporary` ward failed. */
      readonly kind: 'gave-up'
      /** Its `cause` is the last failure. */
      readonly error: GaveUpError
      readonly attempts: number
      readonly restarts: number
    }

/** What `stop()` resolves with, once teardown is complete. */
export interface StopReport {
  /** Paths of wards that did not settle within their stop deadline and were abandoned. */
  readonly unstopped: readonly string[]
  /** Child processes (`path#pid`) of process wards that ignored their stop signal and needed SIGKILL. */
  readonly killed: readonly string[]
}

/** Options of {@link Steward.start}. */
export interface StartOptions {
  /** Aborting it stops the run, as `stop(signal.reason)` does. */
  readonly signal?: AbortSignal
  /**
   * The clock every timer of the run uses, handed to the ward as `ctx.clock`.
   * @default systemClock
   */
  readonly clock?: Clock
  /** Progress to hand the first incarnation as `ctx.resume` (from a checkpoint, say). */
  readonly resume?: unknown
  /** Receives every event of this run, from the first (`started`) on. */
  readonly onEvent?: EventListener
}

/**
 * A started steward: the handle for one supervised run.
 *
 * It is the run's output stream, one `AsyncIterable` across restarts: a
 * value is delivered once, values a retired incarnation yields after its
 * abort are dropped, and the stream ends when the run completes or stops,
 * or throws a {@link GaveUpError} when the steward gives up. It can be
 * iterated once; leaving the loop early (`break`) stops the run.
 */
export interface Run<T> extends AsyncIterableIterator<T> {
  /** The steward's name. */
  readonly name: string
  /** Settles with the {@link Outcome} after the last incarnation settled or was abandoned. Never rejects. */
  readonly done: Promise<Outcome>
  /** Subscribes to the run's events (those of nested stewards included). */
  on(listener: EventListener): Subscription
  /** A JSON-serialisable snapshot of the run and the stewards nested in it. */
  status(): WardStatus
  /**
   * Stops the run: aborts the live incarnation, waits for it to settle (up
   * to `stopTimeout`), and resolves when teardown is complete. Calling it
   * again returns the same promise; after the run settled it resolves at once.
   */
  stop(reason?: unknown): Promise<StopReport>
}

// Incarnation kinds.
const UNKNOWN = 0
const PROMISE = 1
const STREAM = 2

// Incarnation flag bits, above the two bits of its kind.
const PULLING = 4
const RETIRED = 8
const SETTLED_BIT = 16

// Why an incarnation was retired, as a code in bits 5-7 of its flags; WHY_OTHER keeps it aside.
const whys: readonly string[] = ['', 'completed', 'hung', 'failed', 'returned', 'the steward gave up', 'stopped']
const WHY_SHIFT = 5
const WHY_MASK = 7 << WHY_SHIFT
const WHY_OTHER = 7

// Run phases (the low bits of a run's flags), and its flags above them.
const RUNNING = 0
const ENDING = 1
const SETTLED = 2
const PHASE = 3
/** Its output stream was taken. */
const ITERATED = 4
/** User code is running synchronously from #launch or #pump: a restart must not re-enter. */
const LAUNCHING = 8
/** Its upstream is an incarnation of another steward's run. */
const NESTED = 16

/** Restarts in a row without a macrotask turn before one is forced, so a crash loop cannot starve I/O. */
const RESTARTS_PER_TURN = 1_000

/** What a run records once it fails or retires an incarnation. @internal */
class RestartLog {
  restarts = 0
  history: RestartHistory = noRestarts
  /** Failures in a row at `progressAtFailure`. */
  failuresHere = 0
  progressAtFailure: unknown = undefined
  lastFailure: Error | undefined = undefined
  restartsThisTurn = 0
  retiredErrors: Map<string, WardRetiredError> | undefined = undefined
  /** A restart's retirement in progress. */
  retiring: Promise<boolean> | undefined = undefined
  /** Paths of incarnations (ours and nested) abandoned after their stop deadline. */
  unstopped: string[] | undefined = undefined
  /** Child processes that needed SIGKILL (process wards, ours and nested). */
  killed: string[] | undefined = undefined
  /** The last retired incarnation, for status. */
  last: Incarnation | undefined = undefined
  launchBound: (() => void) | undefined = undefined
  /** With a backoff: when the current incarnation started, the policy's state, the pending wait. */
  startedAt = 0
  backoffState: { readonly state: unknown } | undefined = undefined
  backoffTimer: Timer | undefined = undefined
}

/** What connects a run to the outside, when anything does. @internal */
class RunLinks {
  emitter: Emitter | undefined = undefined
  signal: AbortSignal | undefined = undefined
  path: string | undefined = undefined
}

/** The output stream's side of a run: the consumer's pending next(), if any. @internal */
class Consumer<T> {
  resolve: ((result: IteratorResult<T>) => void) | undefined = undefined
  reject: ((error: unknown) => void) | undefined = undefined
  readonly executor = (resolve: (result: IteratorResult<T>) => void, reject: (error: unknown) => void): void => {
    this.resolve = resolve
    this.reject = reject
  }
}

/** How a run ends, made when it starts ending (or when `done` is first read). @internal */
class RunEnd {
  /** `run.done`, made when first asked for. */
  done: Promise<Outcome> | undefined = undefined
  resolveDone: ((outcome: Outcome) => void) | undefined = undefined
  outcome: Outcome | undefined = undefined
  errorDelivered = false
  ending: Promise<void> | undefined = undefined
  stopReport: Promise<StopReport> | undefined = undefined
}

/** Why an incarnation was retired: a word, or the caller's own reason. @internal */
type RetireWhy = string | { readonly reason: unknown }

/** A steward or supervisor run started with an incarnation as its parent. @internal */
export interface NestedRun {
  status(): WardStatus
  readonly outcome: Outcome | undefined
}

/** The part of an incarnation few need. @internal */
class RareState {
  why: RetireWhy = ''
  onSettled: (() => void) | undefined = undefined
  child: NestedRun | undefined = undefined
}

/** One incarnation of a ward, and the context it is handed. @internal */
export class Incarnation implements WardContext {
  readonly run: StewardRun<unknown>
  readonly attempt: number
  readonly resume: unknown
  readonly failuresHere: number
  iterator: AsyncIterator<unknown> | undefined = undefined
  controller: AbortController | undefined = undefined
  /** What few incarnations need (retirement, nesting), made on demand. */
  #rare: RareState | undefined = undefined
  // What the ward's promise (or a stream's next()) settles into, bound on first use
  // (a bound function needs no closure context: idle wards are many).
  onValue: ((value: unknown) => void) | undefined = undefined
  onError: ((error: unknown) => void) | undefined = undefined
  #wake: (() => void) | undefined = undefined
  // kind (2 bits), pulling, retired, settled: one field, as a million of these may be alive.
  #bits = UNKNOWN

  get #rarely(): RareState {
    return (this.#rare ??= new RareState())
  }

  /** Why it was retired: a word for a `WardRetiredError` made on demand, or the caller's own reason. */
  get retireWhy(): RetireWhy {
    const code = (this.#bits & WHY_MASK) >> WHY_SHIFT
    return code === WHY_OTHER ? (this.#rare?.why ?? '') : whys[code]!
  }

  set retireWhy(why: RetireWhy) {
    // The steward's own words fit in three bits: a restart allocates nothing for them.
    let code = typeof why === 'string' ? whys.indexOf(why) : -1
    if (code === -1) {
      this.#rarely.why = why
      code = WHY_OTHER
    }
    this.#bits = (this.#bits & ~WHY_MASK) | (code << WHY_SHIFT)
  }

  /** Called once when it settles (a retirement waiting for it). */
  get onSettled(): (() => void) | undefined {
    return this.#rare?.onSettled
  }

  set onSettled(callback: (() => void) | undefined) {
    if (callback !== undefined || this.#rare !== undefined) this.#rarely.onSettled = callback
  }

  /** A steward started with this context as its parent (a nested steward). */
  get child(): NestedRun | undefined {
    return this.#rare?.child
  }

  set child(run: NestedRun | undefined) {
    this.#rarely.child = run
  }

  /** UNKNOWN until the ward returned; then PROMISE or STREAM. */
  get kind(): number {
    return this.#bits & 3
  }

  set kind(kind: number) {
    this.#bits = (this.#bits & ~3) | kind
  }

  /** A stream incarnation's next() is pending. */
  get pulling(): boolean {
    return (this.#bits & PULLING) !== 0
  }

  set pulling(on: boolean) {
    this.#bits = on ? this.#bits | PULLING : this.#bits & ~PULLING
  }

  /** Its steward is done with it: replaced, or the run ended. */
  get retired(): boolean {
    return (this.#bits & RETIRED) !== 0
  }

  set retired(on: boolean) {
    this.#bits = on ? this.#bits | RETIRED : this.#bits & ~RETIRED
  }

  /** Its promise or iterator has settled. */
  get settled(): boolean {
    return (this.#bits & SETTLED_BIT) !== 0
  }

  constructor(run: StewardRun<unknown>, attempt: number, resume: unknown, failuresHere: number) {
    this.run = run
    this.attempt = attempt
    this.resume = resume
    this.failuresHere = failuresHere
  }

  get name(): string {
    return this.run.options.name
  }

  get timeout(): number {
    return this.run.options.timeout
  }

  get pulseInterval(): number {
    return this.run.options.pulseInterval
  }

  get clock(): Clock {
    return this.run.clock
  }

  get signal(): AbortSignal {
    if (this.controller === undefined) {
      this.controller = new AbortController()
      if (this.retired) this.controller.abort(this.abortReason())
    }
    return this.controller.signal
  }

  beat(progress?: unknown): void {
    const run = this.run
    if (run.current !== this) return
    run.lastBeat = run.cell.now
    if (progress !== undefined) {
      // Identity, not deep equality: beats stay O(1). A new object counts as new progress.
      if (progress !== run.progress && run.options.progressTimeout !== Infinity) run.progressAt = run.cell.now
      run.progress = progress
    }
    if (run.upstream !== undefined) run.upstream.beat(progress)
  }

  output<T>(value: T, progress: unknown): Output<T> {
    if (progress === undefined) throw new TypeError('ctx.output: progress must not be undefined')
    return new Output(value, progress)
  }

  get poisoned(): boolean {
    const run = this.run
    return (
      run.current === this &&
      this.failuresHere >= run.options.poisonAfter &&
      sameProgress(run.progress, this.resume)
    )
  }

  deadLetter(input: unknown, next: unknown): void {
    if (next === undefined) throw new TypeError('ctx.deadLetter: next (the progress after the input) must not be undefined')
    if (this.run.current !== this) return
    this.run.deadLetter(this, input, next)
  }

  idle<V>(input: PromiseLike<V> | V): Promise<V> {
    const run = this.run
    const waiting = Promise.resolve(input)
    if (run.current !== this || run.state !== WORKING) return waiting
    run.rest(IDLE)
    this.#wake ??= this.wake.bind(this)
    // Registered before the ward awaits `waiting`, so the deadline is running again when it resumes.
    void waiting.then(this.#wake, this.#wake)
    // A parent steward of ours follows our state directly; any other context is told of the wait.
    if (run.upstream !== undefined && run.parent === undefined) run.upstream.idle(waiting).catch(noop)
    return waiting
  }

  /** An idle wait of this incarnation ended: its deadline runs again. */
  wake(): void {
    const run = this.run
    if (run.current === this && run.state === IDLE) run.work()
  }

  /** The ward's promise fulfilled, or a stream's next() answered. */
  valued(value: unknown): void {
    this.run.onValue(this, value)
  }

  /** The ward's promise rejected, or a stream's next() threw. */
  errored(error: unknown): void {
    this.pulling = false
    if (this.claim() && !this.retired) this.run.onError(this, error)
  }

  /** The abort reason of a retired incarnation (made only when a signal needs it: errors are costly). */
  abortReason(): unknown {
    const why = this.retireWhy
    return typeof why === 'string' ? this.run.retiredError(why) : why.reason
  }

  /** Marks the incarnation settled; `false` if it already was (its end is handled once). */
  claim(): boolean {
    if (this.settled) return false
    this.markSettled()
    return true
  }

  markSettled(): void {
    if (this.settled) return
    this.#bits |= SETTLED_BIT
    const callback = this.onSettled
    this.onSettled = undefined
    callback?.()
  }
}

/** The run of a steward (top level or nested). @internal */
export class StewardRun<T> implements Run<T>, Watched {
  readonly options: ResolvedOptions
  readonly watchdog: Watchdog
  /** The parent incarnation's context when this steward is itself a ward. */
  readonly upstream: WardContext | undefined

  // Watched (the watchdog reads these).
  lastBeat = 0
  progressAt = 0
  state = OFF
  heapIndex = -1

  current: Incarnation | undefined = undefined
  progress: unknown

  // Phase (2 bits) and the ITERATED and LAUNCHING flags.
  #bits = RUNNING
  #attempts = 0
  // Made at the first failure or retirement, and at the end: a healthy idle run holds neither.
  #log: RestartLog | undefined = undefined
  #end: RunEnd | undefined = undefined
  /** Listeners, the start signal and a nested run's path, made when it has any. */
  #links: RunLinks | undefined = undefined
  /** The output stream's state, made at the first next(). */
  #consumer: Consumer<T> | undefined = undefined

  constructor(options: ResolvedOptions, start: StartOptions, upstream: WardContext | undefined) {
    this.options = options
    this.upstream = upstream
    this.watchdog = watchdogFor(start.clock ?? systemClock)
    this.progress = start.resume
    if (upstream instanceof Incarnation) {
      this.#bits |= NESTED
      this.#linked.path = `${upstream.run.path}/${options.name}`
      upstream.child = this
      const parent = upstream.run
      this.on((event) => parent.emit(event))
    }
    if (options.onEvent !== undefined) this.on(options.onEvent)
    if (start.onEvent !== undefined) this.on(start.onEvent)
    if (start.signal !== undefined) {
      this.#linked.signal = start.signal
      if (start.signal.aborted) {
        queueMicrotask(() => void this.stop(start.signal?.reason))
        return
      }
      // The run is the listener (its handleEvent), so the link costs no closure.
      start.signal.addEventListener('abort', this, { once: true })
    }
    queueMicrotask(() => this.#launch())
  }

  get name(): string {
    return this.options.name
  }

  get clock(): Clock {
    return this.watchdog.clock
  }

  /** Names from the top-level steward down to this one, joined by `/`. */
  get path(): string {
    return this.#links?.path ?? this.options.name
  }

  get #linked(): RunLinks {
    return (this.#links ??= new RunLinks())
  }

  /** `upstream` when it is an incarnation of another steward's run, whose state then follows ours. */
  get parent(): Incarnation | undefined {
    return (this.#bits & NESTED) !== 0 ? (this.upstream as Incarnation) : undefined
  }

  /** The heartbeat timeout (the watchdog reads it). */
  get timeout(): number {
    return this.options.timeout
  }

  get progressTimeout(): number {
    return this.options.progressTimeout
  }

  get idleTimeout(): number {
    return this.options.idleTimeout
  }

  /** The field beats copy their time from. */
  get cell(): TimeCell {
    return this.watchdog.cell
  }

  get #logged(): RestartLog {
    return (this.#log ??= new RestartLog())
  }

  get #ended(): RunEnd {
    return (this.#end ??= new RunEnd())
  }

  get done(): Promise<Outcome> {
    const end = this.#ended
    if (end.done === undefined) {
      const outcome = end.outcome
      end.done =
        outcome !== undefined
          ? Promise.resolve(outcome)
          : new Promise<Outcome>((resolve) => {
              end.resolveDone = resolve
            })
    }
    return end.done
  }

  /** A process ward of this run (or nested in it) had to SIGKILL its child. */
  noteKilled(what: string): void {
    ;(this.#logged.killed ??= []).push(what)
    if (this.parent !== undefined) this.parent.run.noteKilled(what)
  }

  /** The outcome, once settled. */
  get outcome(): Outcome | undefined {
    return this.#end?.outcome
  }

  /** Whether anyone listens: events are built only then. */
  get #listened(): boolean {
    const emitter = this.#links?.emitter
    return emitter !== undefined && emitter.active
  }

  // ---- events and status -------------------------------------------------

  on(listener: EventListener): Subscription {
    return (this.#linked.emitter ??= new Emitter()).on(listener)
  }

  emit(event: StewardEvent): void {
    this.#links?.emitter?.emit(event)
  }

  #base(attempt: number): { ward: string; path: string; at: number; attempt: number } {
    return { ward: this.options.name, path: this.path, at: this.clock.now(), attempt }
  }

  status(): WardStatus {
    const child = (this.current ?? this.#log?.last)?.child
    return {
      name: this.options.name,
      path: this.path,
      kind: 'steward',
      state: this.#stateName(),
      attempt: this.#attempts,
      restarts: this.#log?.restarts ?? 0,
      lastBeatAgo: (this.#bits & PHASE) === RUNNING && this.state === WORKING ? Math.max(0, this.clock.now() - this.lastBeat) : null,
      progress: this.progress,
      failuresHere: this.#log?.failuresHere ?? 0,
      lastFailure: this.#log?.lastFailure === undefined ? null : errorInfo(this.#log.lastFailure),
      children: child === undefined ? [] : [child.status()],
    }
  }

  #stateName(): RunState {
    const outcome = this.#end?.outcome
    if (outcome !== undefined) return outcome.kind
    if ((this.#bits & PHASE) === ENDING) return 'stopping'
    if (this.current === undefined) return this.#attempts > 0 ? 'restarting' : 'starting'
    if (this.state === IDLE) return 'idle'
    if (this.state === WAITING) return 'waiting'
    return 'working'
  }

  // ---- the output stream -------------------------------------------------

  [Symbol.asyncIterator](): this {
    if ((this.#bits & ITERATED) !== 0) throw new TypeError(`the output of run '${this.path}' can be iterated once`)
    this.#bits |= ITERATED
    return this
  }

  next(): Promise<IteratorResult<T>> {
    const consumer = (this.#consumer ??= new Consumer())
    if (consumer.resolve !== undefined) {
      return Promise.reject(new TypeError(`run '${this.path}': next() called while another next() is pending`))
    }
    if (this.#end?.outcome !== undefined) return this.#finalResult()
    const pulled = new Promise<IteratorResult<T>>(consumer.executor)
    const inc = this.current
    if (inc !== undefined && inc.kind === STREAM && !inc.pulling && !inc.retired) this.#pump(inc)
    return pulled
  }

  /** Settles the consumer's pending `next()`, if any. */
  #answer(result: IteratorResult<T> | undefined, error?: unknown): void {
    const consumer = this.#consumer
    if (consumer === undefined) return
    const resolve = consumer.resolve
    const reject = consumer.reject
    if (resolve === undefined || reject === undefined) return
    consumer.resolve = undefined
    consumer.reject = undefined
    if (result === undefined) reject(error)
    else resolve(result)
  }

  async return(value?: unknown): Promise<IteratorResult<T>> {
    await this.stop()
    return { done: true, value: value as T }
  }

  async throw(error?: unknown): Promise<IteratorResult<T>> {
    await this.stop(error)
    return { done: true, value: undefined }
  }

  #finalResult(): Promise<IteratorResult<T>> {
    const outcome = this.#ended.outcome!
    if (outcome.kind === 'gave-up' && !this.#ended.errorDelivered) {
      this.#ended.errorDelivered = true
      return Promise.reject(outcome.error)
    }
    return Promise.resolve({ done: true, value: undefined })
  }

  #pump(inc: Incarnation): void {
    inc.pulling = true
    this.work()
    let step: Promise<IteratorResult<unknown>>
    const outer = this.#bits & LAUNCHING
    this.#bits |= LAUNCHING
    try {
      step = inc.iterator!.next()
    } catch (error) {
      inc.pulling = false
      if (inc.claim() && !inc.retired) this.#onFailure(inc, error)
      return
    } finally {
      this.#bits = (this.#bits & ~LAUNCHING) | outer
    }
    step.then((inc.onValue ??= inc.valued.bind(inc)), (inc.onError ??= inc.errored.bind(inc)))
  }

  /** Records progress the consumer now has (an output's, or a dead letter's next). */
  #commit(progress: unknown): void {
    if (progress !== this.progress && this.options.progressTimeout !== Infinity) this.progressAt = this.cell.now
    this.progress = progress
    if (this.upstream !== undefined && this.parent === undefined) this.upstream.beat(progress)
  }

  /** From `ctx.deadLetter`: report the input at the current progress and move past it. */
  deadLetter(inc: Incarnation, input: unknown, next: unknown): void {
    const error = this.#log?.lastFailure
    const letter = {
      ward: this.options.name,
      path: this.path,
      position: this.progress,
      input,
      failures: inc.failuresHere,
      error: error === undefined ? null : errorInfo(error),
    }
    this.#commit(next)
    if (this.parent !== undefined) this.parent.beat(next)
    if (this.#listened) this.emit({ type: 'dead-letter', ...this.#base(inc.attempt), ...letter })
    const hook = this.options.onDeadLetter
    if (hook !== undefined) {
      try {
        hook(letter)
      } catch (hookError) {
        process.emitWarning(`steward: onDeadLetter threw: ${String(hookError)}`, 'StewardWarning')
      }
    }
  }

  /** From an incarnation: its promise fulfilled, or its stream's next() answered. */
  onValue(inc: Incarnation, value: unknown): void {
    if (inc.kind === STREAM) this.#onStep(inc, value as IteratorResult<unknown>)
    else if (inc.claim() && !inc.retired) this.#onReturn(inc, value)
  }

  /** From an incarnation that has not been retired: it threw or rejected. */
  onError(inc: Incarnation, error: unknown): void {
    this.#onFailure(inc, error)
  }

  #onStep(inc: Incarnation, result: IteratorResult<unknown>): void {
    inc.pulling = false
    if (result.done === true) {
      if (inc.claim() && !inc.retired) this.#onReturn(inc, result.value)
      return
    }
    if (inc.retired) return
    this.rest(WAITING)
    const value = result.value
    if (value instanceof Output) {
      // Delivered now: commit its progress. A parent steward gets the Output itself, to commit
      // when it delivers the value in turn.
      this.#commit(value.progress)
      if (this.parent === undefined) {
        this.#answer({ done: false, value: (value as Output<T>).value })
        return
      }
    }
    this.#answer(result as IteratorResult<T>)
  }

  // ---- incarnations ------------------------------------------------------

  /**
   * The abort reason for incarnations retired for `why`, made once per run: a crash loop that
   * reads its signal would otherwise spend more on errors than on restarting. No stack: where the
   * steward retired a ward says nothing.
   */
  retiredError(why: string): WardRetiredError {
    this.#logged.retiredErrors ??= new Map()
    let error = this.#logged.retiredErrors.get(why)
    if (error === undefined) {
      const limit = Error.stackTraceLimit
      Error.stackTraceLimit = 0
      error = new WardRetiredError(this.options.name, why)
      Error.stackTraceLimit = limit
      this.#logged.retiredErrors.set(why, error)
    }
    return error
  }

  /** The ward starts (or resumes) working: its heartbeat deadline runs from now. */
  work(): void {
    this.state = WORKING
    const now = this.cell.now
    this.lastBeat = now
    // Only a run with a progress timeout writes the time here (a double would cost a box).
    if (this.options.progressTimeout !== Infinity) this.progressAt = now
    if (this.heapIndex === -1) this.watchdog.watch(this)
    if (this.parent !== undefined) this.parent.run.follow(this.parent, WORKING)
  }

  /** The ward waits, healthy without beating: for input (IDLE) or for its consumer (WAITING). */
  rest(state: typeof IDLE | typeof WAITING): void {
    this.state = state
    if (state === IDLE && this.options.idleTimeout !== Infinity) {
      // The idle wait is watched too: its start is the stamp.
      this.lastBeat = this.cell.now
      if (this.heapIndex === -1) this.watchdog.watch(this)
    }
    if (this.parent !== undefined) this.parent.run.follow(this.parent, state)
  }

  /** A nested steward (the ward of `inc`) changed state: this run's state follows it. */
  follow(inc: Incarnation, state: number): void {
    if (this.current !== inc || this.state === state) return
    if (state === WORKING) this.work()
    else this.rest(state as typeof IDLE | typeof WAITING)
  }

  #launch(): void {
    if ((this.#bits & PHASE) !== RUNNING) return
    // While user code runs synchronously from here, a restart must not re-enter (see #launchSoon).
    const outer = this.#bits & LAUNCHING
    this.#bits |= LAUNCHING
    try {
      this.#launchNow()
    } finally {
      this.#bits = (this.#bits & ~LAUNCHING) | outer
    }
  }

  #launchNow(): void {
    const inc = new Incarnation(this as StewardRun<unknown>, ++this.#attempts, this.progress, this.#log?.failuresHere ?? 0)
    if (this.options.backoff !== undefined) this.#logged.startedAt = this.clock.now()
    this.current = inc
    this.work()
    if (this.#listened) this.emit({ type: 'started', ...this.#base(inc.attempt), resume: inc.resume })
    let result: unknown
    try {
      result = this.options.ward(inc)
    } catch (error) {
      if (inc.claim() && !inc.retired) this.#onFailure(inc, error)
      return
    }
    if (isThenable(result)) {
      inc.kind = PROMISE
      result.then(inc.valued.bind(inc), inc.errored.bind(inc))
    } else if (isAsyncIterable(result)) {
      inc.kind = STREAM
      try {
        inc.iterator = result[Symbol.asyncIterator]()
      } catch (error) {
        if (inc.claim() && !inc.retired) this.#onFailure(inc, error)
        return
      }
      if (result instanceof StewardRun) this.#followChild(inc, result as StewardRun<unknown>)
      if (inc.retired) this.#close(inc)
      else if (this.#consumer?.resolve !== undefined) this.#pump(inc)
      else if (this.current === inc) this.rest(WAITING)
    } else {
      if (inc.claim() && !inc.retired) this.#onReturn(inc, result)
    }
  }

  /**
   * A nested steward ends on its own (completes or gives up) even when
   * nobody pulls its output: its outcome ends this incarnation.
   */
  #followChild(inc: Incarnation, child: StewardRun<unknown>): void {
    void child.done.then((outcome) => {
      if (!inc.claim() || inc.retired) return
      if (outcome.kind === 'gave-up') this.#onFailure(inc, outcome.error)
      else this.#onReturn(inc, outcome.kind === 'completed' ? outcome.value : undefined)
    })
  }

  /** From the watchdog: the working incarnation missed its deadline. */
  onHang(_now: number, cause: HangCause): void {
    const inc = this.current
    if (inc === undefined || (this.#bits & PHASE) !== RUNNING) return
    const name = this.options.name
    if (cause === 'heartbeat') {
      if (this.#listened) this.emit({ type: 'hung', ...this.#base(inc.attempt), timeout: this.timeout })
      this.#failed(inc, new WardHungError(name, this.timeout), 'hung')
    } else if (cause === 'progress') {
      const progressTimeout = this.options.progressTimeout
      if (this.#listened) this.emit({ type: 'stalled', ...this.#base(inc.attempt), progressTimeout, progress: this.progress })
      this.#failed(inc, new WardStalledError(name, progressTimeout), 'stalled')
    } else {
      const idleTimeout = this.options.idleTimeout
      if (this.#listened) this.emit({ type: 'idle-timeout', ...this.#base(inc.attempt), idleTimeout })
      this.#failed(inc, new WardIdleTimeoutError(name, idleTimeout), 'idle')
    }
  }

  #onFailure(inc: Incarnation, thrown: unknown): void {
    if ((this.#bits & PHASE) !== RUNNING) return
    if (thrown instanceof DoNotRestart || thrown instanceof TerminateTree) return void this.stop(thrown)
    const error = asError(thrown)
    if (this.#listened) this.emit({ type: 'failed', ...this.#base(inc.attempt), error: errorInfo(error) })
    this.#failed(inc, error, 'failed')
  }

  #failed(inc: Incarnation, error: Error, reason: RestartReason): void {
    const log = this.#logged
    log.lastFailure = error
    if (log.failuresHere > 0 && sameProgress(this.progress, log.progressAtFailure)) log.failuresHere++
    else log.failuresHere = 1
    log.progressAtFailure = this.progress
    if (this.options.restart === 'temporary') return this.#giveUp(inc, error, 'temporary')
    this.#restartOrGiveUp(inc, error, reason)
  }

  #onReturn(inc: Incarnation, value: unknown): void {
    if ((this.#bits & PHASE) !== RUNNING) return
    if (value instanceof DoNotRestart || value instanceof TerminateTree) return void this.stop(value)
    // A nested steward that ended because its tree is terminating: so does this one.
    const childEnd = inc.child?.outcome
    if (childEnd?.kind === 'stopped' && childEnd.reason instanceof TerminateTree) return void this.stop(childEnd.reason)
    if (this.options.restart !== 'permanent') {
      void this.#retire(inc, 'completed')
      this.#settle({ kind: 'completed', value, attempts: this.#attempts, restarts: this.#log?.restarts ?? 0 })
      return
    }
    if (this.#log !== undefined) this.#log.failuresHere = 0
    const error = this.#log?.lastFailure ?? new Error(`ward '${this.options.name}' returned and its restart type is 'permanent'`)
    this.#restartOrGiveUp(inc, error, 'returned')
  }

  #restartOrGiveUp(inc: Incarnation, error: Error, reason: RestartReason): void {
    const decision = nextRestart(this.options, this.#logged.history, this.options.maxRestarts === Infinity ? 0 : this.clock.now())
    this.#logged.history = decision.history
    if (!decision.allowed) return this.#giveUp(inc, error, 'limit')
    const log = this.#logged
    log.restarts++
    let delay = 0
    const backoff = this.options.backoff
    if (backoff !== undefined) {
      const uptime = this.clock.now() - log.startedAt
      const step = backoff.next(log.backoffState === undefined ? backoff.initial : log.backoffState.state, {
        restart: log.restarts,
        uptime,
      })
      log.backoffState = { state: step.state }
      delay = Math.max(0, step.delay)
    }
    if (this.#listened) {
      this.emit({ type: 'restarting', ...this.#base(inc.attempt), reason, restarts: log.restarts, delay })
    }
    this.upstream?.beat()
    const retiring = this.#retire(inc, reason)
    if (retiring === true && delay === 0) return this.#launchSoon()
    const next = (): void => {
      if (delay === 0) return this.#launch()
      // The wait is a timer on the run's clock; stop() cancels it and ends the run at once.
      log.backoffTimer = this.clock.setTimer(delay, () => {
        log.backoffTimer = undefined
        this.#launch()
      })
    }
    if (retiring === true) return next()
    log.retiring = retiring
    void retiring.then(() => {
      if (log.retiring === retiring) log.retiring = undefined
      if ((this.#bits & PHASE) === RUNNING) next()
    })
  }

  /** Starts the next incarnation after a microtask, yielding a macrotask turn now and then. */
  /**
   * Starts the next incarnation of an already settled one: at once when called from a promise
   * reaction, after a microtask when inside `#launch` (a synchronous throw, which would recurse),
   * and after a macrotask turn every RESTARTS_PER_TURN restarts, so a crash loop cannot starve I/O.
   */
  #launchSoon(): void {
    if (++this.#logged.restartsThisTurn >= RESTARTS_PER_TURN) {
      this.#logged.restartsThisTurn = 0
      setImmediate((this.#logged.launchBound ??= () => this.#launch()))
    } else if ((this.#bits & LAUNCHING) !== 0) {
      queueMicrotask((this.#logged.launchBound ??= () => this.#launch()))
    } else {
      this.#launch()
    }
  }


  #giveUp(inc: Incarnation, cause: Error, reason: GiveUpReason): void {
    const error = new GaveUpError(this.options.name, this.#logged.restarts, reason, cause)
    this.#finish(inc, 'the steward gave up', () => {
      if (this.#listened) {
        this.emit({ type: 'gave-up', ...this.#base(inc.attempt), restarts: this.#logged.restarts, error: errorInfo(cause) })
      }
      return { kind: 'gave-up', error, attempts: this.#attempts, restarts: this.#log?.restarts ?? 0 }
    })
  }

  /** The start signal aborted. */
  handleEvent(): void {
    void this.stop(this.#links?.signal?.reason)
  }

  stop(reason?: unknown): Promise<StopReport> {
    if (this.#ended.ending === undefined) {
      if (this.#end?.outcome !== undefined) return (this.#ended.stopReport ??= Promise.resolve({ unstopped: [], killed: [] }))
      this.#finish(this.current, reason === undefined ? 'stopped' : { reason }, () => {
        const unstopped = [...(this.#logged.unstopped ?? [])]
        if (this.#listened) this.emit({ type: 'stopped', ...this.#base(this.#attempts), unstopped })
        return { kind: 'stopped', reason, unstopped, attempts: this.#attempts, restarts: this.#log?.restarts ?? 0 }
      })
    }
    const end = this.#ended
    end.stopReport ??= end.ending!.then(() => ({
      unstopped: end.outcome?.kind === 'stopped' ? end.outcome.unstopped : [],
      killed: [...(this.#log?.killed ?? [])],
    }))
    return end.stopReport
  }

  /** Retires `inc` (if any), waits for a restart retirement in progress, then settles. */
  #finish(inc: Incarnation | undefined, why: RetireWhy, outcome: () => Outcome): void {
    this.#bits = (this.#bits & ~PHASE) | ENDING
    const log = this.#log
    if (log?.backoffTimer !== undefined) {
      log.backoffTimer.cancel()
      log.backoffTimer = undefined
    }
    const retiring = inc === undefined || inc.retired ? true : this.#retire(inc, why)
    const pending = this.#logged.retiring
    this.#ended.ending = (async () => {
      if (pending !== undefined) await pending
      if (retiring !== true) await retiring
      this.#settle(outcome())
    })()
  }

  /**
   * Aborts `inc` (with `why` as the abort reason) and closes it. Returns `true` when it has settled already,
   * or a promise of whether it settled within `stopTimeout`.
   */
  #retire(inc: Incarnation, why: RetireWhy): true | Promise<boolean> {
    inc.retired = true
    inc.retireWhy = why
    if (this.current === inc) {
      this.#logged.last = inc
      this.current = undefined
      // Left in the watchdog's heap: the next incarnation is usually filed at once, and an
      // entry that is not working when its deadline comes up is dropped then.
      this.state = OFF
    }
    if (inc.controller !== undefined) inc.controller.abort(inc.abortReason())
    if (inc.settled) return true
    this.#close(inc)
    if (inc.settled) return true
    return new Promise<boolean>((resolve) => {
      const timer: Timer = this.clock.setTimer(this.options.stopTimeout, () => {
        inc.onSettled = undefined
        ;(this.#logged.unstopped ??= []).push(this.path)
        if (this.#listened) {
          this.emit({ type: 'unstopped', ...this.#base(inc.attempt), stopTimeout: this.options.stopTimeout })
        }
        resolve(false)
      })
      inc.onSettled = () => {
        timer.cancel()
        resolve(true)
      }
    })
  }

  /** Asks a stream incarnation's iterator to finish (runs the generator's `finally`). */
  #close(inc: Incarnation): void {
    if (inc.kind !== STREAM || inc.iterator === undefined) return
    const iterator = inc.iterator
    if (typeof iterator.return !== 'function') {
      if (!inc.pulling) inc.markSettled()
      return
    }
    let closing: Promise<unknown>
    try {
      closing = iterator.return()
    } catch {
      inc.markSettled()
      return
    }
    Promise.resolve(closing).then(
      () => inc.markSettled(),
      () => inc.markSettled(),
    )
  }

  #settle(outcome: Outcome): void {
    if (this.#end?.outcome !== undefined) return
    this.#bits = (this.#bits & ~PHASE) | SETTLED
    this.#ended.outcome = outcome
    if (this.current !== undefined) {
      this.#logged.last = this.current
      this.current = undefined
    }
    this.state = OFF
    this.watchdog.unwatch(this)
    this.#links?.signal?.removeEventListener('abort', this)
    if (this.upstream instanceof Incarnation && outcome.kind === 'stopped') {
      if (outcome.unstopped.length > 0) (this.upstream.run.#logged.unstopped ??= []).push(...outcome.unstopped)
    }
    if (outcome.kind === 'completed' && this.#listened) {
      this.emit({ type: 'completed', ...this.#base(this.#attempts) })
    }
    // `stopped` and `gave-up` were emitted by the outcome builders, in order.
    if (this.#consumer?.resolve !== undefined) {
      if (outcome.kind === 'gave-up') {
        this.#ended.errorDelivered = true
        this.#answer(undefined, outcome.error)
      } else {
        this.#answer({ done: true, value: undefined })
      }
    }
    this.#links?.emitter?.clear()
    this.#end?.resolveDone?.(outcome)
  }
}

function noop(): void {}

function isThenable(value: unknown): value is PromiseLike<unknown> {
  return (
    (typeof value === 'object' || typeof value === 'function') &&
    value !== null &&
    typeof (value as { then?: unknown }).then === 'function'
  )
}

function isAsyncIterable(value: unknown): value is AsyncIterable<unknown> {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as { [Symbol.asyncIterator]?: unknown })[Symbol.asyncIterator] === 'function'
  )
}
