import type { EventListener, StewardEvent, StewardEventType, Subscription } from '../observe/events.js'
import type { WardStatus } from '../observe/status.js'
import type { Clock } from '../time/clock.js'
import type { GaveUpError } from './errors.js'

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
export interface StartOptions<P = unknown> {
  /** Aborting it stops the run, as `stop(signal.reason)` does. */
  readonly signal?: AbortSignal
  /**
   * The clock every timer of the run uses, handed to the ward as `ctx.clock`.
   * @default systemClock
   */
  readonly clock?: Clock
  /** Progress to hand the first incarnation as `ctx.resume` (from a checkpoint, say). */
  readonly resume?: P | undefined
  /**
   * Failures already counted at `resume` (from a checkpoint written elsewhere): the first
   * incarnation sees them as `ctx.failuresHere`, and `poisonAfter` counts on from them. Default 0.
   */
  readonly failuresHere?: number
  /** Receives every event of this run, from the first (`started`) on. */
  readonly onEvent?: EventListener
}

/** The event of type `K`. */
export type EventOf<K extends StewardEventType> = Extract<StewardEvent, { readonly type: K }>

/**
 * What steward runs and supervisor runs have in common: a name and path,
 * events, a status snapshot, an outcome, and a stop that is awaited.
 * `await using run = …` stops the run when the scope ends.
 */
export interface Lifecycle extends AsyncDisposable {
  /** The steward's or supervisor's name. */
  readonly name: string
  /** Settles with the {@link Outcome} after the last incarnation settled or was abandoned. Never rejects. */
  readonly done: Promise<Outcome>
  /** Subscribes to every event of the run (those of nested runs included). */
  on(listener: EventListener): Subscription
  /** Subscribes to the events of one type. */
  on<K extends StewardEventType>(type: K, listener: (event: EventOf<K>) => void): Subscription
  /**
   * The next event of `type`. Rejects with the run's outcome as an `Error`'s
   * `cause` if the run settles first, and with `signal.reason` if `signal`
   * aborts first; its listener is removed either way.
   */
  once<K extends StewardEventType>(type: K, options?: { readonly signal?: AbortSignal }): Promise<EventOf<K>>
  /** A JSON-serialisable snapshot of the run and the runs nested in it. */
  status(): WardStatus
  /**
   * Stops the run and resolves when teardown is complete, with a report of
   * what did not stop in time. Calling it again returns the same promise;
   * after the run settled it resolves at once.
   */
  stop(reason?: unknown): Promise<StopReport>
}

/**
 * A started steward: the handle for one supervised run.
 *
 * It is the run's output stream, one `AsyncIterable` across restarts: a
 * value is delivered once, values a retired incarnation yields after its
 * abort are dropped, and the stream ends when the run completes or stops,
 * or throws a {@link GaveUpError} when the steward gives up. It can be
 * iterated once; leaving the loop early (`break`) stops the run.
 * `P` is the type of the ward's progress.
 */
export interface Run<T, P = unknown> extends AsyncIterableIterator<T>, Lifecycle {
  /**
   * Stops the run: aborts the live incarnation, waits for it to settle (up
   * to `stopTimeout`), and resolves when teardown is complete. Calling it
   * again returns the same promise; after the run settled it resolves at once.
   */
  stop(reason?: unknown): Promise<StopReport>
  /** The last committed progress (what the next incarnation would resume from). */
  readonly progress: P | undefined
}
