import type { StewardEvent } from '../observe/events.js'
import type { ProbeFailure } from '../observe/probe-failure.js'
import type { WardStatus } from '../observe/status.js'
import type { Outcome } from './run-api.js'

/**
 * The key under which a {@link WardContext} exposes its run to steward's own
 * integrations. A wrapper of a context should forward it
 * (`{ ...mine, [wardHost]: ctx[wardHost] }`) so that stewards, supervisors,
 * thread and process wards started with the wrapper keep their paths, their
 * events and their place in the status tree.
 */
export const wardHost: unique symbol = Symbol('steward.wardHost') as never

/** A run started with a context as its parent (a nested steward or supervisor). @internal */
export interface NestedRun {
  status(): WardStatus
  readonly outcome: Outcome | undefined
}

/**
 * What a context's run offers the code that runs under it: where it is in
 * the tree and where its events go. Implemented by every steward run.
 */
export interface WardHost {
  /** The run's path: names from the top level down, joined by `/`. */
  readonly path: string
  /** Settles when the run has ended (resources kept for the run can be released then). */
  readonly done: Promise<unknown>
  /** Reports an event through the run (a `line` event of a process ward, say). */
  emit(event: StewardEvent): void
  /** Records a child process that needed SIGKILL, for `stop()`'s `killed`. */
  noteKilled(what: string): void
  /**
   * Records why a process ward's probe failed (for `status()` and the next `hung` event), or,
   * with `null`, that a probe answered healthy again. Called on a change only, never per beat.
   */
  noteProbe(failure: ProbeFailure | null): void
  /**
   * Records what the current incarnation runs in, for `status()`: a process ward's child `pid` (and
   * `usage`, its resident memory, CPU time, open files and start time, read when a status is built
   * from the shared sampler's latest scan, never per beat), or a thread ward's worker `threadId`. Called once per incarnation, when it spawned;
   * forgotten when the incarnation ends.
   */
  noteSpawned(spawned: SpawnedInfo): void
  /** Records a run nested in the current incarnation, for status and tree termination. @internal */
  adopt(child: NestedRun): void
}

/** What an incarnation runs in: see {@link WardHost.noteSpawned}. */
export interface SpawnedInfo {
  /** A process ward's child process id. */
  readonly pid?: number
  /** A thread ward's worker thread id. */
  readonly threadId?: number
  /**
   * The resources of the child (its process group when it has one): resident memory in bytes,
   * CPU time (user + system) in seconds, open file descriptors and start time (unix seconds), as
   * last sampled; `undefined` where they cannot be read (no /proc).
   */
  readonly usage?: () => { readonly rss: number; readonly cpu: number; readonly fds: number; readonly startTime: number } | undefined
  /** A process ward's probe, what it asks and how often (`http GET http://127.0.0.1:8080/health every 1000 ms`), for `status().probe`. */
  readonly probe?: string
}
