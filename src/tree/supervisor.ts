import type { EventListener, RestartReason } from '../observe/events.js'
import type { WardStatus } from '../observe/status.js'
import type { Backoff } from '../policy/backoff.js'
import { decide, initialRestartState, type RestartPolicy, type RestartPolicyState } from '../policy/restart-policy.js'
import { systemClock, type Clock, type Timer } from '../time/clock.js'
import { describe, type Duration } from '../time/duration.js'
import { ChildNotUpError, errorInfo, GaveUpError, UnknownChildError, type GiveUpReason } from '../steward/errors.js'
import { wardHost } from '../steward/host.js'
import { RunLifecycle, type ChildDecider } from '../steward/lifecycle.js'
import { STOPPING } from '../steward/run-states.js'
import type { RestartType, StartOrder, StewardOptions } from '../steward/options.js'
import { checkStartOptions } from '../steward/validate.js'
import { resolveChildSpec, resolveSupervisorOptions, type ResolvedChild, type ResolvedSupervisorOptions } from './validate.js'
import type { Lifecycle, Outcome, StopReport } from '../steward/run-api.js'
import { StewardRun } from '../steward/run.js'
import { TerminateTree } from '../steward/sentinels.js'
import { restartReasonsOf } from '../steward/restart-reasons.js'
import type { Ward, WardContext } from '../steward/ward.js'

/**
 * What a supervisor does when a child must be restarted (OTP's strategies):
 * - `one-for-one`: restart that child;
 * - `one-for-all`: stop every other child (in reverse start order), then start all again in order;
 * - `rest-for-one`: stop the children started after it (in reverse order), then start it and them again;
 * - `independent`: restart that child, with an intensity of its own (`maxRestarts` within `within`,
 *   or `decay`, counted per child): a child that exceeds it gives up alone — kept in `status()` as
 *   `gave-up`, its `gave-up` event on its path — while its siblings run on, and the supervisor never
 *   escalates for a child. `startChild` or `restartChild` starts it again with a fresh count. The
 *   supervisor gives up when every child it keeps has given up (none runs, none was stopped by
 *   `stopChild`). systemd's independent units; `steward up`'s default.
 */
export type Strategy = 'one-for-one' | 'one-for-all' | 'rest-for-one' | 'independent'

/**
 * A child's ward: a {@link Ward}, declared as a method so that its context
 * is compared both ways. A child's progress is its own (the supervisor never
 * hands a child another's), so a list of children holds wards of different
 * progress types: `ChildSpec` (progress `unknown`) takes a `Ward<T, number>`
 * as it is, while a ward written in the list without annotating `ctx` still
 * gets a `WardContext<unknown>`, not `any`.
 */
type ChildWard<T, P> = { ward(ctx: WardContext<P>): ReturnType<Ward<T, P>> }['ward']

/**
 * A child of a supervisor: a named ward with the steward options that apply
 * to one child. Its restarts are decided by the supervisor (restart type,
 * intensity, backoff, strategy), so `maxRestarts`, `within`, `backoff` and
 * `onEvent` belong on the supervisor and are refused here. `T` and `P` are
 * the ward's output and progress types; the default, `ChildSpec`, takes a
 * ward of any progress type (see {@link supervisor}).
 */
export interface ChildSpec<T = unknown, P = unknown>
  extends Pick<
    StewardOptions,
    'timeout' | 'startTimeout' | 'pulseInterval' | 'progressTimeout' | 'idleTimeout' | 'stopTimeout' | 'poisonAfter' | 'onDeadLetter' | 'shouldRestart'
  > {
  /** Unique among the supervisor's children. */
  readonly name: string
  /** The child's ward: run, watched and restarted by the supervisor. */
  readonly ward: ChildWard<T, P>
  /**
   * OTP's restart types, decided by the supervisor: `permanent` is always
   * restarted, `transient` only after a failure, `temporary` never.
   * @default 'permanent'
   */
  readonly restart?: RestartType
}

/** Options of {@link supervisor}. */
export interface SupervisorOptions {
  /** @default 'supervisor' */
  readonly name?: string
  /** @default 'one-for-one' */
  readonly strategy?: Strategy
  /**
   * More than this many restarts within `within` makes the supervisor stop its
   * children and fail (escalate to its own parent). OTP's intensity.
   * @default 3
   */
  readonly maxRestarts?: number
  /** OTP's period. @default '5s' */
  readonly within?: Duration
  /**
   * suture's decaying failure count instead of `maxRestarts`/`within`: each
   * failure adds 1, the count halves every `halfLife`, above `threshold` escalates.
   */
  readonly decay?: { readonly threshold: number; readonly halfLife: Duration }
  /** The wait before each restart (a policy from `exponential()` …). @default none */
  readonly backoff?: Backoff
  /**
   * How children start, at first and after a strategy restart: `'started'`
   * starts each right after the previous one; `'ready'` waits for the
   * previous one to be up (its first beat, output or idle wait) — OTP's
   * synchronous `init`, systemd's `After=` with `READY=1`.
   * @default 'started'
   */
  readonly startOrder?: StartOrder
  /** Receives every event of the supervisor and its children. */
  readonly onEvent?: EventListener
}

/** Options of {@link Supervisor.start}. */
export interface SupervisorStartOptions {
  readonly signal?: AbortSignal
  /** @default systemClock */
  readonly clock?: Clock
  readonly onEvent?: EventListener
}

/** Every key of {@link SupervisorStartOptions}: `start()` refuses any other. */
const supervisorStartKeys = ['signal', 'clock', 'onEvent'] as const satisfies readonly (keyof SupervisorStartOptions)[]
const _supervisorStartKeysListed: [Exclude<keyof SupervisorStartOptions, (typeof supervisorStartKeys)[number]>] extends [never] ? true : never = true

/** A started supervisor: its children run until it is stopped or escalates. */
export interface SupervisorRun extends Lifecycle {
  /** Stops the children in reverse start order, each within its stop deadline; one teardown however often it is called. */
  stop(reason?: unknown): Promise<StopReport>
  /** Adds a child at the end and starts it. */
  add(child: ChildSpec): void
  /** Stops a child and forgets it. Resolves with the child's stop report. */
  remove(name: string): Promise<StopReport>
  /**
   * An operator's restart of child `name`: its current incarnation is retired (within its stop
   * deadline) and the next one started at once, with no backoff (unless a restart in progress
   * with a backoff takes it in). It does not count toward the supervisor's intensity. The strategy
   * applies: under `one-for-all` every other child restarts with it, under `rest-for-one` those
   * started after it (their reason `sibling`); its own `restarting` event has the reason `manual`,
   * after a `decision` event with that reason. A child that is not running (stopped by
   * {@link SupervisorRun.stopChild}, given up, not started) is started, as by `startChild`.
   * Resolves once the new incarnation was launched (not necessarily up), or with `{ wait: 'up' }`
   * once it is up (see {@link ChildWaitOptions}). Rejects with an `UnknownChildError` for a name
   * the supervisor does not have, and when it is not running.
   */
  restartChild(name: string, options?: ChildWaitOptions): Promise<void>
  /**
   * Stops child `name` (within its stop deadline) and keeps it stopped — in `status()` with
   * state `stopped` — until {@link SupervisorRun.startChild}; its siblings run on, no strategy
   * restarts it, and the supervisor does not end while it keeps a child stopped this way (its own
   * `stop()` ends it). Resolves with the child's stop report; at once for a child not running.
   */
  stopChild(name: string): Promise<StopReport>
  /**
   * Starts child `name` again when it is not running: stopped by `stopChild`, given up (a start
   * error, or its own intensity under `independent`), or stopping (it waits for that first). It
   * starts as a new run: attempt 1, no restarts, no resume point, a fresh intensity count. A
   * running child is left alone. Resolves once it was launched, or with `{ wait: 'up' }` once it is
   * up (a running child: once its current incarnation is).
   */
  startChild(name: string, options?: ChildWaitOptions): Promise<void>
  /**
   * Replaces the child of `spec.name` by `spec` (validated first, as `supervisor()` does): the old
   * one is stopped, then the new one started in its place, the same position in start and stop
   * order, as a new run. For a config reload. Resolves once the new one was launched, or with
   * `{ wait: 'up' }` once it is up. Rejects with an `UnknownChildError` for a name the supervisor
   * does not have.
   */
  replaceChild(spec: ChildSpec, options?: ChildWaitOptions): Promise<void>
}

/**
 * How long an operator's `restartChild`, `startChild` or `replaceChild` waits. With `wait: 'up'`
 * it resolves only once the incarnation it started is up — its first beat, output or idle wait,
 * what `startOrder: 'ready'` waits for — and rejects with a `ChildNotUpError` as soon as that
 * incarnation ends before it is up: it failed (a crash, or its start deadline `startTimeout`
 * passed), its run ended (gave up, stopped, completed), or the supervisor began to stop. The
 * child is handled as always either way (a failure restarted as the policy says): only the wait
 * ends. So a caller restarting several children one at a time (a rolling restart) moves on only
 * when the previous one is serving again, and stops at the first that is not.
 */
export interface ChildWaitOptions {
  /** @default 'launched' */
  readonly wait?: 'launched' | 'up'
}

/** A supervisor: a ward (so it nests in stewards and supervisors) with `start()`. */
export interface Supervisor {
  (ctx: WardContext): Promise<void>
  /** Starts the supervisor on its own (not as a ward): its children start in order. */
  start(options?: SupervisorStartOptions): SupervisorRun
}

/** Supervisor options after validation, with the restart policy. @internal */
interface Resolved extends ResolvedSupervisorOptions {
  readonly policy: RestartPolicy
}

function resolve(options: SupervisorOptions | undefined): Resolved {
  const resolved = resolveSupervisorOptions(options)
  return { ...resolved, policy: { intensity: resolved.intensity, backoff: resolved.backoff } }
}

/** A supervisor's restart reasons: none (its children's restarts are theirs). */
const noReasons: readonly RestartReason[] = Object.freeze([])

/**
 * The status of a child not started yet: it waits for the one before it to be up (`waitingFor`),
 * is blocked by it, or an operator stopped it first.
 */
function notStarted(path: string, name: string, waitingFor: string | undefined, blocked: boolean, stopped: boolean, restartReasons: readonly RestartReason[]): WardStatus {
  return {
    ...(waitingFor === undefined ? {} : { waitingFor }),
    ...(blocked ? { blocked: true as const } : {}),
    name,
    path,
    kind: 'steward',
    state: stopped ? 'stopped' : 'starting',
    attempt: 0,
    restarts: 0,
    restartReasons,
    up: false,
    lastBeatAgo: null,
    progress: undefined,
    failuresHere: 0,
    lastFailure: null,
    probeFailure: null,
      pid: null,
      threadId: null,
      uptime: null,
      rss: null,
      cpu: null,
      fds: null,
      startTime: null,
    abandoned: 0,
    lastAbandoned: null,
    children: [],
  }
}

/** `options.wait`, checked: an operator's call with a typo must not silently skip the wait. */
function waitOption(options: ChildWaitOptions | undefined, path: string): 'launched' | 'up' {
  const wait: unknown = options?.wait ?? 'launched'
  if (wait !== 'launched' && wait !== 'up') throw new TypeError(`supervisor '${path}': option 'wait' must be 'launched' or 'up', got ${describe(wait)}`)
  return wait
}

/** Why a child's run that ended was never up, for a `ChildNotUpError`. */
function endedWhy(outcome: Outcome): string {
  if (outcome.kind === 'gave-up') return `it gave up: ${outcome.error.cause.message}`
  if (outcome.kind === 'completed') return 'it completed'
  return 'it was stopped'
}

/** A restart being carried out: the children it restarts, the retirements it waits for, its backoff. */
class Restart {
  readonly children = new Set<Child>()
  readonly retiring: Promise<void>[] = []
  readonly delay: number

  constructor(delay: number) {
    this.delay = delay
  }
}

/** A child as the supervisor keeps it: one steward run for its whole life, restarted by the supervisor. */
class Child implements ChildDecider {
  readonly tree: SupervisorTree
  readonly spec: ResolvedChild
  run: StewardRun<unknown> | undefined = undefined
  /** Retired by a restart in progress and waiting to be started again. */
  awaitingRestart = false
  /** The restart that will start it again (a newer one takes a child over from an older one). */
  owner: Restart | undefined = undefined
  /**
   * Kept while not running, settled, so that status shows it (no strategy restarts it):
   * `start`, its run gave up because its ward could not be started (a `WardStartError`);
   * `gave-up`, it exceeded its own intensity under `independent`; `stopped`, an operator stopped it
   * (`stopChild`, or while `replaceChild` swaps it). `undefined` while it runs (or waits to start).
   */
  kept: 'start' | 'gave-up' | 'stopped' | undefined = undefined
  /** Under `independent`: its own intensity. */
  policy: RestartPolicyState | undefined = undefined
  counted = 0
  /** Left unstarted (`startOrder: 'ready'`): the child before it, which ended without being up. */
  blockedBy: string | undefined = undefined
  /** Waits for this child to be up: the first start's (no owner) and restarts' (their owner). */
  readonly #waiters = new Set<{ readonly wake: () => void; readonly owner: Restart | undefined }>()
  /** Operators' waits (`{ wait: 'up' }`) for an incarnation of `run` after attempt `after`; `end` settles one. Made on the first. */
  #upWaits: Set<{ readonly run: StewardRun<unknown>; readonly after: number; readonly end: (error?: Error) => void }> | undefined = undefined

  constructor(tree: SupervisorTree, spec: ResolvedChild) {
    this.tree = tree
    this.spec = spec
  }

  get name(): string {
    return this.spec.name
  }

  childFailed(reason: string, error: Error): void {
    const run = this.run
    // The incarnation an operator waits for failed before it was up (one that was up is not waited for).
    if (run !== undefined && this.#upWaits !== undefined) for (const wait of [...this.#upWaits]) if (wait.run === run && run.attempts > wait.after) wait.end(new ChildNotUpError(this.tree.path, this.name, `it failed (${reason}): ${error.message}`, error))
    this.tree.childFailed(this, reason as RestartReason, error)
  }

  get siblingRestarts(): boolean {
    return this.tree.restartsSiblings
  }

  /** It is up, or its run ended: every wait for it ends. */
  childReady(): void {
    for (const waiter of [...this.#waiters]) waiter.wake()
    if (this.#upWaits !== undefined) for (const wait of [...this.#upWaits]) {
      const { run } = wait
      if (run.outcome !== undefined) wait.end(new ChildNotUpError(this.tree.path, this.name, endedWhy(run.outcome), run.outcome.kind === 'gave-up' ? run.outcome.error : undefined))
      else if (run.isUp && run.attempts > wait.after) wait.end()
    }
  }

  /**
   * Resolves once an incarnation of `run` after attempt `after` is up; rejects with a
   * `ChildNotUpError` when one fails before it is up, when `run` ends, or when the supervisor
   * starts stopping. Made before the incarnation is launched, so no failure is missed.
   */
  upAfter(run: StewardRun<unknown>, after: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const wait = {
        run,
        after,
        end: (error?: Error): void => {
          if (this.#upWaits?.delete(wait) !== true) return
          this.tree.offStopping(onStopping)
          if (error === undefined) resolve()
          else reject(error)
        },
      }
      const onStopping = (): void => wait.end(new ChildNotUpError(this.tree.path, this.name, `supervisor '${this.tree.path}' is stopping`))
      ;(this.#upWaits ??= new Set()).add(wait)
      this.tree.onStopping(onStopping)
      // Already there (a child that was up and is left alone, or a run that ended).
      if (run.outcome !== undefined || (run.isUp && run.attempts > after)) this.childReady()
    })
  }

  /**
   * A newer restart took it over from `owner`: only that restart stops waiting for it (the newer
   * one starts it). A wait of the first start goes on through restarts until it is up.
   */
  takenOver(owner: Restart): void {
    for (const waiter of [...this.#waiters]) if (waiter.owner === owner) waiter.wake()
  }

  /**
   * Resolves when the child is up, or its run ended, or the supervisor started stopping, or (for
   * a wait of restart `owner`) a newer restart took it over.
   */
  ready(owner?: Restart): Promise<void> {
    const run = this.run
    if (run === undefined || run.isUp || run.outcome !== undefined) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const waiter = {
        owner,
        wake: (): void => {
          this.tree.offStopping(waiter.wake)
          this.#waiters.delete(waiter)
          resolve()
        },
      }
      this.#waiters.add(waiter)
      this.tree.onStopping(waiter.wake)
    })
  }

  /** Whether its run ended without being up and without completing: the children after it must not start. */
  get endedDown(): boolean {
    const outcome = this.run?.outcome
    // A child that completed (a one-shot task: a migration) did its part: the next ones start.
    if (outcome?.kind === 'completed') return false
    // One that could not be started, or a temporary child that failed (forgotten), did not.
    return this.kept === 'start' || !this.tree.has(this) || outcome !== undefined
  }
}

/** The running supervisor (top level, or the work of a supervisor used as a ward). @internal */
export class SupervisorTree extends RunLifecycle implements SupervisorRun {
  readonly #options: Resolved
  readonly clock: Clock
  readonly #children: Child[] = []
  readonly #attempt: number
  #policy: RestartPolicyState
  #restarts = 0
  /** The intensity's measure at the last counted decision. */
  #counted = 0
  /** The restart that is still gathering its children (not starting them again yet), if any. */
  #gathering: Restart | undefined = undefined
  #lastFailure: Error | undefined
  /** The failure of the child that left others unstarted (`blocked`), for the give-up when nothing else runs. */
  #blockedCause: Error | undefined
  /** Child processes its children's runs had to SIGKILL while it stopped. */
  readonly #killed: string[] = []
  /** Restarts in progress (a strategy's stop-then-start), so a stop waits for them. */
  #busy: Promise<void> = Promise.resolve()
  #backoffTimer: Timer | undefined
  /** Called when the supervisor starts stopping: a backoff wait, a wait for a child to be ready. */
  #onStopping = new Set<() => void>()

  constructor(options: Resolved, children: readonly ResolvedChild[], clock: Clock, path: string, signal: AbortSignal | undefined, attempt: number, onEvent?: EventListener) {
    super()
    this.#options = options
    this.clock = clock
    this.#attempt = attempt
    this.#policy = initialRestartState(options.policy)
    if (path !== options.name) this.linked.path = path
    if (options.onEvent !== undefined) this.on(options.onEvent)
    if (onEvent !== undefined) this.on(onEvent)
    for (const spec of children) this.#children.push(new Child(this, spec))
    if (this.linkSignal(signal)) queueMicrotask(() => void this.#startAll())
  }

  get name(): string {
    return this.#options.name
  }

  /** Whether its strategy restarts other children with a failed one (one-for-all, rest-for-one). */
  get restartsSiblings(): boolean {
    return this.#options.strategy === 'one-for-all' || this.#options.strategy === 'rest-for-one'
  }

  /** Whether `child` is still one of its children. */
  has(child: Child): boolean {
    return this.#children.includes(child)
  }

  /** Runs `callback` when the supervisor starts stopping (at once if it has). */
  onStopping(callback: () => void): void {
    if (!this.running) callback()
    else this.#onStopping.add(callback)
  }

  offStopping(callback: () => void): void {
    this.#onStopping.delete(callback)
  }

  protected killedList(): readonly string[] {
    return this.#killed
  }

  add(spec: ChildSpec): void {
    if (!this.running) throw new Error(`supervisor '${this.path}' is not running`)
    const resolved = resolveChildSpec(spec, new Set(this.#children.map((child) => child.name)), this.name)
    const child = new Child(this, resolved)
    this.#children.push(child)
    this.#start(child)
  }

  async remove(name: string): Promise<StopReport> {
    const index = this.#children.indexOf(this.#child(name))
    const [child] = this.#children.splice(index, 1)
    const report = (await child!.run?.stop()) ?? { unstopped: [], killed: [] }
    if (this.running) this.#endIfNoneRuns()
    return report
  }

  #child(name: string): Child {
    const child = this.#children.find((each) => each.name === name)
    if (child === undefined) throw new UnknownChildError(this.path, name, this.#children.map((each) => each.name))
    return child
  }

  #mustRun(what: string): void {
    if (!this.running) throw new Error(`supervisor '${this.path}' is not running: cannot ${what}`)
  }

  async restartChild(name: string, options?: ChildWaitOptions): Promise<void> {
    const child = this.#child(name)
    this.#mustRun(`restart '${name}'`)
    const wait = waitOption(options, this.path)
    const run = child.run
    if (child.kept !== undefined || run === undefined || run.outcome !== undefined) return this.startChild(name, options)
    // Before anything is retired or launched: the new incarnation's every end is seen.
    const up = wait === 'up' ? child.upAfter(run, run.attempts) : undefined
    const strategy = this.#options.strategy
    const index = this.#children.indexOf(child)
    const affected = (strategy === 'one-for-all' ? [...this.#children] : strategy === 'rest-for-one' ? this.#children.slice(index) : [child]).filter((other) => other.kept === undefined)
    const gathering = this.#gathering
    const restart = gathering ?? new Restart(0)
    if (this.listened) {
      const intensity = this.#options.policy.intensity
      const window = 'maxRestarts' in intensity
      const counted = strategy === 'independent' ? child.counted : this.#counted
      this.emit({
        type: 'decision',
        ...this.base(this.#attempt),
        child: name,
        reason: 'manual',
        strategy,
        action: 'restart',
        restarting: affected.map((other) => other.name),
        merged: gathering !== undefined,
        restarts: window ? counted : Math.round(counted * 1000) / 1000,
        maxRestarts: window ? intensity.maxRestarts : intensity.threshold,
        within: window ? intensity.within : intensity.halfLife,
        intensity: window ? 'window' : 'decay',
        delay: restart.delay,
      })
    }
    this.#restarts++
    for (const other of affected) {
      if (other.owner !== undefined && other.owner !== restart) other.takenOver(other.owner)
      restart.children.add(other)
      other.owner = restart
    }
    if (!child.awaitingRestart) {
      child.awaitingRestart = true
      restart.retiring.push(run.retireFor('manual', restart.delay))
    }
    if (gathering === undefined) {
      this.#gathering = restart
      this.#busy = this.#busy.then(() => this.#carryOut(restart))
    }
    await this.#busy
    await up
  }

  async stopChild(name: string): Promise<StopReport> {
    const child = this.#child(name)
    this.#mustRun(`stop '${name}'`)
    const run = child.run
    const running = child.kept === undefined && run !== undefined && run.outcome === undefined
    child.kept = 'stopped'
    child.owner = undefined
    child.awaitingRestart = false
    return running ? run.stop() : { unstopped: [], killed: [] }
  }

  async startChild(name: string, options?: ChildWaitOptions): Promise<void> {
    const child = this.#child(name)
    this.#mustRun(`start '${name}'`)
    const wait = waitOption(options, this.path)
    const run = child.run
    // Running (or in a restart that launches it), or started meanwhile: with 'up', until its current incarnation is up.
    const running = (): Promise<void> => (wait === 'up' && child.run !== undefined ? child.upAfter(child.run, child.run.attempts - 1) : Promise.resolve())
    if (run !== undefined && run.outcome === undefined) {
      if (child.kept === undefined) return running()
      await run.done // a stopChild in progress
      if (!this.running || !this.#children.includes(child)) return
    }
    if (child.kept === undefined && child.run !== undefined && child.run.outcome === undefined) return running()
    child.kept = undefined
    child.policy = undefined
    child.counted = 0
    child.owner = undefined
    child.awaitingRestart = false
    child.blockedBy = undefined
    const started = this.#start(child)
    if (wait === 'up') await child.upAfter(started, 0)
  }

  async replaceChild(spec: ChildSpec, options?: ChildWaitOptions): Promise<void> {
    const name = (spec as { name?: unknown } | null)?.name
    const old = this.#child(typeof name === 'string' ? name : String(name))
    this.#mustRun(`replace '${old.name}'`)
    const wait = waitOption(options, this.path)
    const others = new Set(this.#children.filter((child) => child !== old).map((child) => child.name))
    const fresh = new Child(this, resolveChildSpec(spec, others, this.name))
    // Kept aside while the old one stops: no restart of a sibling starts it early.
    fresh.kept = 'stopped'
    this.#children[this.#children.indexOf(old)] = fresh
    old.owner = undefined
    await old.run?.stop()
    if (!this.running || !this.#children.includes(fresh) || fresh.kept !== 'stopped') {
      if (wait === 'up') throw new ChildNotUpError(this.path, fresh.name, this.running ? 'it was stopped or removed while the old one stopped' : `supervisor '${this.path}' is stopping`)
      return
    }
    fresh.kept = undefined
    const started = this.#start(fresh)
    if (wait === 'up') await fresh.upAfter(started, 0)
  }

  status(): WardStatus {
    const state = this.end?.outcome?.kind ?? (this.state === STOPPING ? 'stopping' : 'working')
    return {
      name: this.#options.name,
      path: this.path,
      kind: 'supervisor',
      strategy: this.#options.strategy,
      state,
      attempt: this.#attempt,
      restarts: this.#restarts,
      restartReasons: noReasons,
      up: this.running && this.#children.every((child) => child.kept === 'stopped' || child.run?.isUp === true),
      lastBeatAgo: null,
      progress: undefined,
      failuresHere: 0,
      lastFailure: this.#lastFailure === undefined ? null : errorInfo(this.#lastFailure),
      probeFailure: null,
      pid: null,
      threadId: null,
      uptime: null,
      rss: null,
      cpu: null,
      fds: null,
      startTime: null,
      abandoned: 0,
      lastAbandoned: null,
      children: this.#children.map((child, index) => {
        if (child.run !== undefined) return child.run.status()
        const stopped = child.kept === 'stopped'
        const before = !stopped && this.#options.startOrder === 'ready' && index > 0 ? this.#children[index - 1]!.name : undefined
        return notStarted(`${this.path}/${child.name}`, child.name, child.blockedBy ?? before, child.blockedBy !== undefined, stopped, restartReasonsOf(child.spec.options, child))
      }),
    }
  }

  protected beginStop(reason: unknown): void {
    this.ended.ending = this.#shutDown((unstopped) => {
      if (this.listened) this.emit({ type: 'stopped', ...this.base(this.#attempt), unstopped })
      return { kind: 'stopped', reason, unstopped, attempts: this.#attempt, restarts: this.#restarts }
    })
  }

  #completed(): Outcome {
    return { kind: 'completed', value: undefined, attempts: this.#attempt, restarts: this.#restarts }
  }

  /** Stops every child in reverse start order, then settles with `outcome`. */
  async #shutDown(outcome: (unstopped: readonly string[]) => Outcome): Promise<void> {
    this.to(STOPPING)
    this.#backoffTimer?.cancel()
    this.#backoffTimer = undefined
    const stopping = [...this.#onStopping]
    this.#onStopping.clear()
    for (const callback of stopping) callback()
    await this.#busy
    const unstopped: string[] = []
    for (const child of [...this.#children].reverse()) {
      const report = await child.run?.stop()
      if (report === undefined) continue
      unstopped.push(...report.unstopped)
      this.#killed.push(...report.killed)
    }
    this.#settle(outcome(unstopped))
  }

  #settle(outcome: Outcome): void {
    this.settleWith(outcome)
  }

  /** Starts every child in order (each after the previous one is up, with `startOrder: 'ready'`). */
  async #startAll(): Promise<void> {
    if (!this.running) return
    if (this.#children.length === 0) return this.#settle(this.#completed())
    const children = [...this.#children]
    for (const [index, child] of children.entries()) {
      if (!this.running) return
      // A restart decided meanwhile covers this child and the ones after it: it starts them, in order.
      if (child.owner !== undefined) return
      if (child.run !== undefined || child.kept !== undefined) continue
      this.#start(child)
      if (this.#options.startOrder !== 'ready') continue
      await child.ready()
      if (!this.running) return
      if (child.endedDown) return this.#block(child, children.slice(index + 1).filter((other) => other.run === undefined && other.owner === undefined))
    }
  }

  /**
   * `startOrder: 'ready'`: `child` ended without being up, so the children after it that are not
   * started yet stay unstarted; said by a `blocked` event and in status. With nothing else
   * running, the supervisor ends (gives up with the child's failure).
   */
  #block(child: Child, after: readonly Child[]): void {
    const left = after.filter((other) => other.blockedBy === undefined && this.#children.includes(other))
    if (left.length === 0) return
    for (const other of left) other.blockedBy = child.name
    const outcome = child.run?.outcome
    this.#blockedCause ??= outcome?.kind === 'gave-up' ? outcome.error.cause : undefined
    if (this.listened) {
      const error = outcome?.kind === 'gave-up' ? errorInfo(outcome.error.cause) : null
      this.emit({ type: 'blocked', ...this.base(this.#attempt), child: child.name, blocked: left.map((other) => other.name), error })
    }
    this.#endIfNoneRuns()
  }

  #start(child: Child): StewardRun<unknown> {
    const run = new StewardRun<unknown>(child.spec.options, { clock: this.clock }, undefined, child, `${this.path}/${child.name}`)
    child.run = run
    run.on((event) => this.emit(event))
    void run.done.then((outcome) => {
      child.childReady()
      this.#ended(child, run, outcome)
    })
    return run
  }

  /**
   * A child's run ended on its own: it completed, asked not to be restarted, or was temporary and
   * failed (forgotten), or could not be started (kept, for status).
   */
  #ended(child: Child, run: StewardRun<unknown>, outcome: Outcome): void {
    if (child.run !== run || !this.running) return
    if (outcome.kind === 'stopped' && outcome.reason instanceof TerminateTree) return void this.stop(outcome.reason)
    if (outcome.kind === 'gave-up') this.#lastFailure = outcome.error.cause
    if (child.kept === 'stopped') {
      // Stopped by an operator: kept until startChild.
    } else if (outcome.kind === 'gave-up' && outcome.error.reason === 'start') {
      child.kept = 'start'
    } else if (outcome.kind === 'gave-up' && outcome.error.reason === 'limit' && this.#options.strategy === 'independent') {
      child.kept = 'gave-up'
    } else {
      const index = this.#children.indexOf(child)
      if (index !== -1) this.#children.splice(index, 1)
    }
    this.#endIfNoneRuns()
  }

  /**
   * With no child left running, the supervisor ends: completed, or, when a child it keeps could
   * not be started or gave up alone, given up with that error (its work was not done). A child an
   * operator stopped keeps it running: it waits for `startChild`, or its own `stop()`.
   */
  #endIfNoneRuns(): void {
    if (this.#children.some((child) => (child.kept === undefined && child.blockedBy === undefined) || child.kept === 'stopped')) return
    const failed = this.#children.find((child) => child.kept === 'start' || child.kept === 'gave-up')
    const outcome = failed?.run?.outcome
    if (outcome?.kind === 'gave-up') this.#escalate(outcome.error.cause, failed!.kept === 'start' ? 'start' : 'limit')
    else if (this.#blockedCause !== undefined) this.#escalate(this.#blockedCause, 'temporary')
    else this.#settle(this.#completed())
  }

  /** From a child's run: its incarnation failed and its restart type asks for a restart. */
  childFailed(child: Child, reason: RestartReason, error: Error): void {
    const run = child.run
    if (run === undefined || !this.running || !this.#children.includes(child)) return
    this.#lastFailure = error
    const gathering = this.#gathering
    if (gathering?.children.has(child) === true) {
      // A child this restart stops (or is about to start again) failed on its way: one cause, one restart.
      if (!child.awaitingRestart) {
        child.awaitingRestart = true
        gathering.retiring.push(run.retireFor(reason, gathering.delay))
      }
      return
    }
    // Under one-for-all and rest-for-one, a failure while a restart gathers its children joins
    // it (its dependents failing because it failed are the same cause), counted once.
    const strategy = this.#options.strategy
    const independent = strategy === 'independent'
    const merged = gathering !== undefined && strategy !== 'one-for-one' && !independent
    let allowed = true
    let delay = gathering?.delay ?? 0
    if (!merged) {
      // The one decision (policy/restart-policy.ts), on the supervisor's policy: its child's run made
      // it first, on its own (a start error, the restart type, shouldRestart).
      const history = independent ? (child.policy ??= initialRestartState(this.#options.policy)) : this.#policy
      const decision = decide(this.#options.policy, history, { cannotStart: false, temporary: false, answer: undefined, now: this.clock.now(), uptime: run.uptime })
      if (independent) {
        child.policy = decision.state!
        child.counted = decision.counted
      } else {
        this.#policy = decision.state!
        this.#counted = decision.counted
      }
      allowed = decision.action === 'restart'
      if (gathering === undefined) delay = decision.delay
    }
    const index = this.#children.indexOf(child)
    const affected = (!allowed ? [] : strategy === 'one-for-all' ? [...this.#children] : strategy === 'rest-for-one' ? this.#children.slice(index) : [child]).filter(
      (other) => other.kept === undefined,
    )
    if (this.listened) {
      const intensity = this.#options.policy.intensity
      const window = 'maxRestarts' in intensity
      const counted = independent ? child.counted : this.#counted
      this.emit({
        type: 'decision',
        ...this.base(this.#attempt),
        child: child.name,
        reason,
        strategy,
        action: allowed ? 'restart' : independent ? 'give-up' : 'escalate',
        restarting: affected.map((c) => c.name),
        merged,
        restarts: window ? counted : Math.round(counted * 1000) / 1000,
        maxRestarts: window ? intensity.maxRestarts : intensity.threshold,
        within: window ? intensity.within : intensity.halfLife,
        intensity: window ? 'window' : 'decay',
        delay,
      })
    }
    if (!allowed) return independent ? run.giveUpAlone(error) : this.#escalate(error)
    if (!merged) this.#restarts++
    const restart = gathering ?? new Restart(delay)
    for (const other of affected) {
      // Taken over from an older restart still starting its children: that one stops waiting for it.
      if (other.owner !== undefined && other.owner !== restart) other.takenOver(other.owner)
      restart.children.add(other)
      other.owner = restart
    }
    child.awaitingRestart = true
    restart.retiring.push(run.retireFor(reason, restart.delay))
    if (gathering === undefined) {
      this.#gathering = restart
      this.#busy = this.#busy.then(() => this.#carryOut(restart))
    }
  }

  /** The children in start order. */
  #inOrder(children: ReadonlySet<Child>): Child[] {
    return this.#children.filter((child) => children.has(child))
  }

  /**
   * Carries out a restart: stops its children not stopped yet in reverse start order, each after
   * the previous one settled (children may join while it does), waits for every retirement and the
   * backoff, then starts them again in start order (each after the previous one is up, with
   * `startOrder: 'ready'`).
   */
  async #carryOut(restart: Restart): Promise<void> {
    for (;;) {
      const next = this.#inOrder(restart.children)
        .reverse()
        .find((other) => !other.awaitingRestart && other.run !== undefined && other.owner === restart && other.kept === undefined)
      if (next === undefined || !this.running) break
      next.awaitingRestart = true
      const retiring = next.run!.retireFor('sibling', restart.delay)
      restart.retiring.push(retiring)
      await retiring
    }
    while (restart.retiring.length > 0) await restart.retiring.shift()
    if (restart.delay > 0 && this.running) {
      for (const other of restart.children) other.run?.holdForBackoff()
      await new Promise<void>((resolve) => {
        // A stop during the wait cancels the timer and wakes this at once.
        this.#onStopping.add(resolve)
        this.#backoffTimer = this.clock.setTimer(restart.delay, () => {
          this.#backoffTimer = undefined
          this.#onStopping.delete(resolve)
          resolve()
        })
      })
    }
    // From here on, a failure is a new cause.
    if (this.#gathering === restart) this.#gathering = undefined
    for (const other of this.#inOrder(restart.children)) {
      // A newer restart took this child over (a failure upstream of it): that one starts it.
      if (other.owner !== restart) continue
      if (!this.running || !this.#children.includes(other) || other.kept !== undefined) {
        other.owner = undefined
        continue
      }
      if (other.run === undefined) {
        this.#start(other) // never started: a restart during the first start covers it
      } else if (other.awaitingRestart) {
        other.awaitingRestart = false
        other.run.relaunch()
      }
      // Owned until it is up, so that a newer restart taking it over can end this wait.
      if (this.#options.startOrder === 'ready') await other.ready(restart)
      if (other.owner === restart) other.owner = undefined
      if (this.#options.startOrder === 'ready' && this.running && other.endedDown) {
        // It ended without being up: the rest of this restart stays down, as at the first start.
        const rest = this.#inOrder(restart.children).filter((later) => later.owner === restart)
        for (const later of rest) later.owner = undefined
        return this.#block(other, rest)
      }
    }
  }

  #escalate(cause: Error, reason: GiveUpReason = 'limit'): void {
    const error = new GaveUpError(this.#options.name, this.#restarts, reason, cause)
    this.ended.ending = this.#shutDown(() => {
      if (this.listened) {
        this.emit({ type: 'gave-up', ...this.base(this.#attempt), restarts: this.#restarts, error: errorInfo(cause) })
      }
      return { kind: 'gave-up', error, attempts: this.#attempt, restarts: this.#restarts }
    })
  }
}

/**
 * A supervisor of several named children, with OTP's strategies, restart
 * types and intensity (or suture's decaying count), escalating to its own
 * parent when the intensity is exceeded. Each child is one steward run for
 * its whole life whose restarts the supervisor decides, so its attempt,
 * resume point, failures at its progress, poison handling and deadlines
 * hold across restarts. Children start in order and stop in reverse order,
 * each within its stop deadline. It is a ward: nest it in a steward or in
 * another supervisor, or `start()` it. Options and children are validated
 * here, before anything starts. Children may have different output and
 * progress types (a `walk()`, a steward, a ward of your own, in one list);
 * each child's progress is its own.
 *
 * @example
 * const tree = supervisor({ strategy: 'one-for-one' }, [
 *   { name: 'pages', ward: walk(urls, (url, ctx) => fetchPage(url, ctx.signal)) },
 *   { name: 'heartbeat', ward: async (ctx) => { for (;;) { ctx.beat(); await ctx.clock.sleep(1_000, ctx.signal) } } },
 * ])
 */
export function supervisor(options: SupervisorOptions, children: readonly ChildSpec[]): Supervisor {
  const resolved = resolve(options)
  const list: unknown = children
  if (!Array.isArray(list)) throw new TypeError(`supervisor '${resolved.name}': children must be an array, got ${describe(children)}`)
  const names = new Set<string>()
  const specs = children.map((child) => {
    const spec = resolveChildSpec(child, names, resolved.name)
    names.add(spec.name)
    return spec
  })
  const asWard = async (ctx: WardContext): Promise<void> => {
    const host = ctx[wardHost]
    const path = host === undefined ? resolved.name : `${host.path}/${resolved.name}`
    const tree = new SupervisorTree(resolved, specs, ctx.clock, path, ctx.signal, ctx.attempt, host === undefined ? undefined : (event) => host.emit(event))
    host?.adopt(tree)
    // It beats while it supervises; its children have heartbeats of their own.
    let pulse: Timer | undefined
    const beat = (): void => {
      ctx.beat()
      pulse = ctx.clock.setTimer(ctx.pulseInterval, beat)
    }
    beat()
    const outcome = await tree.done
    pulse?.cancel()
    if (outcome.kind === 'gave-up') throw outcome.error
  }
  return Object.assign(asWard, {
    start: (start: SupervisorStartOptions = {}): SupervisorRun => {
      checkStartOptions(start, supervisorStartKeys)
      return new SupervisorTree(resolved, specs, start.clock ?? systemClock, resolved.name, start.signal, 1, start.onEvent)
    },
  })
}
