import type { Clock } from '../time/clock.js'
import type { Output } from './output.js'
import { wardHost, type WardHost } from './host.js'

/**
 * What a ward is handed each time its steward starts it (each incarnation
 * gets its own context).
 *
 * Call its methods on the context (`ctx.beat()`); they are not bound.
 */
export interface WardContext<P = unknown> {
  /** The ward's name (the steward's `name` option). */
  readonly name: string
  /**
   * Aborts when this incarnation is retired: replaced after a failure or a
   * missed heartbeat, or the run stops. The reason is a `WardRetiredError`
   * (or the caller's reason when the caller stopped the run). Created on
   * first read, so a ward that never reads it pays nothing for it.
   */
  readonly signal: AbortSignal
  /**
   * Records a heartbeat, optionally with the progress reached. O(1): a few
   * field writes, no timer, no allocation. Progress must be a
   * structured-cloneable value; the next incarnation gets the last one as
   * {@link resume}. A beat from a retired incarnation is ignored.
   */
  beat(progress?: P): void
  /**
   * Marks the ward as waiting for its next input until `input` settles, and
   * returns `input`'s result. While it waits, the ward is healthy without
   * beating and its steward holds no timer for it. The heartbeat deadline
   * starts afresh when `input` settles. Use one wait at a time.
   *
   * Give a function to have the wait cancelled when the incarnation is
   * retired: it is called with this incarnation's signal
   * (`ctx.idle((signal) => queue.next({ signal }))`), so a ward waiting for
   * input leaves at once on a stop or a restart instead of after
   * `stopTimeout`. A plain promise that nothing cancels keeps the ward
   * waiting until it settles. Called on a retired incarnation, `idle`
   * rejects at once with the abort reason.
   */
  idle<V>(input: PromiseLike<V> | V | ((signal: AbortSignal) => PromiseLike<V> | V)): Promise<V>
  /**
   * Wraps an output of a stream ward with the progress its delivery commits
   * (`yield ctx.output(result, position + 1)`): the steward records that
   * progress when the consumer is handed `value`, so the next incarnation
   * resumes right after the last output the consumer received — nothing is
   * delivered twice, nothing is skipped. The consumer sees `value` alone.
   */
  output<T>(value: T, progress: P): Output<T, P>
  /**
   * True when this incarnation starts at a progress where `poisonAfter`
   * incarnations in a row failed (and nothing was committed since): the input
   * there is poison. Skip it with {@link deadLetter}.
   */
  readonly poisoned: boolean
  /**
   * Dead-letters the input at the current progress and commits `next`, the
   * progress after it: the steward emits a `dead-letter` event and calls the
   * `onDeadLetter` option with the input, its position and its failures.
   */
  deadLetter(input: unknown, next: P): void
  /** How often to beat, in ms (the steward's `pulseInterval`, `timeout / 2` by default). */
  readonly pulseInterval: number
  /** The heartbeat timeout, in ms. */
  readonly timeout: number
  /** This incarnation's number: 1 for the first, 2 after the first restart … */
  readonly attempt: number
  /** The last progress any earlier incarnation reported with `beat(progress)`, or `undefined`. */
  readonly resume: P | undefined
  /**
   * How many incarnations in a row failed at the progress in {@link resume}
   * (0 when the last one did not fail there). A ward can use it to skip an
   * input that keeps failing.
   */
  readonly failuresHere: number
  /** The run's clock: sleep on it so tests on a manual clock stay virtual. */
  readonly clock: Clock
  /**
   * The run this context belongs to, for steward's own integrations (nested
   * stewards, supervisors, thread and process wards): its path, its events.
   * A wrapper of a context that forwards this key keeps paths, status and
   * events intact.
   */
  readonly [wardHost]?: WardHost
}

/**
 * Long-running work supervised by a steward.
 *
 * The contract:
 * - A ward is a function of a {@link WardContext}. It returns a promise (a
 *   *promise ward*) or an async iterable of outputs (a *stream ward*,
 *   usually an `async function*`). Anything else returned synchronously is
 *   a normal return.
 * - **Working** wards must call `ctx.beat()` at least every `timeout` ms
 *   (every `ctx.pulseInterval` is the advice); one that does not is *hung*:
 *   its signal aborts and a fresh incarnation starts.
 * - **Waiting for input** (inside `ctx.idle(promise)`) and **waiting on the
 *   consumer** (a stream ward suspended at a `yield` whose value nobody has
 *   asked for yet) are healthy without beating: backpressure is not a hang.
 * - **Throwing or rejecting** is a failure, noticed at once; the steward
 *   restarts the ward (within its restart limit). Non-`Error` throws are
 *   wrapped in `NonErrorThrown`.
 * - **Returning normally** means the work is done: the run completes,
 *   unless the restart type is `permanent`. A ward that returns (or a
 *   generator that returns) `ctx.output(value, progress)` commits `progress`
 *   and completes with `value`.
 * - **A stream ward runs as its output is pulled**: its body runs up to each
 *   `yield` only when the run's consumer asks for a value, so a stream ward
 *   whose run is never iterated waits at its start (healthy, as waiting on
 *   its consumer). Iterate the run, or write a promise ward.
 * - **Stopping**: when `ctx.signal` aborts, the ward should settle soon;
 *   one that does not settle within `stopTimeout` is reported and abandoned.
 *   Outputs yielded after the abort are never delivered.
 * - A ward never outlives its steward: the run settles only after the last
 *   incarnation settled or was abandoned.
 */
export type Ward<T = unknown, P = unknown> = (ctx: WardContext<P>) => PromiseLike<unknown> | AsyncIterable<T | Output<T, P>>
