import { Emitter, type EventListener, type StewardEvent, type Subscription } from '../observe/events.js'
import type { WardStatus } from '../observe/status.js'
import { isBackoff, type Backoff } from '../policy/backoff.js'
import { systemClock, type Clock, type Timer } from '../time/clock.js'
import { describe, toMs, type Duration } from '../time/duration.js'
import { errorInfo, GaveUpError } from '../steward/errors.js'
import type { RestartType, StewardOptions } from '../steward/options.js'
import { Incarnation, type Outcome, type Run, type StopReport } from '../steward/run.js'
import { DoNotRestart, TerminateTree } from '../steward/sentinels.js'
import { steward } from '../steward/steward.js'
import type { Ward, WardContext } from '../steward/ward.js'
import { initialIntensity, nextIntensity, type Intensity, type IntensityState } from './intensity.js'

/**
 * What a supervisor does when a child must be restarted (OTP's strategies):
 * - `one-for-one`: restart that child;
 * - `one-for-all`: stop every other child (in reverse start order), then start all again in order;
 * - `rest-for-one`: stop the children started after it (in reverse order), then start it and them again.
 */
export type Strategy = 'one-for-one' | 'one-for-all' | 'rest-for-one'

/** A child of a supervisor: a named ward with its own steward options. */
export interface ChildSpec<T = unknown>
  extends Pick<StewardOptions, 'timeout' | 'pulseInterval' | 'progressTimeout' | 'idleTimeout' | 'stopTimeout' | 'poisonAfter' | 'onDeadLetter'> {
  /** Unique among the supervisor's children. */
  readonly name: string
  readonly ward: Ward<T>
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

/** A started supervisor: its children run until it is stopped or escalates. */
export interface SupervisorRun {
  readonly name: string
  /** Settles when the supervisor has stopped every child: `stopped`, `completed` (no child left) or `gave-up` (escalated). */
  readonly done: Promise<Outcome>
  /** Stops the children in reverse start order, each within its stop deadline; one teardown however often it is called. */
  stop(reason?: unknown): Promise<StopReport>
  /** Adds a child at the end and starts it. */
  add(child: ChildSpec): void
  /** Stops a child and forgets it. Resolves with the child's stop report. */
  remove(name: string): Promise<StopReport>
  on(listener: EventListener): Subscription
  status(): WardStatus
}

/** A supervisor: a ward (so it nests in stewards and supervisors) with `start()`. */
export interface Supervisor {
  (ctx: WardContext): Promise<void>
  start(options?: SupervisorStartOptions): SupervisorRun
}

interface Resolved {
  readonly name: string
  readonly strategy: Strategy
  readonly intensity: Intensity
  readonly backoff: Backoff | undefined
  readonly onEvent: EventListener | undefined
}

const strategies: readonly Strategy[] = ['one-for-one', 'one-for-all', 'rest-for-one']

function resolve(options: SupervisorOptions | undefined): Resolved {
  options ??= {}
  const name = options.name ?? 'supervisor'
  if (typeof name !== 'string' || name === '') throw new TypeError(`supervisor: option 'name' must be a non-empty string, got ${describe(name)}`)
  const strategy = options.strategy ?? 'one-for-one'
  if (!strategies.includes(strategy)) {
    throw new RangeError(`supervisor: option 'strategy' must be one of ${strategies.map((s) => `'${s}'`).join(', ')}, got ${describe(strategy)}`)
  }
  let intensity: Intensity
  if (options.decay !== undefined) {
    if (options.maxRestarts !== undefined || options.within !== undefined) {
      throw new TypeError(`supervisor: option 'decay' replaces 'maxRestarts' and 'within'; give one or the other`)
    }
    const { threshold, halfLife } = options.decay
    if (typeof threshold !== 'number' || !(threshold > 0)) throw new RangeError(`supervisor: option 'decay.threshold' must be a positive number, got ${describe(threshold)}`)
    intensity = { threshold, halfLife: toMs(halfLife, `supervisor: option 'decay.halfLife'`, { zero: false }) }
  } else {
    const maxRestarts = options.maxRestarts ?? 3
    if (typeof maxRestarts !== 'number' || !(maxRestarts === Infinity || (Number.isInteger(maxRestarts) && maxRestarts >= 0))) {
      throw new RangeError(`supervisor: option 'maxRestarts' must be a non-negative integer or Infinity, got ${describe(maxRestarts)}`)
    }
    intensity = { maxRestarts, within: toMs(options.within ?? 5_000, `supervisor: option 'within'`, { infinite: true, zero: false }) }
  }
  if (options.backoff !== undefined && !isBackoff(options.backoff)) {
    throw new TypeError(`supervisor: option 'backoff' must be a backoff policy, got ${describe(options.backoff)}`)
  }
  if (options.onEvent !== undefined && typeof options.onEvent !== 'function') {
    throw new TypeError(`supervisor: option 'onEvent' must be a function, got ${describe(options.onEvent)}`)
  }
  return { name, strategy, intensity, backoff: options.backoff, onEvent: options.onEvent }
}

/** A child as the supervisor keeps it. */
class Slot {
  readonly spec: ChildSpec
  readonly ward: ReturnType<typeof steward<unknown>>
  run: Run<unknown> | undefined = undefined
  progress: unknown = undefined
  /** The child's last status, kept when it is not running. */
  last: WardStatus | undefined = undefined
  /** When its current run started (a backoff's uptime). */
  startedAt = 0

  constructor(spec: ChildSpec) {
    this.spec = spec
    const { name, ward, restart: _restart, ...options } = spec
    // The child's steward gives up at its first failure: restarting is the supervisor's call.
    this.ward = steward(ward, { ...options, name, restart: 'temporary' })
  }
}

const RUNNING = 0
const ENDING = 1
const SETTLED = 2

/** The running supervisor (top level, or the work of a supervisor used as a ward). @internal */
export class SupervisorTree implements SupervisorRun {
  readonly #options: Resolved
  readonly #clock: Clock
  readonly #path: string
  readonly #slots: Slot[] = []
  readonly #emitter = new Emitter()
  #phase = RUNNING
  #intensity: IntensityState
  #backoffState: unknown
  #restarts = 0
  #lastFailure: Error | undefined
  #outcome: Outcome | undefined
  #resolveDone!: (outcome: Outcome) => void
  readonly done: Promise<Outcome>
  #ending: Promise<StopReport> | undefined
  #signal: AbortSignal | undefined
  /** Restarts in progress (a strategy's stop-then-start), so a stop waits for them. */
  #busy: Promise<void> = Promise.resolve()
  #backoffTimer: Timer | undefined
  #backoffWake: (() => void) | undefined

  constructor(options: Resolved, children: readonly ChildSpec[], clock: Clock, path: string, signal: AbortSignal | undefined, onEvent?: EventListener) {
    this.#options = options
    this.#clock = clock
    this.#path = path
    this.#intensity = initialIntensity(options.intensity)
    this.#backoffState = options.backoff?.initial
    this.done = new Promise((resolve) => (this.#resolveDone = resolve))
    if (options.onEvent !== undefined) this.#emitter.on(options.onEvent)
    if (onEvent !== undefined) this.#emitter.on(onEvent)
    for (const child of children) this.#slots.push(new Slot(validChild(child, this.#slots)))
    this.#signal = signal
    if (signal?.aborted === true) {
      queueMicrotask(() => void this.stop(signal.reason))
      return
    }
    signal?.addEventListener('abort', this, { once: true })
    queueMicrotask(() => {
      if (this.#phase !== RUNNING) return
      for (const slot of this.#slots) this.#start(slot)
      if (this.#slots.length === 0) this.#settle({ kind: 'completed', value: undefined, attempts: 0, restarts: 0 })
    })
  }

  get name(): string {
    return this.#options.name
  }

  /** The outcome, once settled (a parent steward reads it). */
  get outcome(): Outcome | undefined {
    return this.#outcome
  }

  handleEvent(): void {
    void this.stop(this.#signal?.reason)
  }

  on(listener: EventListener): Subscription {
    return this.#emitter.on(listener)
  }

  emit(event: StewardEvent): void {
    this.#emitter.emit(event)
  }

  add(child: ChildSpec): void {
    if (this.#phase !== RUNNING) throw new Error(`supervisor '${this.#path}' is not running`)
    const slot = new Slot(validChild(child, this.#slots))
    this.#slots.push(slot)
    this.#start(slot)
  }

  async remove(name: string): Promise<StopReport> {
    const index = this.#slots.findIndex((slot) => slot.spec.name === name)
    if (index === -1) throw new RangeError(`supervisor '${this.#path}' has no child '${name}'`)
    const [slot] = this.#slots.splice(index, 1)
    const report = await this.#stopSlot(slot!)
    if (this.#slots.length === 0 && this.#phase === RUNNING) this.#settle({ kind: 'completed', value: undefined, attempts: 0, restarts: this.#restarts })
    return report
  }

  status(): WardStatus {
    const state = this.#outcome?.kind ?? (this.#phase === ENDING ? 'stopping' : 'working')
    return {
      name: this.#options.name,
      path: this.#path,
      kind: 'supervisor',
      state,
      attempt: 1,
      restarts: this.#restarts,
      lastBeatAgo: null,
      progress: undefined,
      failuresHere: 0,
      lastFailure: this.#lastFailure === undefined ? null : errorInfo(this.#lastFailure),
      children: this.#slots.map((slot) => slot.run?.status() ?? slot.last).filter((status): status is WardStatus => status !== undefined),
    }
  }

  stop(reason?: unknown): Promise<StopReport> {
    if (this.#ending === undefined) {
      if (this.#outcome !== undefined) return Promise.resolve({ unstopped: [], killed: [] })
      this.#ending = this.#shutDown((unstopped) => {
        this.emit({ type: 'stopped', ward: this.#options.name, path: this.#path, at: this.#clock.now(), attempt: 1, unstopped })
        return { kind: 'stopped', reason, unstopped, attempts: 1, restarts: this.#restarts }
      })
    }
    return this.#ending
  }

  /** Stops every child in reverse start order, then settles with `outcome`. */
  async #shutDown(outcome: (unstopped: readonly string[]) => Outcome): Promise<StopReport> {
    this.#phase = ENDING
    this.#backoffTimer?.cancel()
    this.#backoffTimer = undefined
    this.#backoffWake?.()
    await this.#busy
    const unstopped: string[] = []
    const killed: string[] = []
    for (const slot of [...this.#slots].reverse()) {
      const report = await this.#stopSlot(slot)
      unstopped.push(...report.unstopped)
      killed.push(...report.killed)
    }
    this.#settle(outcome(unstopped))
    return { unstopped, killed }
  }

  #settle(outcome: Outcome): void {
    if (this.#outcome !== undefined) return
    this.#phase = SETTLED
    this.#outcome = outcome
    this.#signal?.removeEventListener('abort', this)
    if (outcome.kind === 'completed') {
      this.emit({ type: 'completed', ward: this.#options.name, path: this.#path, at: this.#clock.now(), attempt: 1 })
    }
    this.#emitter.clear()
    this.#resolveDone(outcome)
  }

  #start(slot: Slot): void {
    const run = slot.ward.start({
      clock: this.#clock,
      resume: slot.progress,
      onEvent: (event) => this.emit({ ...event, path: `${this.#path}/${event.path}` }),
    })
    slot.run = run
    slot.startedAt = this.#clock.now()
    void run.done.then((outcome) => this.#ended(slot, run, outcome))
  }

  /** Stops the child's current run (if any) and keeps its last status. */
  async #stopSlot(slot: Slot): Promise<StopReport> {
    const run = slot.run
    if (run === undefined) return { unstopped: [], killed: [] }
    slot.run = undefined
    const report = await run.stop()
    slot.progress = run.status().progress
    slot.last = run.status()
    return {
      unstopped: report.unstopped.map((path) => `${this.#path}/${path}`),
      killed: report.killed.map((path) => `${this.#path}/${path}`),
    }
  }

  /** A child's run ended on its own (not stopped by this supervisor). */
  #ended(slot: Slot, run: Run<unknown>, outcome: Outcome): void {
    if (slot.run !== run || this.#phase !== RUNNING) return
    slot.run = undefined
    slot.progress = run.status().progress
    slot.last = run.status()
    const restart = slot.spec.restart ?? 'permanent'
    if (outcome.kind === 'stopped') {
      if (outcome.reason instanceof TerminateTree) return void this.stop(outcome.reason)
      if (outcome.reason instanceof DoNotRestart) return this.#forget(slot)
    }
    const failed = outcome.kind === 'gave-up'
    if (failed) this.#lastFailure = outcome.error.cause
    if (restart === 'temporary' || (restart === 'transient' && !failed)) return this.#forget(slot)
    const now = this.#clock.now()
    const decision = nextIntensity(this.#options.intensity, this.#intensity, now)
    this.#intensity = decision.state
    if (!decision.allowed) return void this.#escalate(slot)
    this.#restarts++
    let delay = 0
    const backoff = this.#options.backoff
    if (backoff !== undefined) {
      const step = backoff.next(this.#backoffState, { restart: this.#restarts, uptime: now - slot.startedAt })
      this.#backoffState = step.state
      delay = step.delay
    }
    this.emit({
      type: 'restarting',
      ward: this.#options.name,
      path: this.#path,
      at: now,
      attempt: 1,
      reason: failed ? 'failed' : 'returned',
      restarts: this.#restarts,
      delay,
    })
    this.#busy = this.#busy.then(() => this.#restartFrom(slot, delay))
  }

  /** Applies the strategy: stops the affected siblings (reverse order), waits, starts them in order. */
  async #restartFrom(slot: Slot, delay: number): Promise<void> {
    const index = this.#slots.indexOf(slot)
    if (index === -1 || this.#phase !== RUNNING) return
    const strategy = this.#options.strategy
    const affected =
      strategy === 'one-for-one' ? [slot] : strategy === 'one-for-all' ? [...this.#slots] : this.#slots.slice(index)
    for (const other of [...affected].reverse()) if (other !== slot) await this.#stopSlot(other)
    if (delay > 0) {
      await new Promise<void>((resolve) => {
        // A stop during the wait cancels the timer and wakes this at once.
        this.#backoffWake = resolve
        this.#backoffTimer = this.#clock.setTimer(delay, () => {
          this.#backoffTimer = undefined
          resolve()
        })
      })
      this.#backoffWake = undefined
    }
    if (this.#phase !== RUNNING) return
    for (const child of affected) if (this.#slots.includes(child) && child.run === undefined) this.#start(child)
  }

  #forget(slot: Slot): void {
    const index = this.#slots.indexOf(slot)
    if (index !== -1) this.#slots.splice(index, 1)
    if (this.#slots.length === 0) this.#settle({ kind: 'completed', value: undefined, attempts: 1, restarts: this.#restarts })
  }

  async #escalate(slot: Slot): Promise<void> {
    const cause = this.#lastFailure ?? new Error(`child '${slot.spec.name}' ended and the restart intensity was reached`)
    const error = new GaveUpError(this.#options.name, this.#restarts, 'limit', cause)
    this.#ending = this.#shutDown(() => {
      this.emit({
        type: 'gave-up',
        ward: this.#options.name,
        path: this.#path,
        at: this.#clock.now(),
        attempt: 1,
        restarts: this.#restarts,
        error: errorInfo(cause),
      })
      return { kind: 'gave-up', error, attempts: 1, restarts: this.#restarts }
    })
    await this.#ending
  }
}

function validChild(child: ChildSpec, siblings: readonly Slot[]): ChildSpec {
  if (typeof child !== 'object' || child === null) throw new TypeError(`supervisor: a child must be an object, got ${describe(child)}`)
  if (typeof child.name !== 'string' || child.name === '') throw new TypeError(`supervisor: a child's 'name' must be a non-empty string, got ${describe(child.name)}`)
  if (siblings.some((slot) => slot.spec.name === child.name)) throw new RangeError(`supervisor: two children are named '${child.name}'`)
  if (typeof child.ward !== 'function') throw new TypeError(`supervisor: child '${child.name}': 'ward' must be a function, got ${describe(child.ward)}`)
  return child
}

/**
 * A supervisor of several named children, with OTP's strategies, restart
 * types and intensity (or suture's decaying count), escalating to its own
 * parent when the intensity is exceeded. Children start in order and stop in
 * reverse order, each within its stop deadline. It is a ward: nest it in a
 * steward or in another supervisor, or `start()` it.
 */
export function supervisor(options: SupervisorOptions, children: readonly ChildSpec[]): Supervisor {
  const resolved = resolve(options)
  const list: unknown = children
  if (!Array.isArray(list)) throw new TypeError(`supervisor: children must be an array, got ${describe(children)}`)
  const names = new Set<string>()
  for (const child of children) {
    validChild(child, [])
    if (names.has(child.name)) throw new RangeError(`supervisor: two children are named '${child.name}'`)
    names.add(child.name)
  }
  const asWard = async (ctx: WardContext): Promise<void> => {
    const path = ctx instanceof Incarnation ? `${ctx.run.path}/${resolved.name}` : resolved.name
    const tree = new SupervisorTree(resolved, children, ctx.clock, path, ctx.signal, ctx instanceof Incarnation ? (event) => ctx.run.emit(event) : undefined)
    if (ctx instanceof Incarnation) ctx.child = tree
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
    start: (start: SupervisorStartOptions = {}): SupervisorRun =>
      new SupervisorTree(resolved, children, start.clock ?? systemClock, resolved.name, start.signal, start.onEvent),
  })
}
