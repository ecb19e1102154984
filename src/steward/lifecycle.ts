import { channelsListened, publishEvent } from '../observe/channels.js'
import { Emitter, type EventListener, type StewardEvent, type StewardEventType, type Subscription } from '../observe/events.js'
import type { WardStatus } from '../observe/status.js'
import type { Clock } from '../time/clock.js'
import { describe } from '../time/duration.js'
import type { EventOf, Lifecycle, Outcome, StopReport } from './run-api.js'
import { CHECK_STATES, checkMove, SETTLED, STOPPING, WORKING } from './run-states.js'
import type { WardContext } from './ward.js'

/** The restart decisions of a run that is a supervisor's child (see `tree/supervisor.ts`). @internal */
export interface ChildDecider {
  /**
   * The child's incarnation failed (or returned under `permanent`) and its
   * restart type asks for a restart: the supervisor decides, and restarts
   * or stops the child.
   */
  childFailed(reason: string, error: Error): void
  /** The child's current incarnation showed it is up (first beat, output or idle wait). */
  childReady(): void
  /** Whether the supervisor's strategy restarts the child with a sibling (one-for-all, rest-for-one): its status lists `sibling`. */
  readonly siblingRestarts: boolean
}

/** A run's output stream's consumer: its pending next(), if any (`output-stream.ts`). @internal */
export class Consumer<T = unknown> {
  // Only the resolve function is kept (one field written per value): an error is answered by
  // resolving with a rejected promise, which settles the next() the same way.
  resolve: ((result: IteratorResult<T> | Promise<never>) => void) | undefined = undefined
  readonly executor = (resolve: (result: IteratorResult<T> | Promise<never>) => void): void => {
    this.resolve = resolve
  }
}

/** What connects a run to the outside, made when anything does. @internal */
export class RunLinks {
  emitter: Emitter | undefined = undefined
  signal: AbortSignal | undefined = undefined
  path: string | undefined = undefined
  /** A nested steward's run: the parent incarnation's context (or a wrapper of it). */
  upstream: WardContext | undefined = undefined
  /** A supervisor's child: who decides its restarts. */
  decider: ChildDecider | undefined = undefined
  /** Pending `once()` calls, rejected when the run settles first. */
  waiters: Set<(outcome: Outcome) => void> | undefined = undefined
  /** The output stream's consumer, made at the first next(). */
  consumer: Consumer<never> | undefined = undefined
}

/** How a run ends, made when it starts ending (or when `done` is first read). @internal */
export class RunEnd {
  /** `run.done`, made when first asked for. */
  done: Promise<Outcome> | undefined = undefined
  resolveDone: ((outcome: Outcome) => void) | undefined = undefined
  outcome: Outcome | undefined = undefined
  /** The give-up error reached the consumer of a steward's output. */
  errorDelivered = false
  /** The teardown in progress: resolves once the run has settled. */
  ending: Promise<void> | undefined = undefined
  stopReport: Promise<StopReport> | undefined = undefined
}

/**
 * What every run has, steward or supervisor, written once: its state, the
 * start signal, events and their common fields, `done`, one teardown
 * however often `stop()` is called, and `await using`. Side objects
 * (`RunLinks`, `RunEnd`) are made on demand: an idle run holds neither.
 * @internal
 */
export abstract class RunLifecycle implements Lifecycle {
  /** What the run is doing: one of the states of `run-states.ts` (the watchdog reads it too). */
  state: number = WORKING
  /** The subclass's flags: properties and guards, not states. */
  protected flags = 0
  protected links: RunLinks | undefined = undefined
  protected end: RunEnd | undefined = undefined

  abstract readonly name: string
  abstract readonly clock: Clock
  abstract status(): WardStatus
  /** Starts the teardown for `stop(reason)`: must set `end.ending`. */
  protected abstract beginStop(reason: unknown): void
  /** Child processes that needed SIGKILL during this run, for the stop report. */
  protected abstract killedList(): readonly string[]

  /** Names from the top-level run down to this one, joined by `/`. */
  get path(): string {
    return this.links?.path ?? this.name
  }

  protected get linked(): RunLinks {
    return (this.links ??= new RunLinks())
  }

  protected get ended(): RunEnd {
    return (this.end ??= new RunEnd())
  }

  /** Whether the run still runs: it is neither stopping nor settled. */
  protected get running(): boolean {
    return this.state < STOPPING
  }

  /**
   * Moves to `next`. Under `STEWARD_CHECK_STATES=1` the method is replaced (below the class) by one
   * that checks the move against the state table first: without it, a move is a field write.
   */
  protected to(next: number): void {
    this.state = next
  }

  /** The outcome, once settled. */
  get outcome(): Outcome | undefined {
    return this.end?.outcome
  }

  get done(): Promise<Outcome> {
    const end = this.ended
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

  /** Whether anyone listens (a listener, or a diagnostics_channel subscriber): events are built only then. */
  protected get listened(): boolean {
    const emitter = this.links?.emitter
    return (emitter !== undefined && emitter.active) || channelsListened()
  }

  on(listener: EventListener): Subscription
  on<K extends StewardEventType>(type: K, listener: (event: EventOf<K>) => void): Subscription
  on(typeOrListener: EventListener | StewardEventType, listener?: (event: never) => void): Subscription {
    const emitter = (this.linked.emitter ??= new Emitter())
    if (typeof typeOrListener === 'function') return emitter.on(typeOrListener)
    if (typeof typeOrListener !== 'string') throw new TypeError(`on: the first argument must be an event type or a listener, got ${describe(typeOrListener)}`)
    if (typeof listener !== 'function') throw new TypeError(`on('${typeOrListener}', listener): listener must be a function, got ${describe(listener)}`)
    const type = typeOrListener
    const typed = listener as (event: StewardEvent) => void
    return emitter.on((event) => {
      if (event.type === type) typed(event)
    })
  }

  once<K extends StewardEventType>(type: K, options?: { readonly signal?: AbortSignal }): Promise<EventOf<K>> {
    if (typeof type !== 'string') return Promise.reject(new TypeError(`once: type must be an event type, got ${describe(type)}`))
    const signal = options?.signal
    if (signal !== undefined && !(signal instanceof AbortSignal)) {
      return Promise.reject(new TypeError(`once: option 'signal' must be an AbortSignal, got ${describe(signal)}`))
    }
    const settled = this.end?.outcome
    if (settled !== undefined) return Promise.reject(endedError(this.path, type, settled))
    if (signal?.aborted === true) return Promise.reject(signal.reason)
    return new Promise<EventOf<K>>((resolve, reject) => {
      const waiters = (this.linked.waiters ??= new Set())
      const release = (): void => {
        subscription.dispose()
        waiters.delete(onEnd)
        signal?.removeEventListener('abort', onAbort)
      }
      const onEnd = (outcome: Outcome): void => {
        release()
        reject(endedError(this.path, type, outcome))
      }
      const onAbort = (): void => {
        release()
        reject(signal!.reason)
      }
      const subscription = this.on(type, (event) => {
        release()
        resolve(event)
      })
      waiters.add(onEnd)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }

  emit(event: StewardEvent): void {
    // Published once, by the run the event concerns; the runs above it only forward it to their listeners.
    if (channelsListened() && event.path === this.path) publishEvent(event)
    this.links?.emitter?.emit(event)
  }

  /** The fields every event of this run has. */
  protected base(attempt: number): { ward: string; path: string; at: number; attempt: number } {
    return { ward: this.name, path: this.path, at: this.clock.now(), attempt }
  }

  /** Links the start signal (the run is its listener); `false` if it has aborted already (a stop is queued). */
  protected linkSignal(signal: AbortSignal | undefined): boolean {
    if (signal === undefined) return true
    this.linked.signal = signal
    if (signal.aborted) {
      queueMicrotask(() => void this.stop(signal.reason))
      return false
    }
    signal.addEventListener('abort', this, { once: true })
    return true
  }

  /** The start signal aborted. */
  handleEvent(): void {
    void this.stop(this.links?.signal?.reason)
  }

  stop(reason?: unknown): Promise<StopReport> {
    const end = this.ended
    if (end.ending === undefined) {
      if (end.outcome !== undefined) return (end.stopReport ??= Promise.resolve({ unstopped: [], killed: [] }))
      this.beginStop(reason)
    }
    end.stopReport ??= end.ending!.then(() => ({
      unstopped: end.outcome?.kind === 'stopped' ? end.outcome.unstopped : [],
      killed: [...this.killedList()],
    }))
    return end.stopReport
  }

  /** `await using run = …`: stops the run and waits for its teardown. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.stop()
  }

  /**
   * Records the outcome and releases what links the run to the outside:
   * the start signal, listeners, pending `once()` calls; then resolves `done`.
   * `false` if the run had settled already.
   */
  protected settleWith(outcome: Outcome, beforeRelease?: () => void): boolean {
    if (this.end?.outcome !== undefined) return false
    this.to(SETTLED)
    this.ended.outcome = outcome
    const links = this.links
    links?.signal?.removeEventListener('abort', this)
    if (outcome.kind === 'completed' && this.listened) this.emit({ type: 'completed', ...this.base(outcome.attempts) })
    beforeRelease?.()
    links?.emitter?.clear()
    if (links?.waiters !== undefined) for (const waiter of [...links.waiters]) waiter(outcome)
    this.end?.resolveDone?.(outcome)
    return true
  }
}

if (CHECK_STATES) {
  Object.defineProperty(RunLifecycle.prototype, 'to', {
    value: function checkedTo(this: RunLifecycle, next: number): void {
      checkMove(this.path, this.state, next)
      this.state = next
    },
  })
}

function endedError(path: string, type: string, outcome: Outcome): Error {
  return new Error(`run '${path}' ended (${outcome.kind}) before a '${type}' event`, { cause: outcome })
}
