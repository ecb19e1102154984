import type { Clock } from '../time/clock.js'
import { wardHost, type NestedRun, type WardHost } from './host.js'
import { Output } from './output.js'
import { sameProgress } from './progress.js'
import type { StewardRun } from './run.js'
import { IDLE, WORKING } from './run-states.js'
import type { WardContext } from './ward.js'

// The incarnation's internals are a private field (its run: read on every beat, where a private
// field is faster than a symbol-keyed one) and module symbols, so the context a ward is handed
// has no reachable member beyond the WardContext interface.
/** @internal */ export const STREAM_PART = Symbol('streamPart')
/** @internal */ export const CONTROLLER = Symbol('controller')
const BITS = Symbol('bits')
const RARE = Symbol('rare')
const RESOLVE = Symbol('resolve')
const IDLE_INPUT = Symbol('idleInput')

// Incarnation kinds (the low two bits).
/** @internal */ export const UNKNOWN = 0
/** @internal */ export const PROMISE = 1
/** @internal */ export const STREAM = 2

// Flag bits, above the two bits of the kind.
const PULLING = 4
const RETIRED = 8
const SETTLED_BIT = 16
// Why an incarnation was retired, as a code in the four bits 5-8 (an index into `retireWords`);
// WHY_OTHER says the caller's own reason is kept aside, in RareState.
const WHY_SHIFT = 5
const WHY_MASK = 15 << WHY_SHIFT
const WHY_OTHER = 15
/** It has shown it is up: a first beat, output, idle wait or dead letter. */
const READY = 1 << 9

// The commonest first: a crash loop's 'failed' is found at once by `markRetired`.
const retireWords: readonly string[] = ['', 'failed', 'completed', 'hung', 'stalled', 'idle', 'returned', 'sibling', 'the steward gave up', 'stopped', 'memory', 'manual']

/** Why an incarnation was retired: a word, or the caller's own reason. @internal */
export type RetireWhy = string | { readonly reason: unknown }

/** The run an incarnation belongs to (set by the class's static block). @internal */
export let runOf: (inc: Incarnation) => StewardRun<unknown>
/** Whether `value` is an incarnation itself (not an object that inherits from one). @internal */
export let isIncarnation: (value: unknown) => value is Incarnation
let hasRun: (inc: unknown) => boolean

/** The part of an incarnation few need. @internal */
class RareState {
  why: RetireWhy = ''
  onSettled: (() => void) | undefined = undefined
  child: NestedRun | undefined = undefined
}

/**
 * What a stream incarnation has beyond a promise one: its iterator, and what each `next()`
 * settles into, made once. A side object, so a promise ward's incarnation (idle wards are many)
 * holds one field for all three. @internal
 */
export class StreamPart {
  constructor(
    readonly iterator: AsyncIterator<unknown>,
    readonly onValue: (result: IteratorResult<unknown>) => void,
    readonly onError: (error: unknown) => void,
  ) {}
}

/**
 * One incarnation of a ward, and the context it is handed. Its string-keyed
 * members are exactly {@link WardContext}'s; the run reaches the rest through
 * the module's symbols and functions. @internal
 */
export class Incarnation implements WardContext {
  readonly attempt: number
  readonly resume: unknown
  readonly failuresHere: number
  readonly #run: StewardRun<unknown>;
  /** A stream incarnation's iterator and handlers; undefined for a promise ward. */
  [STREAM_PART]: StreamPart | undefined = undefined;
  [CONTROLLER]: AbortController | undefined = undefined;
  // The idle wait in progress: what the ward awaits settles through RESOLVE, into the input
  // (IDLE_INPUT) when it comes, or into the abort reason when the incarnation is retired first.
  [RESOLVE]: ((value: unknown) => void) | undefined = undefined;
  [IDLE_INPUT]: Promise<unknown> | undefined = undefined;
  /** What few incarnations need (retirement, nesting), made on demand. */
  [RARE]: RareState | undefined = undefined;
  // kind (2 bits), pulling, retired, settled, why, ready: one field, as a million of these may be alive.
  [BITS] = UNKNOWN

  constructor(run: StewardRun<unknown>, attempt: number, resume: unknown, failuresHere: number) {
    this.#run = run
    this.attempt = attempt
    this.resume = resume
    this.failuresHere = failuresHere
  }

  get name(): string {
    return checkedRun(this, 'name').options.name
  }

  get timeout(): number {
    return checkedRun(this, 'timeout').options.timeout
  }

  get pulseInterval(): number {
    return checkedRun(this, 'pulseInterval').options.pulseInterval
  }

  get clock(): Clock {
    return checkedRun(this, 'clock').clock
  }

  get [wardHost](): WardHost {
    return checkedRun(this, 'wardHost')
  }

  static {
    runOf = (inc) => inc.#run
    hasRun = (inc) => typeof inc === 'object' && inc !== null && #run in inc
    isIncarnation = (value): value is Incarnation => hasRun(value)
  }

  get signal(): AbortSignal {
    const inc = checked(this, 'signal')
    if (inc[CONTROLLER] === undefined) {
      inc[CONTROLLER] = new AbortController()
      if (isRetired(inc)) inc[CONTROLLER].abort(abortReason(inc))
    }
    return inc[CONTROLLER].signal
  }

  beat(progress?: unknown): void {
    let run: StewardRun<unknown>
    try {
      run = this.#run
    } catch {
      // Not called on the context itself: on a wrapper of it (`Object.create(ctx)`), or detached.
      return checked(this, 'beat').beat(progress)
    }
    if (run.current !== this) return
    run.lastBeat = run.cell.now
    if (progress !== undefined) {
      // Identity, not deep equality: beats stay O(1). A new object counts as new progress.
      if (progress !== run.progress && run.options.progressTimeout !== Infinity) run.progressAt = run.cell.now
      run.progress = progress
    }
    // One test for the rare cases: the first beat of an incarnation, a run nested in another.
    if (run.beatsAside) run.afterBeat(this, progress)
  }

  output<T>(value: T, progress: unknown): Output<T> {
    checked(this, 'output')
    if (progress === undefined) throw new TypeError('ctx.output(value, progress): progress must not be undefined (it is what the next incarnation resumes from)')
    return new Output(value, progress)
  }

  get poisoned(): boolean {
    const inc = checked(this, 'poisoned')
    const run = inc.#run
    return run.current === inc && inc.failuresHere >= run.options.poisonAfter && sameProgress(run.progress, inc.resume)
  }

  deadLetter(input: unknown, next: unknown): void {
    const inc = checked(this, 'deadLetter')
    const run = inc.#run
    if (next === undefined) throw new TypeError('ctx.deadLetter(input, next): next (the progress after the input) must not be undefined')
    if (run.current !== inc) return
    if ((inc[BITS] & READY) === 0) run.ready(inc)
    run.deadLetter(inc, input, next)
  }

  idle<V>(input: PromiseLike<V> | V | ((signal: AbortSignal) => PromiseLike<V> | V)): Promise<V> {
    return idleOn(checked(this, 'idle'), input)
  }


}

/** The run of `inc`, or a TypeError that says how to call a context method. */
function checkedRun(inc: Incarnation | undefined, member: string): StewardRun<unknown> {
  return runOf(checked(inc, member))
}

/** The incarnation `value` is, or wraps (`Object.create(ctx)`), or a TypeError that says how to call `member`. */
function checked(value: Incarnation | undefined, member: string): Incarnation {
  let inc: unknown = value
  while (typeof inc === 'object' && inc !== null && !hasRun(inc)) inc = Object.getPrototypeOf(inc)
  if (!hasRun(inc)) {
    throw new TypeError(`ctx.${member} was called detached from its context: call it as ctx.${member}${member === 'beat' || member === 'idle' || member === 'output' || member === 'deadLetter' ? '()' : ''}, on the context the ward was handed`)
  }
  return inc as Incarnation
}

/** `ctx.idle` on the incarnation itself (a module function: a private method would cost every incarnation a brand). */
function idleOn<V>(inc: Incarnation, input: PromiseLike<V> | V | ((signal: AbortSignal) => PromiseLike<V> | V)): Promise<V> {
  const run = runOf(inc)
  if (isRetired(inc)) return Promise.reject(abortReason(inc))
  // The function form: the wait itself is cancelled when this incarnation is retired.
  if (typeof input === 'function') {
    try {
      input = (input as (signal: AbortSignal) => PromiseLike<V> | V)(inc.signal)
    } catch (error) {
      return Promise.reject(error)
    }
  }
  const waiting = Promise.resolve(input)
  if (run.current !== inc || run.state !== WORKING) return waiting
  if ((inc[BITS] & READY) === 0) run.ready(inc)
  if (run.current !== inc) return waiting
  run.rest(IDLE)
  // The ward awaits a promise of ours, so a retirement can end the wait at once (cancelIdle): a
  // promise and its resolve function per wait. The deadline runs again before the ward resumes.
  const wait = new Promise<V>((resolve) => {
    inc[RESOLVE] = resolve as (value: unknown) => void
  })
  inc[IDLE_INPUT] = waiting
  // Bound per wait, not kept: a field for it would cost every incarnation, waiting or not.
  const woken = wake.bind(inc)
  void waiting.then(woken, woken)
  // A parent steward of ours follows our state directly; any other context is told of the wait.
  if (run.upstream !== undefined && run.parent === undefined) run.upstream.idle(waiting).catch(noop)
  return wait
}

function noop(): void {}

/** The input of `this` incarnation's idle wait settled: its deadline runs again, then the ward has the input's outcome. */
function wake(this: Incarnation): void {
  const resolve = this[RESOLVE]
  if (resolve === undefined) return // the wait was cancelled
  const waiting = this[IDLE_INPUT]
  this[RESOLVE] = this[IDLE_INPUT] = undefined
  const run = runOf(this)
  if (run.current === this && run.state === IDLE) run.work()
  resolve(waiting)
}

/** Ends the idle wait `inc` is in, if any: it rejects with the abort reason (made only then: errors are costly). @internal */
export function cancelIdle(inc: Incarnation): void {
  const resolve = inc[RESOLVE]
  if (resolve === undefined) return
  inc[RESOLVE] = inc[IDLE_INPUT] = undefined
  resolve(Promise.reject(abortReason(inc)))
}

/** UNKNOWN until the ward returned; then PROMISE or STREAM. @internal */
export function kindOf(inc: Incarnation): number {
  return inc[BITS] & 3
}

/** @internal */
export function setKind(inc: Incarnation, kind: number): void {
  inc[BITS] = (inc[BITS] & ~3) | kind
}

/** A stream incarnation's next() is pending. @internal */
export function isPulling(inc: Incarnation): boolean {
  return (inc[BITS] & PULLING) !== 0
}

/** @internal */
export function setPulling(inc: Incarnation, on: boolean): void {
  inc[BITS] = on ? inc[BITS] | PULLING : inc[BITS] & ~PULLING
}

/** A stream incarnation that is neither pulling nor retired: one a consumer's next() may pump. @internal */
export function isPullable(inc: Incarnation): boolean {
  return (inc[BITS] & (3 | PULLING | RETIRED)) === STREAM
}

/** Its steward is done with it: replaced, or the run ended. @internal */
export function isRetired(inc: Incarnation): boolean {
  return (inc[BITS] & RETIRED) !== 0
}

/** It has shown it is up. @internal */
export function isReady(inc: Incarnation): boolean {
  return (inc[BITS] & READY) !== 0
}

/** @internal */
export function markReady(inc: Incarnation): void {
  inc[BITS] |= READY
}

/** Its promise or iterator has settled. @internal */
export function isSettled(inc: Incarnation): boolean {
  return (inc[BITS] & SETTLED_BIT) !== 0
}

/** Retires `inc` for `why` (no abort yet: the run does that). @internal */
export function markRetired(inc: Incarnation, why: RetireWhy): void {
  // The steward's own words fit in the four bits of the code: a restart allocates nothing for them.
  let code = typeof why === 'string' ? retireWords.indexOf(why) : -1
  if (code === -1) {
    ;(inc[RARE] ??= new RareState()).why = why
    code = WHY_OTHER
  }
  inc[BITS] = (inc[BITS] & ~WHY_MASK) | (code << WHY_SHIFT) | RETIRED
}

/** Why it was retired: a word for a `WardRetiredError` made on demand, or the caller's own reason. @internal */
function retireWhy(inc: Incarnation): RetireWhy {
  const code = (inc[BITS] & WHY_MASK) >> WHY_SHIFT
  return code === WHY_OTHER ? (inc[RARE]?.why ?? '') : retireWords[code]!
}

/** The abort reason of a retired incarnation (made only when a signal needs it: errors are costly). @internal */
export function abortReason(inc: Incarnation): unknown {
  const why = retireWhy(inc)
  return typeof why === 'string' ? runOf(inc).retiredError(why) : why.reason
}

/** Called once when it settles (a retirement waiting for it). @internal */
export function onSettled(inc: Incarnation, callback: (() => void) | undefined): void {
  if (callback !== undefined || inc[RARE] !== undefined) (inc[RARE] ??= new RareState()).onSettled = callback
}

/** A run started with this context as its parent (a nested steward or supervisor). @internal */
export function childOf(inc: Incarnation | undefined): NestedRun | undefined {
  return inc?.[RARE]?.child
}

/** @internal */
export function setChild(inc: Incarnation, child: NestedRun): void {
  ;(inc[RARE] ??= new RareState()).child = child
}

/** Marks the incarnation settled once: `true` the first time, `false` if it already was (its end is handled once). @internal */
export function settleOnce(inc: Incarnation): boolean {
  if (isSettled(inc)) return false
  markSettled(inc)
  return true
}

/**
 * The incarnation ended (returned, threw, rejected, its stream finished): `true` when this end is
 * the run's to handle — its first end, and it had not been retired (a retired one's end only
 * settles it). The one guard every end goes through. @internal
 */
export function endsLive(inc: Incarnation): boolean {
  return settleOnce(inc) && !isRetired(inc)
}

/** @internal */
export function markSettled(inc: Incarnation): void {
  if (isSettled(inc)) return
  inc[BITS] |= SETTLED_BIT
  const rare = inc[RARE]
  const callback = rare?.onSettled
  if (rare !== undefined) rare.onSettled = undefined
  callback?.()
}

/** The ward's promise fulfilled, or a stream's next() answered (bound to the incarnation). @internal */
export function valued(this: Incarnation, value: unknown): void {
  runOf(this).onValue(this, value)
}

/** The ward's promise rejected, or a stream's next() threw (bound to the incarnation). @internal */
export function errored(this: Incarnation, error: unknown): void {
  setPulling(this, false)
  if (endsLive(this)) runOf(this).onError(this, error)
}
