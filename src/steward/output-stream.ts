import {
  endsLive,
  Incarnation,
  isPullable,
  isPulling,
  isReady,
  kindOf,
  markSettled,
  setPulling,
  STREAM,
  STREAM_PART,
} from './incarnation.js'
import { Consumer, RunLifecycle } from './lifecycle.js'
import { Output } from './output.js'
import type { Outcome } from './run-api.js'
import { WAITING } from './run-states.js'

/** Its output stream was taken (a flag; the run's flags are properties and guards, its state is `state`). */
const ITERATED = 1
/** User code runs synchronously from a pump or a launch: a restart must not re-enter (see StewardRun). @internal */
export const LAUNCHING = 2

// Methods here are `private`, not `#private`: `#` methods cost each run a brand slot.

/**
 * The consumer protocol of a run: one `AsyncIterator` across incarnations.
 * A consumer's `next()` becomes a pull; the current stream incarnation's
 * iterator is pumped only while a pull is pending (backpressure), a value
 * from a retired incarnation is dropped, and an output's progress is
 * committed in the step that hands its value over. @internal
 */
export abstract class OutputStream<T> extends RunLifecycle implements AsyncIterableIterator<T> {
  abstract current: Incarnation | undefined
  abstract readonly parent: Incarnation | undefined
  abstract work(): void
  abstract rest(state: typeof WAITING): void
  abstract ready(inc: Incarnation): void
  protected abstract commit(progress: unknown): void
  protected abstract onFailure(inc: Incarnation, error: unknown): void
  protected abstract onReturn(inc: Incarnation, value: unknown): void

  /** A consumer's next() is waiting for a value. */
  protected get consumerWaits(): boolean {
    return this.links?.consumer?.resolve !== undefined
  }

  [Symbol.asyncIterator](): this {
    if ((this.flags & ITERATED) !== 0) throw new TypeError(`the output of run '${this.path}' can be iterated once`)
    this.flags |= ITERATED
    return this
  }

  next(): Promise<IteratorResult<T>> {
    const consumer = ((this.linked.consumer as Consumer<T> | undefined) ??= new Consumer<T>())
    if (consumer.resolve !== undefined) {
      return Promise.reject(new TypeError(`run '${this.path}': next() called while another next() is pending`))
    }
    if (this.end?.outcome !== undefined) return this.finalResult()
    const pulled = new Promise<IteratorResult<T>>(consumer.executor)
    const inc = this.current
    if (inc !== undefined && isPullable(inc)) this.pump(inc)
    return pulled
  }

  async return(value?: unknown): Promise<IteratorResult<T>> {
    await this.stop()
    return { done: true, value: value as T }
  }

  async throw(error?: unknown): Promise<IteratorResult<T>> {
    await this.stop(error)
    return { done: true, value: undefined }
  }

  /** Settles the consumer's pending `next()`, if any. */
  private answer(result: IteratorResult<T> | undefined, error?: unknown): void {
    const consumer = this.links?.consumer as Consumer<T> | undefined
    if (consumer === undefined) return
    const resolve = consumer.resolve
    if (resolve === undefined) return
    consumer.resolve = undefined
    resolve(result ?? Promise.reject(error))
  }

  private finalResult(): Promise<IteratorResult<T>> {
    const end = this.ended
    const outcome = end.outcome!
    if (outcome.kind === 'gave-up' && !end.errorDelivered) {
      end.errorDelivered = true
      return Promise.reject(outcome.error)
    }
    return Promise.resolve({ done: true, value: undefined })
  }

  /** The run settled: a waiting consumer gets the end (or the give-up error, once). */
  protected endStream(outcome: Outcome): void {
    if (this.links?.consumer?.resolve === undefined) return
    if (outcome.kind === 'gave-up') {
      this.ended.errorDelivered = true
      this.answer(undefined, outcome.error)
    } else {
      this.answer({ done: true, value: undefined })
    }
  }

  /** Asks a stream incarnation for its next value. */
  protected pump(inc: Incarnation): void {
    setPulling(inc, true)
    this.work()
    const part = inc[STREAM_PART]!
    let step: Promise<IteratorResult<unknown>>
    const outer = this.flags & LAUNCHING
    this.flags |= LAUNCHING
    try {
      step = part.iterator.next()
    } catch (error) {
      setPulling(inc, false)
      if (endsLive(inc)) this.onFailure(inc, error)
      return
    } finally {
      this.flags = (this.flags & ~LAUNCHING) | outer
    }
    step.then(part.onValue, part.onError)
  }

  /** A stream incarnation's next() answered. */
  protected onStep(inc: Incarnation, result: IteratorResult<unknown>): void {
    setPulling(inc, false)
    if (result.done === true) {
      if (endsLive(inc)) this.onReturn(inc, result.value)
      return
    }
    // A retired incarnation is no longer current: what it yields after its abort is dropped.
    if (this.current !== inc) return
    if (!isReady(inc)) this.ready(inc)
    this.rest(WAITING)
    const value = result.value
    if (value instanceof Output) {
      // Delivered now: commit its progress. A parent steward gets the Output itself, to commit
      // when it delivers the value in turn.
      this.commit(value.progress)
      if (this.parent === undefined) {
        this.answer({ done: false, value: (value as Output<T>).value })
        return
      }
    }
    this.answer(result as IteratorResult<T>)
  }

  /** Asks a stream incarnation's iterator to finish (runs the generator's `finally`). */
  protected close(inc: Incarnation): void {
    const part = inc[STREAM_PART]
    if (kindOf(inc) !== STREAM || part === undefined) return
    const iterator = part.iterator
    if (typeof iterator.return !== 'function') {
      if (!isPulling(inc)) markSettled(inc)
      return
    }
    let closing: Promise<unknown>
    try {
      closing = iterator.return()
    } catch {
      markSettled(inc)
      return
    }
    Promise.resolve(closing).then(
      () => markSettled(inc),
      () => markSettled(inc),
    )
  }
}
