import type { ErrorInfo } from './error-info.js'
import type { ProbeFailure } from './probe-failure.js'

/**
 * Why a steward starts a new incarnation: its own failure (`hung`, `stalled`,
 * `idle`, `failed`, or `memory`: the ward failed with a `MemoryLimitError`, a
 * process ward over its `maxMemory` or a thread ward's worker out of memory under
 * its `resourceLimits`), a normal return under restart type `permanent`
 * (`returned`), or, in a supervisor, a sibling's failure that the strategy
 * (`one-for-all`, `rest-for-one`) restarts it for (`sibling`). `start`: the ward could not be
 * started at all (a `WardStartError`), restarted only when `shouldRestart` returned `true` for it.
 * `manual`: an operator asked for it (`SupervisorRun.restartChild`, `steward restart NAME`).
 */
export type RestartReason = 'hung' | 'stalled' | 'idle' | 'failed' | 'memory' | 'start' | 'returned' | 'sibling' | 'manual'

/** Fields every {@link StewardEvent} has. */
export interface EventBase {
  /** The ward's name. */
  readonly ward: string
  /** Names from the top-level steward down to this ward, joined by `/`. */
  readonly path: string
  /** Clock time of the event, in ms (the run's clock). */
  readonly at: number
  /** The incarnation the event concerns (1 for the first). */
  readonly attempt: number
}

/** A new incarnation was started. `resume` is the progress it was given. */
export interface StartedEvent extends EventBase {
  readonly type: 'started'
  readonly resume: unknown
}

/**
 * A thread or process ward's incarnation has its worker or child: a process ward's child was
 * spawned (`pid`), a thread ward's worker loaded its module (`threadId`). Comes after `started`,
 * which is emitted before the ward runs; a ward that cannot be started has a `started` and no
 * `spawned`.
 */
export interface SpawnedEvent extends EventBase {
  readonly type: 'spawned'
  /** The child process's pid (a process ward). */
  readonly pid?: number
  /** The worker's `threadId` (a thread ward). */
  readonly threadId?: number
}

/** A working ward did not beat for `timeout` ms. */
export interface HungEvent extends EventBase {
  readonly type: 'hung'
  /** The deadline that passed, in ms: `startTimeout` when `starting`, else `timeout`. */
  readonly timeout: number
  /** The incarnation never showed it was up (no beat, output or idle wait): its start deadline passed. */
  readonly starting: boolean
  /** How late the hang was noticed, in ms: the time since the last beat (or start of work) minus `timeout`. */
  readonly overdue: number
  /** A process ward's probe failed since it last answered healthy: why (the last failure of this incarnation). */
  readonly probeFailure?: ProbeFailure
}

/** A working ward beat, but its progress did not change for `progressTimeout` ms (livelock). */
export interface StalledEvent extends EventBase {
  readonly type: 'stalled'
  readonly progressTimeout: number
  /** The progress it was stuck at. */
  readonly progress: unknown
}

/** A ward waited for input longer than `idleTimeout` ms. */
export interface IdleTimeoutEvent extends EventBase {
  readonly type: 'idle-timeout'
  readonly idleTimeout: number
}

/** The ward threw or rejected. */
export interface FailedEvent extends EventBase {
  readonly type: 'failed'
  /**
   * `'memory'` when the error is a `MemoryLimitError` (over a memory limit), `'start'` when it is a
   * `WardStartError` (the ward could not be started), else `'failed'`.
   */
  readonly reason: 'failed' | 'memory' | 'start'
  readonly error: ErrorInfo
}

/** The steward retires the incarnation `attempt` and will start `attempt + 1`. */
export interface RestartingEvent extends EventBase {
  readonly type: 'restarting'
  readonly reason: RestartReason
  /** Restarts so far, this one included. */
  readonly restarts: number
  /** The backoff before `attempt + 1` starts, in ms (0 without a backoff policy). */
  readonly delay: number
}

/**
 * A supervisor decided on a child's failure: restart (the child, and the
 * siblings its strategy restarts with it) or escalate (the intensity was
 * exceeded: it stops its children and gives up). Emitted on the
 * supervisor's path, before the children's `restarting` events.
 */
export interface DecisionEvent extends EventBase {
  readonly type: 'decision'
  /** The child whose failure is decided on. */
  readonly child: string
  /** How the child failed. */
  readonly reason: RestartReason
  readonly strategy: 'one-for-one' | 'one-for-all' | 'rest-for-one' | 'independent'
  /** `give-up`: under `independent`, the child exceeded its own intensity and gives up alone; its siblings run on. */
  readonly action: 'restart' | 'escalate' | 'give-up'
  /** The children restarted, in start order (the child itself included); empty when escalating. */
  readonly restarting: readonly string[]
  /**
   * The failure joined a restart already in progress (one cause, one restart: under
   * one-for-all or rest-for-one, a child failing while the restart stops its siblings): it is
   * not counted again, and `restarting` lists what the restart now covers from this child on.
   */
  readonly merged: boolean
  /**
   * The intensity used: restarts within the window, this one included
   * (`intensity: 'window'`), or the decayed failure count (`'decay'`).
   */
  readonly restarts: number
  /** The intensity allowed: `maxRestarts`, or the decay's `threshold`. */
  readonly maxRestarts: number
  /** The window in ms, or the decay's half-life. */
  readonly within: number
  readonly intensity: 'window' | 'decay'
  /** The backoff before the restarted children start again, in ms. */
  readonly delay: number
}

/** A retired incarnation did not settle within `stopTimeout`; it was abandoned. */
export interface UnstoppedEvent extends EventBase {
  readonly type: 'unstopped'
  readonly stopTimeout: number
}

/** An input was dead-lettered: incarnations kept failing at `position`. */
export interface DeadLetterEvent extends EventBase {
  readonly type: 'dead-letter'
  readonly position: unknown
  readonly input: unknown
  readonly failures: number
  readonly error: ErrorInfo | null
}

/** A process ward's child wrote a line on stdout or stderr. */
export interface LineEvent extends EventBase {
  readonly type: 'line'
  readonly stream: 'stdout' | 'stderr'
  /** The line without its newline; the last line of a stream is one even without a newline. */
  readonly line: string
  /**
   * Present (`true`) on a piece of a line longer than the process ward's `maxLineLength`: the line
   * goes on in the next `line` event of this stream. Its last piece has no `partial`.
   */
  readonly partial?: true
}

/** The ward returned normally and the run is complete. */
export interface CompletedEvent extends EventBase {
  readonly type: 'completed'
}

/** The run was stopped (by `stop()`, its signal, or its consumer leaving). */
export interface StoppedEvent extends EventBase {
  readonly type: 'stopped'
  /** Wards that did not settle within their stop deadline. */
  readonly unstopped: readonly string[]
}

/** The steward gave up; `error` is the last failure. */
export interface GaveUpEvent extends EventBase {
  readonly type: 'gave-up'
  readonly restarts: number
  readonly error: ErrorInfo
}

/**
 * Everything a run reports, as a discriminated union on `type`. Payloads
 * are plain data (JSON-serialisable as long as progress values are).
 */
export type StewardEvent =
  | StartedEvent
  | SpawnedEvent
  | HungEvent
  | StalledEvent
  | IdleTimeoutEvent
  | FailedEvent
  | RestartingEvent
  | DecisionEvent
  | UnstoppedEvent
  | DeadLetterEvent
  | LineEvent
  | CompletedEvent
  | StoppedEvent
  | GaveUpEvent

/** The `type` of a {@link StewardEvent}. */
export type StewardEventType = StewardEvent['type']

/** Receives events. A listener that throws is reported as a process warning, never to the ward. */
export type EventListener = (event: StewardEvent) => void

/** A subscription; `dispose()` (or `using`) removes the listener. Idempotent. */
export interface Subscription extends Disposable {
  /** Removes the listener; later calls do nothing. */
  dispose(): void
}

/** A list of listeners that costs nothing to emit to when empty. @internal */
export class Emitter {
  #listeners: EventListener[] = []

  get active(): boolean {
    return this.#listeners.length > 0
  }

  on(listener: EventListener): Subscription {
    if (typeof listener !== 'function') throw new TypeError(`on: listener must be a function, got ${typeof listener}`)
    // Copy on write, so a listener that unsubscribes during emit does not skip another.
    this.#listeners = [...this.#listeners, listener]
    let live = true
    const dispose = (): void => {
      if (!live) return
      live = false
      this.#listeners = this.#listeners.filter((l) => l !== listener)
    }
    return { dispose, [Symbol.dispose]: dispose }
  }

  emit(event: StewardEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event)
      } catch (error) {
        process.emitWarning(`steward: an event listener threw on '${event.type}': ${String(error)}`, 'StewardWarning')
      }
    }
  }

  clear(): void {
    this.#listeners = []
  }
}
