import type { RestartReason } from '../observe/events.js'
import type { ProbeFailure } from '../observe/probe-failure.js'
import type { RunState, WardStatus } from '../observe/status.js'
import { decide, RESTART_NOW, restartsAtOnce, type RestartPolicyState } from '../policy/restart-policy.js'
import type { Clock, TimeCell, Timer } from '../time/clock.js'
import { systemClock } from '../time/clock.js'
import {
  asError,
  errorInfo,
  failureReason,
  GaveUpError,
  WardHungError,
  WardIdleTimeoutError,
  WardRetiredError,
  WardStalledError,
  type GiveUpReason,
} from './errors.js'
import { wardHost, type NestedRun, type SpawnedInfo, type WardHost } from './host.js'
import {
  abortReason,
  cancelIdle,
  childOf,
  endsLive,
  CONTROLLER,
  errored,
  Incarnation,
  isReady,
  isRetired,
  isSettled,
  kindOf,
  markReady,
  markRetired,
  onSettled,
  PROMISE,
  isIncarnation,
  runOf,
  setChild,
  setKind,
  STREAM,
  STREAM_PART,
  StreamPart,
  valued,
  type RetireWhy,
} from './incarnation.js'
import type { ChildDecider } from './lifecycle.js'
import type { ResolvedOptions } from './options.js'
import { Output } from './output.js'
import { LAUNCHING, OutputStream } from './output-stream.js'
import { sameProgress } from './progress.js'
import type { Outcome, Run, StartOptions } from './run-api.js'
import { DoNotRestart, TerminateTree } from './sentinels.js'
import { BACKOFF, HELD, IDLE, RESTARTING, RETIRING, STARTING, STATE_NAMES, STOPPING, WAITING, WORKING } from './run-states.js'
import { watchdogFor, type HangCause, type Watchdog, type Watched } from './watchdog.js'
import { restartReasonsOf } from './restart-reasons.js'
import type { WardContext } from './ward.js'

// A run's flag, above the output stream's ITERATED and LAUNCHING (output-stream.ts); its state is `state` (run-states.ts).
// Its methods are `private`, not `#private`: a class with `#` methods costs each instance a brand slot (8 bytes; idle wards are many).
/** Its upstream is an incarnation of another steward's run. */
const NESTED = 4
/** A beat must also call `afterBeat`: the current incarnation is not up yet, or the run is nested. */
const BEATS_ASIDE = 8
/** `launchDue` is launching: a restart due meanwhile is its next launch (RELAUNCH), not a call of its own. */
const TRAMPOLINE = 16
/** A restart became due while `launchDue` was launching (a ward that threw synchronously). */
const RELAUNCH = 32

/** Restarts in a row without a macrotask turn before one is forced, so a crash loop cannot starve I/O. */
const RESTARTS_PER_TURN = 1_000

/** What a run records once it fails or retires an incarnation. @internal */
class RestartLog {
  /** Restarts so far (its own, and a supervisor's strategy restarts). */
  restarts = 0
  policy: RestartPolicyState | undefined = undefined
  /** Failures in a row at `progressAtFailure`. */
  failuresHere = 0
  progressAtFailure: unknown = undefined
  lastFailure: Error | undefined = undefined
  restartsThisTurn = 0
  retiredErrors: WardRetiredError[] | undefined = undefined
  /** A restart's retirement in progress. */
  retiring: Promise<boolean> | undefined = undefined
  /** Paths of incarnations (ours and nested) abandoned after their stop deadline during the stop in progress. */
  unstopped: string[] | undefined = undefined
  /** Incarnations abandoned earlier (during restarts): how many, and the last one. */
  abandoned = 0
  lastAbandoned: { readonly path: string; readonly attempt: number; readonly at: number } | undefined = undefined
  /** Child processes that needed SIGKILL (process wards, ours and nested). */
  killed: string[] | undefined = undefined
  /** The last retired incarnation, for status. */
  last: Incarnation | undefined = undefined
  launchBound: (() => void) | undefined = undefined
  /** When the current incarnation started (kept when a backoff or a supervisor needs its uptime). */
  startedAt = 0
  backoffTimer: Timer | undefined = undefined
  /** A process ward's last probe failure, until a probe answers healthy (`noteProbe`). */
  probeFailure: ProbeFailure | undefined = undefined
  /** What the incarnation of `attempt` runs in (`noteSpawned`). */
  spawned: { readonly attempt: number; readonly info: SpawnedInfo } | undefined = undefined
}

/**
 * The run of a steward (top level, nested in another steward, or a
 * supervisor's child): the incarnations of one ward, their deadlines, and
 * the restart machine. The output stream is its base class
 * (`output-stream.ts`), the lifecycle below that (`lifecycle.ts`). Its
 * states and their moves are `run-states.ts`; what a failure leads to is
 * `decide` (`policy/restart-policy.ts`).
 *
 * What lies outside a run, each under one name:
 * - `upstream`: the context it was started from, when it is itself a ward
 *   (a nested steward), or a wrapper of that context;
 * - `parent`: `upstream` when that is another run's incarnation, whose run
 *   follows this one's state;
 * - the host (`ctx[wardHost]`): how a context reaches its run, for the runs,
 *   thread and process wards started inside it;
 * - `decider`: the supervisor of a supervisor's child, which makes the
 *   restart decision after the child's own. @internal
 */
export class StewardRun<T> extends OutputStream<T> implements Run<T>, Watched, WardHost, NestedRun {
  readonly options: ResolvedOptions
  /** The watchdog of the run's clock (a field: every beat reads its time cell, and a getter costs a beat a third more). */
  readonly watchdog: Watchdog

  // Watched (the watchdog reads these).
  lastBeat = 0
  progressAt = 0
  override state = STARTING
  heapIndex = -1

  current: Incarnation | undefined = undefined
  progress: unknown

  // Made at the first failure or retirement: a healthy idle run holds none.
  #log: RestartLog | undefined = undefined

  constructor(options: ResolvedOptions, start: StartOptions, upstream: WardContext | undefined, decider?: ChildDecider, path?: string) {
    super()
    this.options = options
    if (upstream !== undefined) this.linked.upstream = upstream
    this.watchdog = watchdogFor(start.clock ?? systemClock)
    this.progress = start.resume
    if (start.failuresHere !== undefined && start.failuresHere > 0) {
      // Failures counted elsewhere at this progress (a cluster checkpoint) count on here.
      const log = this.logged
      log.failuresHere = start.failuresHere
      log.progressAtFailure = start.resume
    }
    const host = upstream?.[wardHost]
    if (host !== undefined) {
      this.linked.path = `${host.path}/${options.name}`
      host.adopt(this)
      this.on((event) => host.emit(event))
    }
    if (isIncarnation(upstream)) this.flags |= NESTED
    if (path !== undefined) this.linked.path = path
    if (decider !== undefined) this.linked.decider = decider
    if (options.onEvent !== undefined) this.on(options.onEvent)
    if (start.onEvent !== undefined) this.on(start.onEvent)
    if (this.linkSignal(start.signal)) queueMicrotask(() => this.launchDue())
  }

  /** A beat must also call `afterBeat`: the current incarnation is not up yet, or the run is nested (a flag: a field would cost every run 8 bytes). */
  get beatsAside(): boolean {
    return (this.flags & BEATS_ASIDE) !== 0
  }

  get name(): string {
    return this.options.name
  }

  get clock(): Clock {
    return this.watchdog.clock
  }

  /** The parent incarnation's context when this steward is itself a ward (kept in the links: few runs nest). */
  get upstream(): WardContext | undefined {
    return this.links?.upstream
  }

  /** `upstream` when it is an incarnation of another steward's run, whose state then follows ours. */
  get parent(): Incarnation | undefined {
    return (this.flags & NESTED) !== 0 ? (this.upstream as Incarnation) : undefined
  }

  /** The heartbeat timeout now (the watchdog reads it): `startTimeout` until the incarnation is up. */
  get timeout(): number {
    const inc = this.current
    return inc !== undefined && !isReady(inc) ? this.options.startTimeout : this.options.timeout
  }

  get tickTimeout(): number {
    return Math.min(this.options.timeout, this.options.startTimeout)
  }

  /** The progress timeout now (the watchdog reads it): none until the incarnation is up, as a slow start is no livelock. */
  get progressTimeout(): number {
    const inc = this.current
    return inc !== undefined && !isReady(inc) ? Infinity : this.options.progressTimeout
  }

  get idleTimeout(): number {
    return this.options.idleTimeout
  }

  /** The field beats copy their time from. */
  get cell(): TimeCell {
    return this.watchdog.cell
  }

  /**
   * Failures in a row at the current progress: none once the progress has moved since the last
   * failure (a restart for a sibling's sake, or a dead letter, comes after progress that did).
   */
  private get failuresAtProgress(): number {
    const log = this.#log
    return log === undefined || log.failuresHere === 0 || !sameProgress(this.progress, log.progressAtFailure) ? 0 : log.failuresHere
  }

  private get logged(): RestartLog {
    return (this.#log ??= new RestartLog())
  }

  /** A process ward of this run (or nested in it) had to SIGKILL its child. */
  noteKilled(what: string): void {
    ;(this.logged.killed ??= []).push(what)
    const host = this.upstream?.[wardHost]
    if (host !== undefined) host.noteKilled(what)
  }

  /** A process ward's probe failed (or, with `null`, answered healthy again after failing). */
  noteProbe(failure: ProbeFailure | null): void {
    if (failure !== null) this.logged.probeFailure = failure
    else if (this.#log !== undefined) this.#log.probeFailure = undefined
  }

  /** A process or thread ward of the current incarnation spawned its child or worker. */
  noteSpawned(info: SpawnedInfo): void {
    if (this.current !== undefined) this.logged.spawned = { attempt: this.current.attempt, info }
  }

  /** A run started with the current incarnation as its parent. */
  adopt(child: NestedRun): void {
    if (this.current !== undefined) setChild(this.current, child)
  }

  protected killedList(): readonly string[] {
    return this.#log?.killed ?? []
  }

  // ---- status ---------------------------------------------------------------

  /** Incarnations started so far: the current one's attempt (0 before the first). */
  get attempts(): number {
    // The current incarnation's number, or the last one's once none is current (a count would cost every run a field).
    return (this.current ?? this.#log?.last)?.attempt ?? 0
  }

  /** How long the current incarnation has run, in ms (0 when not tracked). */
  get uptime(): number {
    const log = this.#log
    return log === undefined || this.current === undefined ? 0 : Math.max(0, this.clock.now() - log.startedAt)
  }

  status(): WardStatus {
    const child = childOf(this.current ?? this.#log?.last)
    const current = this.current
    const spawned = current !== undefined && this.#log?.spawned?.attempt === current.attempt ? this.#log.spawned.info : undefined
    const usage = spawned?.usage?.()
    return {
      name: this.options.name,
      path: this.path,
      kind: 'steward',
      state: this.stateName(),
      attempt: this.attempts,
      restarts: this.#log?.restarts ?? 0,
      restartReasons: restartReasonsOf(this.options, this.links?.decider),
      up: this.running && this.isUp,
      lastBeatAgo: this.running && this.state === WORKING ? Math.max(0, this.clock.now() - this.lastBeat) : null,
      progress: this.progress,
      failuresHere: this.failuresAtProgress,
      lastFailure: this.#log?.lastFailure === undefined ? null : errorInfo(this.#log.lastFailure),
      probeFailure: this.#log?.probeFailure ?? null,
      pid: spawned?.pid ?? null,
      threadId: spawned?.threadId ?? null,
      uptime: current === undefined || !this.running ? null : this.uptime,
      rss: usage?.rss ?? null,
      cpu: usage?.cpu ?? null,
      fds: usage?.fds ?? null,
      startTime: usage?.startTime ?? null,
      ...(spawned?.probe === undefined ? {} : { probe: spawned.probe }),
      abandoned: this.#log?.abandoned ?? 0,
      lastAbandoned: this.#log?.lastAbandoned ?? null,
      children: child === undefined ? [] : [child.status()],
    }
  }

  private stateName(): RunState {
    return this.end?.outcome?.kind ?? STATE_NAMES[this.state]!
  }

  // ---- states the watchdog follows --------------------------------------------

  /** The ward starts (or resumes) working: its heartbeat deadline runs from now. */
  work(): void {
    this.to(WORKING)
    const now = this.cell.now
    this.lastBeat = now
    // Only a run with a progress timeout writes the time here (a double would cost a box).
    if (this.options.progressTimeout !== Infinity) this.progressAt = now
    if (this.heapIndex === -1) this.watchdog.watch(this)
    if (this.parent !== undefined) runOf(this.parent).follow(this.parent, WORKING)
  }

  /** The ward waits, healthy without beating: for input (IDLE) or for its consumer (WAITING). */
  rest(state: typeof IDLE | typeof WAITING): void {
    this.to(state)
    if (state === IDLE && this.options.idleTimeout !== Infinity) {
      // The idle wait is watched too: its start is the stamp. Still filed under a working
      // deadline that comes later (`timeout` longer than `idleTimeout`), it is filed earlier.
      this.lastBeat = this.cell.now
      if (this.heapIndex === -1) this.watchdog.watch(this)
      else this.watchdog.hasten(this)
    }
    if (this.parent !== undefined) runOf(this.parent).follow(this.parent, state)
  }

  /** A nested steward (the ward of `inc`) changed state: this run's state follows it. */
  follow(inc: Incarnation, state: number): void {
    if (this.current !== inc || this.state === state) return
    if (state === WORKING) this.work()
    else this.rest(state as typeof IDLE | typeof WAITING)
  }

  /** The rest of a beat, when `beatsAside`: readiness, and the beat passed up to a parent. */
  afterBeat(inc: Incarnation, progress: unknown): void {
    if (!isReady(inc)) this.ready(inc)
    if (this.upstream !== undefined) this.upstream.beat(progress)
  }

  /**
   * The current incarnation showed it is up (first beat, output, idle wait, dead letter). Each of
   * these stamps `lastBeat` itself (a beat, a dead letter), or leaves WORKING and stamps it when it
   * works again (an idle wait, an output), so the steady deadline runs from the sign of life, not
   * from the incarnation's start.
   */
  ready(inc: Incarnation): void {
    if (this.current !== inc || isReady(inc)) return
    // Its deadline moves from `startTimeout` to `timeout`, and its progress deadline starts,
    // perhaps with the same stamps (a beat in the instant or tick it started), so the watchdog
    // must see it filed anew.
    const stalls = this.options.progressTimeout !== Infinity
    const refile = (this.options.startTimeout !== this.options.timeout || stalls) && this.heapIndex !== -1
    if (refile) this.watchdog.unwatch(this)
    markReady(inc)
    // Beats without progress count as a livelock from the first sign of life, not from the start.
    if (stalls) this.progressAt = this.cell.now
    if (this.upstream === undefined) this.flags &= ~BEATS_ASIDE
    if (refile && (this.state === WORKING || (this.state === IDLE && this.options.idleTimeout !== Infinity))) this.watchdog.watch(this)
    this.links?.decider?.childReady()
  }

  /** Whether the current incarnation is up (a supervisor's `startOrder: 'ready'` waits for it). */
  get isUp(): boolean {
    return this.current !== undefined && isReady(this.current)
  }

  // ---- incarnations -------------------------------------------------------------

  /**
   * The abort reason for incarnations retired for `why`, made once per run: a crash loop that
   * reads its signal would otherwise spend more on errors than on restarting. No stack: where the
   * steward retired a ward says nothing.
   */
  retiredError(why: string): WardRetiredError {
    // A few words at most, usually one: a list searched from the last one made.
    const errors = (this.logged.retiredErrors ??= [])
    for (let i = errors.length - 1; i >= 0; i--) if (errors[i]!.why === why) return errors[i]!
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = 0
    const error = new WardRetiredError(this.options.name, why)
    Error.stackTraceLimit = limit
    errors.push(error)
    return error
  }

  /** Starts the next incarnation if one is due, in STARTING or RESTARTING: a queued launch may find the run moved on. */
  private launchDue(): void {
    const state = this.state
    if (state !== STARTING && state !== RESTARTING) return
    // While user code runs synchronously from here, a restart must not re-enter (see launchSoon):
    // one that becomes due is the next turn of this loop, without a call or a microtask of its own.
    const outer = this.flags & (LAUNCHING | TRAMPOLINE)
    this.flags |= LAUNCHING | TRAMPOLINE
    try {
      do {
        this.flags &= ~RELAUNCH
        this.launchNow()
      } while ((this.flags & RELAUNCH) !== 0 && this.state === RESTARTING)
    } finally {
      this.flags = (this.flags & ~(LAUNCHING | TRAMPOLINE | RELAUNCH)) | outer
    }
  }

  private launchNow(): void {
    const inc = new Incarnation(this, this.attempts + 1, this.progress, this.failuresAtProgress)
    if (this.options.backoff !== undefined || this.links?.decider !== undefined) this.logged.startedAt = this.clock.now()
    // The old filing was computed with the steady deadlines: a shorter start deadline must not wait
    // behind it, and a longer one (or none yet for progress) must not be cut short by it when the
    // new incarnation's start has the stamps of the old one's last beat (a beat, then a throw, in
    // one instant or tick).
    const startsApart = this.options.startTimeout !== this.options.timeout || this.options.progressTimeout !== Infinity
    if (startsApart && this.heapIndex !== -1) this.watchdog.unwatch(this)
    this.current = inc
    this.flags |= BEATS_ASIDE
    this.work()
    if (this.listened) this.emit({ type: 'started', ...this.base(inc.attempt), resume: inc.resume })
    let result: unknown
    try {
      result = this.options.ward(inc)
    } catch (error) {
      if (endsLive(inc)) this.onFailure(inc, error)
      return
    }
    if (isThenable(result)) {
      setKind(inc, PROMISE)
      result.then(valued.bind(inc), errored.bind(inc))
    } else if (isAsyncIterable(result)) {
      this.launchStream(inc, result)
    } else {
      if (endsLive(inc)) this.onReturn(inc, result)
    }
  }

  /**
   * The ward of `inc` returned an async iterable: its stream incarnation is pumped for the consumer.
   * A method of its own, as are `nextOnceRetired`, `backOff` and `settledOrAbandoned`: a function
   * whose closures capture its locals allocates their context at every call, closure made or not,
   * and these closures would otherwise cost every restart one.
   */
  private launchStream(inc: Incarnation, result: AsyncIterable<unknown>): void {
    setKind(inc, STREAM)
    try {
      // Each answer goes straight to onStep (the kind is known), a throw through errored.
      inc[STREAM_PART] = new StreamPart(
        result[Symbol.asyncIterator](),
        (step) => this.onStep(inc, step),
        (error) => errored.call(inc, error),
      )
    } catch (error) {
      if (endsLive(inc)) this.onFailure(inc, error)
      return
    }
    if (result instanceof StewardRun) this.followChild(inc, result as StewardRun<unknown>)
    if (isRetired(inc)) this.close(inc)
    else if (this.consumerWaits) this.pump(inc)
    else if (this.current === inc) this.rest(WAITING)
  }

  /**
   * A nested steward ends on its own (completes or gives up) even when
   * nobody pulls its output: its outcome ends this incarnation.
   */
  private followChild(inc: Incarnation, child: StewardRun<unknown>): void {
    void child.done.then((outcome) => {
      if (!endsLive(inc)) return
      if (outcome.kind === 'gave-up') this.onFailure(inc, outcome.error)
      else this.onReturn(inc, outcome.kind === 'completed' ? outcome.value : undefined)
    })
  }

  /** From the watchdog: the working incarnation missed its deadline. */
  onHang(_now: number, cause: HangCause): void {
    const inc = this.current
    if (inc === undefined || !this.running) return
    const name = this.options.name
    if (cause === 'heartbeat') {
      const timeout = this.timeout
      // Why its probe failed, if it did (this incarnation's): a probe's own failure is not a frozen child.
      const failure = this.#log?.probeFailure
      const probeFailure = failure?.attempt === inc.attempt ? failure : undefined
      if (this.listened) {
        const overdue = Math.max(0, this.clock.now() - this.lastBeat - timeout)
        this.emit({ type: 'hung', ...this.base(inc.attempt), timeout, starting: !isReady(inc), overdue, ...(probeFailure === undefined ? {} : { probeFailure }) })
      }
      this.failedWith(inc, new WardHungError(name, timeout, probeFailure?.message), 'hung')
    } else if (cause === 'progress') {
      const progressTimeout = this.options.progressTimeout
      if (this.listened) this.emit({ type: 'stalled', ...this.base(inc.attempt), progressTimeout, progress: this.progress })
      this.failedWith(inc, new WardStalledError(name, progressTimeout), 'stalled')
    } else {
      const idleTimeout = this.options.idleTimeout
      if (this.listened) this.emit({ type: 'idle-timeout', ...this.base(inc.attempt), idleTimeout })
      this.failedWith(inc, new WardIdleTimeoutError(name, idleTimeout), 'idle')
    }
  }

  /** The incarnation threw or rejected (it had not been retired). */
  protected onFailure(inc: Incarnation, thrown: unknown): void {
    if (!this.running) return
    if (thrown instanceof DoNotRestart || thrown instanceof TerminateTree) return void this.stop(thrown)
    const error = asError(thrown)
    const reason = failureReason(error)
    if (this.listened) this.emit({ type: 'failed', ...this.base(inc.attempt), reason, error: errorInfo(error) })
    this.failedWith(inc, error, reason)
  }

  private failedWith(inc: Incarnation, error: Error, reason: RestartReason): void {
    const log = this.logged
    log.lastFailure = error
    if (log.failuresHere > 0 && sameProgress(this.progress, log.progressAtFailure)) log.failuresHere++
    else log.failuresHere = 1
    log.progressAtFailure = this.progress
    // The hook is asked where its answer counts: not for a temporary ward, unless it cannot be started.
    const hook = this.options.shouldRestart
    const answer = hook !== undefined && (reason === 'start' || this.options.restart !== 'temporary') ? this.asks(hook, error, inc, reason) : undefined
    this.decideRestart(inc, error, reason, answer)
  }

  /**
   * What `shouldRestart` returns: `false` declines a restart; for a start error only `true` asks for
   * one. A hook that throws is reported and counts as `undefined` (a restart, but not of a start error).
   */
  private asks(shouldRestart: NonNullable<ResolvedOptions['shouldRestart']>, error: Error, inc: Incarnation, reason: RestartReason): unknown {
    try {
      return shouldRestart(error, { attempt: inc.attempt, restarts: this.#log?.restarts ?? 0, reason })
    } catch (hookError) {
      process.emitWarning(
        `steward: shouldRestart of '${this.path}' threw (${reason === 'start' ? 'not restarting a start error' : 'restarting as if it returned true'}): ${String(hookError)}`,
        'StewardWarning',
      )
      return undefined
    }
  }

  /** The incarnation returned normally (it had not been retired). */
  protected onReturn(inc: Incarnation, value: unknown): void {
    if (!this.running) return
    if (value instanceof Output) {
      // A ward that returns `ctx.output(value, progress)`: the progress commits, the value is the result.
      this.commit(value.progress)
      value = value.value
    }
    if (value instanceof DoNotRestart || value instanceof TerminateTree) return void this.stop(value)
    // A nested steward that ended because its tree is terminating: so does this one.
    const childEnd = childOf(inc)?.outcome
    if (childEnd?.kind === 'stopped' && childEnd.reason instanceof TerminateTree) return void this.stop(childEnd.reason)
    if (this.options.restart !== 'permanent') {
      void this.retire(inc, 'completed')
      this.settleRun({ kind: 'completed', value, attempts: this.attempts, restarts: this.#log?.restarts ?? 0 })
      return
    }
    if (this.#log !== undefined) this.#log.failuresHere = 0
    const error = this.#log?.lastFailure ?? new Error(`ward '${this.options.name}' returned and its restart type is 'permanent'`)
    this.decideRestart(inc, error, 'returned', undefined)
  }

  /**
   * The incarnation failed (or returned under `permanent`): the one decision (`decide`, in
   * `policy/restart-policy.ts`) on the run's own policy — a supervisor's child has no limit and
   * no backoff of its own —, then, for a supervisor's child, its supervisor's decision.
   */
  private decideRestart(inc: Incarnation, error: Error, reason: RestartReason, answer: unknown): void {
    const options = this.options
    const log = this.logged
    // A crash loop without limit or backoff reads no clock, and asks `decide` nothing when the failure
    // is an ordinary one (its question would cost an allocation per restart): it restarts at once.
    const atOnce = restartsAtOnce(options.policy, log.policy)
    const now = atOnce ? 0 : this.clock.now()
    const decision =
      atOnce && answer === undefined && reason !== 'start' && options.restart !== 'temporary'
        ? RESTART_NOW
        : decide(options.policy, log.policy, { cannotStart: reason === 'start', temporary: options.restart === 'temporary', answer, now, uptime: now - log.startedAt })
    if (decision.state !== undefined) log.policy = decision.state
    if (decision.action === 'give-up') return this.giveUp(inc, error, decision.why!)
    if (decision.action === 'decline') {
      void this.stop(new DoNotRestart(`ward '${options.name}': shouldRestart declined to restart after: ${error.message}`, { cause: error }))
      return
    }
    const decider = this.links?.decider
    if (decider !== undefined) return decider.childFailed(reason, error)
    this.replace(inc, reason, decision.delay)
  }

  /** Emits `restarting`, retires `inc`, and launches the next incarnation once it settled and `delay` passed. */
  private replace(inc: Incarnation, reason: RestartReason, delay: number): void {
    const log = this.logged
    log.restarts++
    if (this.listened) this.emit({ type: 'restarting', ...this.base(inc.attempt), reason, restarts: log.restarts, delay })
    this.upstream?.beat()
    const retiring = this.retire(inc, reason)
    if (retiring === true) this.nextAfterRetiring(delay)
    else this.nextOnceRetired(log, retiring, delay)
  }

  /** The retirement of a restart takes time: the next launch waits for it. */
  private nextOnceRetired(log: RestartLog, retiring: Promise<boolean>, delay: number): void {
    log.retiring = retiring
    void retiring.then(() => {
      if (log.retiring === retiring) log.retiring = undefined
      if (this.state === RETIRING) this.nextAfterRetiring(delay)
    })
  }

  /** RETIRING is over: the next launch, after `delay` (a timer on the run's clock, which stop() cancels). */
  private nextAfterRetiring(delay: number): void {
    if (delay === 0) {
      this.to(RESTARTING)
      return this.launchSoon()
    }
    this.backOff(this.logged, delay)
  }

  /** The next launch after `delay` ms (BACKOFF): a timer on the run's clock, which stop() cancels. */
  private backOff(log: RestartLog, delay: number): void {
    this.to(BACKOFF)
    log.backoffTimer = this.clock.setTimer(delay, () => {
      log.backoffTimer = undefined
      this.to(RESTARTING)
      this.launchDue()
    })
  }

  /**
   * For a supervisor: retires the current incarnation for `reason` (a restart of this child, or
   * of a sibling under one-for-all / rest-for-one) and holds the next launch until `relaunch()`.
   * Resolves once the incarnation settled or was abandoned. `delay` is the backoff the
   * supervisor will wait, for the `restarting` event.
   */
  retireFor(reason: RestartReason, delay: number): Promise<void> {
    if (!this.running) return Promise.resolve()
    const log = this.logged
    const pending = log.retiring
    const inc = this.current ?? (pending === undefined ? undefined : log.last)
    log.restarts++
    if (this.listened) this.emit({ type: 'restarting', ...this.base(inc?.attempt ?? this.attempts), reason, restarts: log.restarts, delay })
    this.upstream?.beat()
    if (this.current === undefined) {
      // Between incarnations: its next launch waits for the supervisor now (after a retirement in progress).
      if (this.state !== RETIRING && this.state !== HELD) this.to(HELD)
      return pending === undefined ? Promise.resolve() : pending.then(noop)
    }
    const retiring = this.retire(this.current, reason)
    if (retiring === true) {
      this.to(HELD)
      return Promise.resolve()
    }
    log.retiring = retiring
    return retiring.then(() => {
      if (log.retiring === retiring) log.retiring = undefined
      if (this.state === RETIRING) this.to(HELD)
    })
  }

  /** For a supervisor: it waits for its backoff before `relaunch()` (shown in status). */
  holdForBackoff(): void {
    if (this.state === HELD) this.to(BACKOFF)
  }

  /** For a supervisor: starts the next incarnation after `retireFor`. */
  relaunch(): void {
    if (this.state !== HELD && this.state !== BACKOFF) return
    this.to(RESTARTING)
    this.launchSoon()
  }

  /**
   * Starts the next incarnation of an already settled one: at once when called from a promise
   * reaction; as the next turn of `launchDue`'s loop when inside it (a synchronous throw, which
   * would recurse); after a microtask when inside another launch (a stream's pump); and after a
   * macrotask turn every RESTARTS_PER_TURN restarts, so a crash loop cannot starve I/O. That turn
   * launches from a microtask: a ward's throw costs twice as much inside an immediate's callback
   * as inside a microtask (Node 24: 490 vs 250 ns), and the launches that follow run in its loop.
   */
  private launchSoon(): void {
    const log = this.logged
    if (++log.restartsThisTurn >= RESTARTS_PER_TURN) {
      log.restartsThisTurn = 0
      setImmediate(queueMicrotask, (log.launchBound ??= this.launchDue.bind(this)))
    } else if ((this.flags & TRAMPOLINE) !== 0) {
      this.flags |= RELAUNCH
    } else if ((this.flags & LAUNCHING) !== 0) {
      queueMicrotask((log.launchBound ??= this.launchDue.bind(this)))
    } else {
      this.launchDue()
    }
  }

  /**
   * For a supervisor that lets a child give up alone (strategy `independent`): ends the run as
   * given up (`reason` `'limit'`) with `cause`, the failure that exceeded the child's intensity.
   */
  giveUpAlone(cause: Error): void {
    if (!this.running) return
    this.giveUp(this.current, cause, 'limit')
  }

  private giveUp(inc: Incarnation | undefined, cause: Error, reason: GiveUpReason): void {
    const error = new GaveUpError(this.options.name, this.logged.restarts, reason, cause)
    this.finishRun(inc, 'the steward gave up', () => {
      if (this.listened) {
        this.emit({ type: 'gave-up', ...this.base(inc?.attempt ?? this.attempts), restarts: this.logged.restarts, error: errorInfo(cause) })
      }
      return { kind: 'gave-up', error, attempts: this.attempts, restarts: this.#log?.restarts ?? 0 }
    })
  }

  protected beginStop(reason: unknown): void {
    this.finishRun(this.current, reason === undefined ? 'stopped' : { reason }, () => {
      const unstopped = [...(this.logged.unstopped ?? [])]
      if (this.listened) this.emit({ type: 'stopped', ...this.base(this.attempts), unstopped })
      return { kind: 'stopped', reason, unstopped, attempts: this.attempts, restarts: this.#log?.restarts ?? 0 }
    })
  }

  /** Retires `inc` (if any), waits for a restart retirement in progress, then settles. */
  private finishRun(inc: Incarnation | undefined, why: RetireWhy, outcome: () => Outcome): void {
    this.to(STOPPING)
    const log = this.#log
    if (log?.backoffTimer !== undefined) {
      log.backoffTimer.cancel()
      log.backoffTimer = undefined
    }
    const retiring = inc === undefined || isRetired(inc) ? true : this.retire(inc, why)
    const pending = this.#log?.retiring
    this.ended.ending = (async () => {
      if (pending !== undefined) await pending
      if (retiring !== true) await retiring
      this.settleRun(outcome())
    })()
  }

  /**
   * Aborts `inc` (with `why` as the abort reason) and closes it. Returns `true` when it has settled already,
   * or a promise of whether it settled within `stopTimeout`.
   */
  private retire(inc: Incarnation, why: RetireWhy): true | Promise<boolean> {
    markRetired(inc, why)
    if (this.current === inc) {
      this.logged.last = inc
      this.current = undefined
      // Left in the watchdog's heap: the next incarnation is usually filed at once, and an
      // entry that is not working when its deadline comes up is dropped then.
      if (this.running) this.to(RETIRING)
    }
    const controller = inc[CONTROLLER]
    if (controller !== undefined) controller.abort(abortReason(inc))
    cancelIdle(inc)
    if (isSettled(inc)) return true
    this.close(inc)
    if (isSettled(inc)) return true
    return this.settledOrAbandoned(inc)
  }

  /** Whether `inc` settles within `stopTimeout`: once the deadline passes it is abandoned (`unstopped`). */
  private settledOrAbandoned(inc: Incarnation): Promise<boolean> {
    return new Promise<boolean>((resolve) => {
      const timer: Timer = this.clock.setTimer(this.options.stopTimeout, () => {
        onSettled(inc, undefined)
        this.abandoned([this.path], inc.attempt)
        if (this.listened) {
          this.emit({ type: 'unstopped', ...this.base(inc.attempt), stopTimeout: this.options.stopTimeout })
        }
        resolve(false)
      })
      onSettled(inc, () => {
        timer.cancel()
        resolve(true)
      })
    })
  }

  private settleRun(outcome: Outcome): void {
    this.settleWith(outcome, () => {
      if (this.current !== undefined) {
        this.logged.last = this.current
        this.current = undefined
      }
      this.watchdog.unwatch(this)
      const upstream = this.upstream
      if (isIncarnation(upstream) && outcome.kind === 'stopped' && outcome.unstopped.length > 0) {
        runOf(upstream).noteUnstopped(outcome.unstopped)
      }
      this.endStream(outcome)
    })
  }

  /** A nested run's stop abandoned these wards: they belong in this run's report (or status) too. */
  noteUnstopped(paths: readonly string[]): void {
    this.abandoned(paths, this.attempts)
  }

  /**
   * Wards abandoned after their stop deadline: in the report of the stop in progress, or, when a
   * restart abandoned them, in status (`abandoned`, `lastAbandoned`): a later stop is not theirs.
   */
  private abandoned(paths: readonly string[], attempt: number): void {
    const log = this.logged
    if (!this.running) {
      ;(log.unstopped ??= []).push(...paths)
      return
    }
    log.abandoned += paths.length
    log.lastAbandoned = { path: paths.at(-1)!, attempt, at: this.clock.now() }
  }

  // ---- the output stream's hooks -----------------------------------------------------

  /** Records progress the consumer now has (an output's, or a dead letter's next). */
  protected commit(progress: unknown): void {
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
    this.commit(next)
    // A sign of life: it counts as a beat (the ward may dead-letter without beating).
    this.lastBeat = this.cell.now
    if (this.parent !== undefined) this.parent.beat(next)
    if (this.listened) this.emit({ type: 'dead-letter', ...this.base(inc.attempt), ...letter })
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
    if (kindOf(inc) === STREAM) this.onStep(inc, value as IteratorResult<unknown>)
    else if (endsLive(inc)) this.onReturn(inc, value)
  }

  /** From an incarnation that has not been retired: it threw or rejected. */
  onError(inc: Incarnation, error: unknown): void {
    this.onFailure(inc, error)
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
