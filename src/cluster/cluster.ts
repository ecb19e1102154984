import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import { Redis, type Cluster } from 'ioredis'
import { systemClock, type Timer } from '../time/clock.js'
import { describe, toMs, type Duration } from '../time/duration.js'
import type { Run, StartOptions } from '../steward/run-api.js'
import type { DeadLetterEvent, StewardEvent } from '../observe/events.js'
import { CLOCK_RATE_BOUND, LOCAL_DEADLINE, NodeCore, type CoreEvent, type Lease, type WardRunner } from './node-core.js'
import { IncompatibleNamespace, PROTOCOL_VERSION, RedisStore } from './redis-store.js'
import type { Checkpoint, Finished, Member } from './store.js'
import { renderClusterMetrics } from './exposition.js'
import { nodeTree, type NodeTree } from './node-tree.js'

/** What a ward's factory is handed: the ward's id, its lease (fencing token) and fenced writes. */
export interface WardLease {
  /** The ward's id. */
  readonly ward: string
  /** The fencing token of this claim: a per-ward counter, higher for every new owner. */
  readonly token: number
  /** The progress checkpointed by the previous owner (what `ctx.resume` is), or `undefined`. */
  readonly resume: unknown
  /** Failures counted at `resume` by previous owners (what `ctx.failuresHere` starts from). */
  readonly failures: number
  /** Whether this node still holds the lease and may write now (its local deadline has not passed). */
  readonly current: boolean
  /** A Redis key in this ward's hash slot (`{namespace:ward}:suffix`): the keys a fenced script may touch. */
  key(suffix: string): string
  /**
   * Runs the Lua `script` (its own `KEYS` and `ARGV`, as with EVAL) only while this lease's token
   * is the ward's current one: checked here (the local deadline) and atomically in Redis. Rejects
   * with a {@link StaleLeaseError} otherwise. Every key must come from `key()` (one hash slot).
   */
  fenced(script: string, keys?: readonly string[], args?: ReadonlyArray<string | number>): Promise<unknown>
  /**
   * Exactly-once effects in Redis: runs the Lua `script` (its own `KEYS` and `ARGV`) and moves this
   * ward's checkpoint to `progress` in one atomic script, only while this lease is current (else a
   * {@link StaleLeaseError}): both or neither. Pass the progress the input's output carries (for
   * `walk`, `position + 1`). When `progress` is already the stored checkpoint, the effect was
   * applied before (a retry after a lost reply, or a restart before the output was delivered):
   * nothing runs, and the answer says `applied: false`. A progress must be distinct per input.
   * From a ward's first commit on, the node's own checkpoints keep the progress the commits
   * stored, so a failover resumes exactly after the last committed input. Redis does not roll a
   * script back: a script that raises an error after writing leaves those writes (and the
   * checkpoint unmoved). Every key must come from `key()`.
   */
  commit(script: string, keys: readonly string[], args: ReadonlyArray<string | number>, progress: unknown): Promise<CommitOutcome>
  /**
   * The key to deduplicate an effect outside Redis on: `namespace:ward:progress` (the progress as
   * JSON), the same on every node and for every owner of the ward. Store it with the effect and
   * skip an input whose key is there; where the other system can compare numbers, refuse a write
   * whose {@link WardLease.token} is below the highest it has seen for the ward (fencing).
   */
  idempotencyKey(progress: unknown): string
}

/** What {@link WardLease.commit} answers: the script ran (with its reply), or the progress was committed before and nothing ran. */
export type CommitOutcome = { readonly applied: true; readonly reply: unknown } | { readonly applied: false; readonly reply: undefined }

/** A commit reached Redis after a later write of the same lease (a reordered request): it was not applied; a retry is safe. */
export class CommitReorderedError extends Error {
  override readonly name = 'CommitReorderedError'
  readonly code = 'ERR_STEWARD_COMMIT_REORDERED'
}

/** Anything with a steward's `start()`: what `ward(id, lease)` returns (a `steward(...)`, a `supervisor(...)`). */
export interface Startable {
  /** Starts the ward's run (the cluster passes `resume` and `failuresHere` from the ward's checkpoint). */
  start(options?: StartOptions): Run<unknown> | StartedWard
}

/** The least a started ward must offer the cluster: its end, a stop, and its progress for checkpoints. */
export interface StartedWard {
  /** Settles when the run ends. */
  readonly done: Promise<unknown>
  /** Stops the run (its progress is checkpointed after). */
  stop(): Promise<unknown>
  /** The run's committed progress and its failures at that progress, read for each checkpoint. */
  status(): { progress?: unknown; failuresHere?: number }
}

/** The options of {@link cluster}. */
export interface ClusterOptions {
  /** A Redis URL (`redis://127.0.0.1:6379`), or an ioredis `Redis` or `Cluster` instance (not closed by `stop()`). */
  readonly redis: string | Redis | Cluster
  /** The namespace every key lives under; nodes of one namespace share its wards. No `{` or `}`. */
  readonly namespace: string
  /** Makes the steward of one ward; called on the node that claims it, once per claim. */
  readonly ward: (id: string, lease: WardLease) => Startable
  /** How long a node's lease lasts without a renewal. @default '15s' */
  readonly leaseTtl?: Duration
  /**
   * The longest one of this node's wards takes to stop (its steward's `stopTimeout`, plus the
   * isolation's `killAfter` for thread and process wards). A node that cannot renew stops its
   * wards this long before its lease can expire, so no other node starts a ward before it has
   * stopped here; a stop that takes longer is reported (`stop-overrun`). Must leave room for two
   * beats: `leaseTtl × 0.95 − wardStop ≥ 2 × beat`.
   * @default leaseTtl × 0.15
   */
  readonly wardStop?: Duration
  /** How often the node renews its lease, claims and checkpoints. @default the smaller of leaseTtl / 3 and (leaseTtl × 0.95 − wardStop) / 2.4 */
  readonly beat?: Duration
  /** The least time between two checkpoints of one ward. @default '1s' */
  readonly checkpointEvery?: Duration
  /** The most wards this node runs at once. @default Infinity */
  readonly maxWardsPerNode?: number
  /** This node's id, unique among the namespace's live nodes. @default `${hostname}-${pid}-${random}` */
  readonly node?: string
  /** How long to wait for Redis at start before `ready` rejects. @default '5s' */
  readonly connectTimeout?: Duration
  /** Receives every {@link ClusterEvent} of this node. */
  readonly onEvent?: (event: ClusterEvent) => void
}

/** An event of a cluster node: claims, hand-overs, lost leases, rejected stale writes, checkpoints, finished wards, dead letters. */
export type ClusterEvent =
  | CoreEvent
  | { readonly type: 'dead-letter'; readonly ward: string; readonly token: number; readonly position: unknown; readonly input: unknown; readonly accepted: boolean }
  | { readonly type: 'ward-error'; readonly ward: string; readonly message: string }

/** A ward this node holds, in {@link ClusterStatus}. */
export interface HeldWardStatus {
  readonly ward: string
  readonly token: number
  /** The progress committed now (JSON), and the one last checkpointed. */
  readonly progress: string | undefined
  readonly checkpointed: string | undefined
  /** Milliseconds since the last accepted checkpoint when the progress moved on since; else 0. */
  readonly checkpointLag: number
}

/** A ward whose run ended by itself, in {@link ClusterStatus}: not run again until {@link ClusterNode.restart}. */
export interface FinishedWardStatus {
  readonly ward: string
  /** `done`: its run completed; `failed`: it gave up (or its factory threw). */
  readonly state: 'done' | 'failed'
  /** Why it failed (the last error's message); `''` when done. */
  readonly reason: string
  /** When it finished (ms since the epoch, the finishing node's clock). */
  readonly at: number
}

/** A JSON-serialisable snapshot of a node and what it sees of the cluster. */
export interface ClusterStatus {
  readonly node: string
  /** The epoch of this node's lease, or `null` while it has none (starting, lost, stopped). */
  readonly epoch: number | null
  /** Milliseconds left before the local deadline (0 when not live). */
  readonly leaseLeft: number
  /** The live nodes as the last renewal saw them, each with how many wards it is assigned. */
  readonly members: ReadonlyArray<Member & { readonly assigned: number }>
  /** The wards to run in the namespace (added and not finished). */
  readonly totalWards: number
  readonly wards: readonly HeldWardStatus[]
  /** The finished wards of the namespace (done or failed), as the last read of the ward set saw them. */
  readonly finished: readonly FinishedWardStatus[]
}

/** Counters and gauges of a node, by metric name. */
export type ClusterMetrics = Readonly<Record<string, number>>

/** A node of a cluster: see {@link cluster}. */
export interface ClusterNode extends AsyncDisposable {
  /** This node's id. */
  readonly node: string
  /**
   * This node as a supervision tree, for the HTTP face (`serveHttp(node.tree)` from
   * `steward/http`): the node is the root, the wards it runs now are its children (paths
   * `node/ward/…`), their events are its events, and /status, /metrics and the dashboard add the
   * node's cluster view (members, wards per node, its lease, finished wards, failovers).
   */
  readonly tree: NodeTree
  /** Resolves when the node reached Redis and joined; rejects with a {@link ClusterStartError} if it cannot. */
  readonly ready: Promise<void>
  /** Adds ward ids to the namespace (from any node; stored in Redis); resolves with how many were new. A finished id stays finished (see `restart`). */
  add(ids: readonly string[]): Promise<number>
  /**
   * Runs finished wards (done or failed) again, from their last checkpoint with their failure
   * count cleared; resolves with how many of `ids` were finished. Ids not finished are left as
   * they are.
   */
  restart(ids: readonly string[]): Promise<number>
  /** This node's view: members, the wards it holds with their tokens and checkpoints, the assignment. */
  status(): ClusterStatus
  /** This node's counters and gauges (claims, hand-overs, leases lost, stale writes refused, …). */
  metrics(): ClusterMetrics
  /** Subscribes to this node's events; returns the unsubscribe function. */
  on(listener: (event: ClusterEvent) => void): () => void
  /** Hands every ward over (stop, checkpoint, release), leaves the cluster and closes what it opened. */
  stop(): Promise<void>
}

/** A fenced write was refused: this node no longer holds the ward's current lease. */
export class StaleLeaseError extends Error {
  override readonly name = 'StaleLeaseError'
  readonly code = 'ERR_STEWARD_STALE_LEASE'
  readonly ward: string
  readonly token: number
  constructor(ward: string, token: number, options?: ErrorOptions) {
    super(`steward cluster: ward '${ward}': the lease with token ${token} is no longer current; the write was refused`, options)
    this.ward = ward
    this.token = token
  }
}

/** The node could not start: Redis unreachable, or the namespace belongs to another protocol version. */
export class ClusterStartError extends Error {
  override readonly name = 'ClusterStartError'
  readonly code = 'ERR_STEWARD_CLUSTER_START'
}

/** A bad option of {@link cluster}: names the option and the reason. */
export class ClusterOptionError extends TypeError {
  override readonly name = 'ClusterOptionError'
  readonly code = 'ERR_STEWARD_CLUSTER_OPTION'
  readonly option: string
  constructor(option: string, message: string) {
    super(`cluster: option '${option}' ${message}`)
    this.option = option
  }
}

/** The longest a stop waits for its own Redis connection to close (ioredis destroys it after 2 s). */
const CLOSE_WAIT = 5_000

const optionKeys = ['redis', 'namespace', 'ward', 'leaseTtl', 'wardStop', 'beat', 'checkpointEvery', 'maxWardsPerNode', 'node', 'connectTimeout', 'onEvent'] as const

interface Resolved {
  readonly leaseTtl: number
  readonly wardStop: number
  readonly beat: number
  readonly checkpointEvery: number
  readonly maxWardsPerNode: number
  readonly node: string
  readonly connectTimeout: number
}

function duration(value: unknown, option: string, fallback: number): number {
  if (value === undefined) return fallback
  try {
    return toMs(value, option, { zero: false })
  } catch (error) {
    throw new ClusterOptionError(option, (error as Error).message.replace(`${option}: `, ''))
  }
}

const idPattern = /^[^{}\s]+$/

/** `wardStop`'s default fraction of `leaseTtl`: the room left after the default local deadline (0.95 − 0.8). */
const DEFAULT_WARD_STOP = 0.15

function resolve(options: ClusterOptions): Resolved {
  if (typeof options !== 'object' || options === null) throw new TypeError(`cluster: options must be an object, got ${describe(options)}`)
  for (const key of Object.keys(options)) {
    if (!(optionKeys as readonly string[]).includes(key)) throw new ClusterOptionError(key, `is not an option (known: ${optionKeys.join(', ')})`)
  }
  const { redis, namespace, ward, maxWardsPerNode, node, onEvent } = options
  if (typeof redis !== 'string' && (typeof redis !== 'object' || redis === null || typeof (redis as Redis).defineCommand !== 'function')) {
    throw new ClusterOptionError('redis', `must be a Redis URL or an ioredis Redis or Cluster instance, got ${describe(redis)}`)
  }
  if (typeof redis === 'string' && !/^rediss?:\/\//.test(redis)) throw new ClusterOptionError('redis', `must be a redis:// or rediss:// URL, got ${JSON.stringify(redis)}`)
  if (typeof namespace !== 'string' || !idPattern.test(namespace)) {
    throw new ClusterOptionError('namespace', `must be a non-empty string without '{', '}' or spaces, got ${describe(namespace)}`)
  }
  if (typeof ward !== 'function') throw new ClusterOptionError('ward', `must be a function (id, lease) => steward, got ${describe(ward)}`)
  if (onEvent !== undefined && typeof onEvent !== 'function') throw new ClusterOptionError('onEvent', `must be a function, got ${describe(onEvent)}`)
  const leaseTtl = duration(options.leaseTtl, 'leaseTtl', 15_000)
  if (leaseTtl < 100) throw new ClusterOptionError('leaseTtl', `must be at least 100ms, got ${leaseTtl}ms`)
  const wardStop = duration(options.wardStop, 'wardStop', leaseTtl * DEFAULT_WARD_STOP)
  // The local deadline comes this long after a renewal is sent: the rest of the lease is for stopping.
  const window = leaseTtl * (1 - CLOCK_RATE_BOUND) - wardStop
  if (window < 20) {
    throw new ClusterOptionError('wardStop', `(${wardStop}ms) leaves no time to run wards in a lease of ${leaseTtl}ms: a node stops its wards at leaseTtl × ${1 - CLOCK_RATE_BOUND} − wardStop after each renewal; raise leaseTtl above ${Math.ceil((wardStop + 20) / (1 - CLOCK_RATE_BOUND))}ms or lower wardStop`)
  }
  const beat = duration(options.beat, 'beat', Math.min(leaseTtl / 3, window / 2.4))
  // Two renewals must fit before the local deadline, so one lost reply does not lose the lease.
  if (beat > window / 2) {
    const why = options.wardStop === undefined ? `leaseTtl × ${LOCAL_DEADLINE / 2}` : `(leaseTtl × ${1 - CLOCK_RATE_BOUND} − wardStop) / 2`
    throw new ClusterOptionError('beat', `must be at most ${why} (${Math.round((window / 2) * 1000) / 1000}ms), got ${beat}ms: two renewals must fit before the node stops its wards${options.wardStop === undefined ? '' : '; raise leaseTtl, or lower wardStop or beat'}`)
  }
  const checkpointEvery = duration(options.checkpointEvery, 'checkpointEvery', 1_000)
  if (maxWardsPerNode !== undefined && !(maxWardsPerNode === Infinity || (Number.isInteger(maxWardsPerNode) && maxWardsPerNode > 0))) {
    throw new ClusterOptionError('maxWardsPerNode', `must be a whole number > 0 or Infinity, got ${describe(maxWardsPerNode)}`)
  }
  if (node !== undefined && (typeof node !== 'string' || !idPattern.test(node))) {
    throw new ClusterOptionError('node', `must be a non-empty string without '{', '}' or spaces, got ${describe(node)}`)
  }
  return {
    leaseTtl,
    wardStop,
    beat,
    checkpointEvery,
    maxWardsPerNode: maxWardsPerNode ?? Infinity,
    node: node ?? `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
    connectTimeout: duration(options.connectTimeout, 'connectTimeout', 5_000),
  }
}

/** A progress as stored: its JSON text; `undefined` and what JSON cannot write are refused. */
function progressText(progress: unknown, what: string): string {
  let text: string | undefined
  try {
    text = JSON.stringify(progress)
  } catch (error) {
    throw new TypeError(`${what}: progress must be JSON-serialisable: ${(error as Error).message}`)
  }
  if (text === undefined) throw new TypeError(`${what}: progress must be a JSON value (a position), got ${describe(progress)}`)
  return text
}

/** How a run's end (a steward's `Outcome`, or what a `StartedWard`'s `done` resolved with) finishes its ward. */
function ending(outcome: unknown): Finished {
  const at = Date.now()
  if (typeof outcome === 'object' && outcome !== null && (outcome as { kind?: unknown }).kind === 'gave-up') {
    const error = (outcome as { error?: unknown }).error
    return { state: 'failed', reason: error instanceof Error ? error.message : String(error), at }
  }
  return { state: 'done', reason: '', at }
}

function validIds(ids: readonly string[], what = 'add'): void {
  if (!Array.isArray(ids)) throw new TypeError(`${what}: ids must be an array of strings, got ${describe(ids)}`)
  const seen = new Set<string>()
  for (const id of ids) {
    if (typeof id !== 'string' || !idPattern.test(id)) throw new TypeError(`${what}: a ward id must be a non-empty string without '{', '}' or spaces, got ${describe(id)}`)
    if (seen.has(id)) throw new TypeError(`${what}: ward id '${id}' is given twice`)
    seen.add(id)
  }
}

interface Running {
  readonly run: ReturnType<Startable['start']>
  readonly drained: Promise<void>
}

/**
 * Runs wards over many nodes on Redis: each ward on exactly one live node, under its own
 * steward, resumed on another node from its last checkpoint when its node dies, pauses past its
 * lease or leaves. Returns at once; `ready` says when the node has joined. See docs/cluster.md.
 *
 * @example
 * // Each feed id is a ward: walk its pages, resumed on another node from its checkpoint.
 * const node = cluster({
 *   redis: 'redis://127.0.0.1:6379',
 *   namespace: 'feeds',
 *   ward: (id) => steward(walk(urls.map((url) => `${url}?feed=${id}`), (url, ctx) => fetchPage(url, ctx.signal))),
 *   leaseTtl: '15s',
 * })
 * await node.add(['feed-1', 'feed-2'])
 */
export function cluster(options: ClusterOptions): ClusterNode {
  const settings = resolve(options)
  const ownClient = typeof options.redis === 'string'
  let joined = false
  const client: Redis | Cluster =
    typeof options.redis === 'string'
      ? new Redis(options.redis, {
          lazyConnect: true,
          connectTimeout: settings.connectTimeout,
          maxRetriesPerRequest: 1,
          // No retries until the node started: an unreachable Redis at start is an error, not a wait.
          retryStrategy: (times) => (joined ? Math.min(50 * times, 500) : null),
        })
      : options.redis
  const onClientError = (): void => {} // reconnects are retried; failed calls show as missed beats
  client.on('error', onClientError)
  const store = new RedisStore(client, options.namespace)
  const listeners = new Set<(event: ClusterEvent) => void>()
  if (options.onEvent !== undefined) listeners.add(options.onEvent)
  const counters = { claims: 0, handovers: 0, leasesLost: 0, staleWrites: 0, checkpoints: 0, deadLetters: 0, commits: 0, stopOverruns: 0, failovers: 0 }
  const emit = (event: ClusterEvent): void => {
    if (event.type === 'claimed') {
      counters.claims++
      if (event.from !== null) counters.failovers++
    }
    else if (event.type === 'handed-over') counters.handovers++
    else if (event.type === 'lease-lost') counters.leasesLost++
    else if (event.type === 'stale-write') counters.staleWrites++
    else if (event.type === 'checkpointed') counters.checkpoints++
    else if (event.type === 'stop-overrun') counters.stopOverruns++
    for (const listener of listeners) {
      try {
        listener(event)
      } catch (error) {
        process.emitWarning(`steward cluster: an event listener threw: ${String(error)}`, 'StewardWarning')
      }
    }
  }
  const running = new Map<string, Running>()
  /** Wards whose factory or start threw: held (the lease is ours) but not running; their checkpoint stays as claimed. */
  const broken = new Map<string, Checkpoint>()
  const snapshot = (run: Running['run']): Checkpoint => {
    const status = run.status()
    return { progress: status.progress === undefined ? undefined : JSON.stringify(status.progress), failures: status.failuresHere ?? 0 }
  }

  const leaseOf = (ward: string, lease: Lease): WardLease => {
    const resume = lease.checkpoint.progress === undefined ? undefined : (JSON.parse(lease.checkpoint.progress) as unknown)
    return {
      ward,
      token: lease.token,
      resume,
      failures: lease.checkpoint.failures,
      get current() {
        return core.tokenOf(ward) === lease.token
      },
      key: (suffix: string) => store.keys.user(ward, suffix),
      idempotencyKey: (progress: unknown) => `${options.namespace}:${ward}:${progressText(progress, 'idempotencyKey')}`,
      commit: async (script, keys, args, progress) => {
        if (typeof script !== 'string' || script === '') throw new TypeError(`commit: script must be a non-empty string of Lua, got ${describe(script)}`)
        if (!Array.isArray(keys) || !keys.every((k) => typeof k === 'string')) throw new TypeError(`commit: keys must be an array of strings (from lease.key()), got ${describe(keys)}`)
        if (!Array.isArray(args) || !args.every((a) => typeof a === 'string' || typeof a === 'number')) throw new TypeError(`commit: args must be an array of strings and numbers, got ${describe(args)}`)
        const text = progressText(progress, 'commit')
        const seq = core.commitSeq(ward, lease.token)
        if (seq === undefined) throw new StaleLeaseError(ward, lease.token)
        try {
          const result = await store.commit(ward, lease.token, seq, text, script, keys, args)
          if (result.kind === 'applied') counters.commits++
          core.commitStored(ward, lease.token, text)
          return result.kind === 'applied' ? { applied: true, reply: result.reply } : { applied: false, reply: undefined }
        } catch (error) {
          if (error instanceof Error && error.message.includes('STEWARD_FENCED')) {
            emit({ type: 'stale-write', ward, token: lease.token })
            throw new StaleLeaseError(ward, lease.token, { cause: error })
          }
          if (error instanceof Error && error.message.includes('STEWARD_SUPERSEDED')) {
            throw new CommitReorderedError(`steward cluster: ward '${ward}': the commit of progress ${text} reached Redis after a later write of token ${lease.token}; it was not applied (retry it)`, { cause: error })
          }
          throw error
        }
      },
      fenced: async (script, keys = [], args = []) => {
        if (core.tokenOf(ward) !== lease.token) throw new StaleLeaseError(ward, lease.token)
        try {
          return await store.fenced(ward, lease.token, script, keys, args)
        } catch (error) {
          if (error instanceof Error && error.message.includes('STEWARD_FENCED')) {
            emit({ type: 'stale-write', ward, token: lease.token })
            throw new StaleLeaseError(ward, lease.token, { cause: error })
          }
          throw error
        }
      },
    }
  }
  const deadLetter = (ward: string, token: number, event: DeadLetterEvent): void => {
    counters.deadLetters++
    const json = (value: unknown): string => {
      try {
        return JSON.stringify(value) ?? String(value)
      } catch {
        return String(value)
      }
    }
    if (core.tokenOf(ward) !== token) return emit({ type: 'dead-letter', ward, token, position: event.position, input: event.input, accepted: false })
    const fields = { node: settings.node, token: String(token), position: json(event.position), input: json(event.input), failures: String(event.failures), error: event.error?.message ?? '' }
    store.deadLetter(ward, token, fields).then(
      (accepted) => emit({ type: 'dead-letter', ward, token, position: event.position, input: event.input, accepted }),
      () => emit({ type: 'dead-letter', ward, token, position: event.position, input: event.input, accepted: false }),
    )
  }
  const runner: WardRunner = {
    start(ward, lease) {
      let run: Running['run']
      try {
        const startable = options.ward(ward, leaseOf(ward, lease))
        if (typeof startable?.start !== 'function') throw new TypeError(`ward('${ward}') must return a steward (something with start()), got ${describe(startable)}`)
        const wardLease = lease
        run = startable.start({
          resume: lease.checkpoint.progress === undefined ? undefined : (JSON.parse(lease.checkpoint.progress) as unknown),
          failuresHere: lease.checkpoint.failures,
          onEvent: (event: StewardEvent) => {
            if (event.type === 'dead-letter' && event.path === event.ward) deadLetter(ward, wardLease.token, event)
            view.forward(ward, event)
          },
        })
      } catch (error) {
        broken.set(ward, lease.checkpoint)
        emit({ type: 'ward-error', ward, message: String(error) })
        // It cannot run: it is failed (with its checkpoint as claimed) until restarted.
        core.finish(ward, lease.token, { state: 'failed', reason: String(error), at: Date.now() })
        return
      }
      // The node is the run's consumer: pulling delivers each output, which commits its progress.
      const drained = (async () => {
        try {
          if (Symbol.asyncIterator in run) for await (const _ of run as AsyncIterable<unknown>) void _
          else await run.done
        } catch {
          // A give-up reaches the consumer once; the run's outcome says it.
        }
      })()
      const entry: Running = { run, drained }
      running.set(ward, entry)
      // A run that ends by itself (not stopped by the node) finishes the ward: done, or failed.
      void drained.then(async () => {
        if (running.get(ward) !== entry) return
        let finished: Finished
        try {
          finished = ending(await run.done)
        } catch (error) {
          finished = { state: 'failed', reason: String(error), at: Date.now() }
        }
        if (running.get(ward) === entry) core.finish(ward, lease.token, finished)
      })
    },
    async stop(ward) {
      const entry = running.get(ward)
      if (entry === undefined) {
        const kept = broken.get(ward) ?? { progress: undefined, failures: 0 }
        broken.delete(ward)
        return kept
      }
      running.delete(ward)
      await entry.run.stop()
      await entry.drained
      return snapshot(entry.run)
    },
    committed(ward) {
      const entry = running.get(ward)
      return entry === undefined ? (broken.get(ward) ?? { progress: undefined, failures: 0 }) : snapshot(entry.run)
    },
  }
  const core = new NodeCore({
    node: settings.node,
    store,
    runner,
    clock: systemClock,
    leaseTtl: settings.leaseTtl,
    wardStop: settings.wardStop,
    beat: settings.beat,
    checkpointEvery: settings.checkpointEvery,
    maxWardsPerNode: settings.maxWardsPerNode,
    opTimeout: settings.beat,
    onEvent: emit,
  })

  let timer: Timer | undefined
  let stopping: Promise<void> | undefined
  let beating: Promise<void> | undefined
  const beatOnce = (): Promise<void> => {
    beating = core.beat().catch((error: unknown) => {
      if (error instanceof IncompatibleNamespace) {
        process.emitWarning(error.message, 'StewardWarning')
        void node.stop()
      } else process.emitWarning(`steward cluster: beat failed: ${String(error)}`, 'StewardWarning')
    })
    return beating
  }
  const schedule = (): void => {
    if (stopping !== undefined) return
    timer = systemClock.setTimer(settings.beat, () => {
      timer = undefined
      void beatOnce().then(schedule)
    })
  }
  const closeClient = async (): Promise<void> => {
    client.off('error', onClientError)
    // A client whose connection failed is already closed; disconnecting it again would leave
    // ioredis's disconnect timer waiting for a close event that never comes.
    if (!ownClient || client.status === 'end') return
    // An open socket is ended, not destroyed: it closes when Redis answers the FIN (ioredis
    // destroys it after its disconnectTimeout otherwise). The stop waits for that, so no socket
    // outlives it; bounded, for a state in which no 'end' event comes.
    if (!['connecting', 'connect', 'ready'].includes(client.status)) return void client.disconnect()
    let onEnd: (() => void) | undefined
    let bound: Timer | undefined
    const closed = new Promise<void>((resolve) => {
      onEnd = resolve
      client.once('end', onEnd)
      bound = systemClock.setTimer(CLOSE_WAIT, resolve)
    })
    client.disconnect()
    await closed
    bound?.cancel()
    client.off('end', onEnd!)
  }

  const ready = (async () => {
    try {
      if (ownClient) {
        let connectTimer: Timer | undefined
        const timeout = new Promise<never>((_, reject) => {
          connectTimer = systemClock.setTimer(settings.connectTimeout, () => reject(new Error(`no connection within connectTimeout (${settings.connectTimeout}ms)`)))
        })
        try {
          await Promise.race([(client as Redis).connect(), timeout])
        } finally {
          connectTimer?.cancel()
        }
      }
      const version = await store.version()
      if (version !== undefined && version !== PROTOCOL_VERSION) throw new IncompatibleNamespace(options.namespace, version)
      joined = true
      await beatOnce()
      if (core.epoch === undefined) await beatOnce()
    } catch (error) {
      const where = typeof options.redis === 'string' ? options.redis : 'the given client'
      await closeClient()
      if (error instanceof IncompatibleNamespace) throw new ClusterStartError(error.message, { cause: error })
      throw new ClusterStartError(`steward cluster: cannot start node '${settings.node}' on Redis at ${where}: ${(error as Error).message}`, { cause: error })
    }
    schedule()
  })()
  ready.catch(() => {}) // the caller sees it through `ready`, `add` or `stop`

  const view = nodeTree({
    node: settings.node,
    live: () => core.live(),
    runs: () => [...running].map(([ward, entry]) => [ward, () => entry.run.status()] as const),
    face: { status: () => ({ ...node.status(), metrics: node.metrics() }), metrics: () => renderClusterMetrics(node.metrics(), { namespace: options.namespace, node: settings.node }) },
    stop: () => node.stop(),
  })
  const node: ClusterNode = {
    node: settings.node,
    tree: view.tree,
    ready,
    async add(ids) {
      validIds(ids)
      await ready
      return store.addWards(ids)
    },
    async restart(ids) {
      validIds(ids, 'restart')
      await ready
      // The ward's own record first (claims run it again), then the set to run.
      const was = await Promise.all(ids.map((id) => store.reopen(id)))
      const finished = ids.filter((_, i) => was[i])
      await store.addWards(finished, true)
      return finished.length
    },
    status() {
      const now = systemClock.now()
      // The members' assignment as this node computes it (every node computes the same from the same view).
      const assigned = core.assigned()
      const wards: HeldWardStatus[] = []
      for (const [ward, held] of core.held) {
        const entry = running.get(ward)
        const progress = entry === undefined ? undefined : snapshot(entry.run).progress
        const checkpointed = held.sent.slice(held.sent.indexOf('|') + 1) || undefined
        wards.push({ ward, token: held.token, progress, checkpointed, checkpointLag: progress === checkpointed ? 0 : Math.round(now - held.sentAt) })
      }
      return {
        node: settings.node,
        epoch: core.epoch ?? null,
        leaseLeft: core.live() ? Math.round(core.deadline - now) : 0,
        members: core.members.map((member) => ({ ...member, assigned: assigned.get(member.node) ?? 0 })),
        totalWards: core.wardIds.length,
        wards,
        finished: [...core.finished].map(([ward, end]) => ({ ward, ...end })),
      }
    },
    metrics() {
      return {
        'cluster.wards_held': core.held.size,
        'cluster.members': core.members.length,
        'cluster.live': core.live() ? 1 : 0,
        'cluster.renews_total': core.renews,
        'cluster.claims_total': counters.claims,
        'cluster.failovers_total': counters.failovers,
        'cluster.handovers_total': counters.handovers,
        'cluster.leases_lost_total': counters.leasesLost,
        'cluster.stale_writes_total': counters.staleWrites,
        'cluster.checkpoints_total': counters.checkpoints,
        'cluster.dead_letters_total': counters.deadLetters,
        'cluster.commits_total': counters.commits,
        'cluster.stop_overruns_total': counters.stopOverruns,
        'cluster.wards_done': [...core.finished.values()].filter((end) => end.state === 'done').length,
        'cluster.wards_failed': [...core.finished.values()].filter((end) => end.state === 'failed').length,
        'cluster.redis_calls_total': store.calls,
      }
    },
    on(listener) {
      listeners.add(listener)
      return () => void listeners.delete(listener)
    },
    stop() {
      stopping ??= (async () => {
        const started = await ready.then(
          () => true,
          () => false,
        )
        if (!started) return
        timer?.cancel()
        timer = undefined
        await beating
        // Hand over: keep renewing while the wards stop and are released, then leave.
        await core.leave(async () => {
          const deadline = systemClock.now() + settings.leaseTtl * 2
          while (core.live() && !core.idle() && systemClock.now() < deadline) {
            await beatOnce()
            await core.settled()
            if (!core.idle()) await systemClock.sleep(Math.min(settings.beat, 50))
          }
        })
        core.halt()
        await core.settled()
        for (const ward of [...running.keys()]) await runner.stop(ward)
        await closeClient()
        view.ended()
      })()
      return stopping
    },
    [Symbol.asyncDispose]() {
      return node.stop()
    },
  }
  return node
}

export { CLOCK_RATE_BOUND, LOCAL_DEADLINE }
