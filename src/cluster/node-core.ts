import type { Clock, Timer } from '../time/clock.js'
import { assign, Rendezvous } from './assign.js'
import type { Checkpoint, ClaimResult, Finished, LeaseStore, Member } from './store.js'

/** The fraction of `leaseTtl` after a renew's send time at which a node stops its wards itself, at the default `wardStop` (`leaseTtl × 0.15`). */
export const LOCAL_DEADLINE = 0.8
/** The clock-rate bound the local deadline is safe for: node clocks run within ±5 % of Redis's. */
export const CLOCK_RATE_BOUND = 0.05
/**
 * The most claims a node has in flight at once; the rest wait their turn and go as earlier ones
 * answer. Firing thousands at once (a dead node's share) makes the last replies later than
 * `opTimeout`: they would all be given up on, and claimed again at the next beat, and again.
 */
export const CLAIMS_IN_FLIGHT = 500
/** How many dead members a node remembers, and how many of the latest it names in each claim. */
const DEAD_REMEMBERED = 10_000
const DEAD_SENT = 8

/** What a node hands a ward it claimed. @internal */
export interface Lease {
  readonly token: number
  readonly checkpoint: Checkpoint
}

/** How the node core runs wards: the cluster's steward runs, or the simulation's model. @internal */
export interface WardRunner {
  /** Starts `ward` under `lease`. */
  start(ward: string, lease: Lease): void
  /** Stops `ward`; resolves with its committed progress once it stopped. */
  stop(ward: string): Promise<Checkpoint>
  /** The committed progress of a running `ward` now. */
  committed(ward: string): Checkpoint
}

/** What a cluster node reports about its membership and its wards (also part of `ClusterEvent`): it joined, claimed or handed over a ward, lost its lease, had a stale write refused, checkpointed. */
export type CoreEvent =
  | { readonly type: 'joined'; readonly node: string; readonly epoch: number }
  | { readonly type: 'claimed'; readonly ward: string; readonly token: number; readonly resume: string | undefined; readonly failures: number; readonly from: Member | null }
  | { readonly type: 'handed-over'; readonly ward: string; readonly token: number; readonly progress: string | undefined }
  | { readonly type: 'lease-lost'; readonly node: string; readonly epoch: number; readonly why: 'deadline' | 'refused'; readonly wards: readonly string[] }
  | { readonly type: 'stale-write'; readonly ward: string; readonly token: number }
  | { readonly type: 'checkpointed'; readonly ward: string; readonly token: number; readonly progress: string | undefined }
  | { readonly type: 'stop-overrun'; readonly ward: string; readonly took: number; readonly wardStop: number }
  | { readonly type: 'finished'; readonly ward: string; readonly token: number; readonly state: 'done' | 'failed'; readonly reason: string; readonly progress: string | undefined }

/** The node core's settings. @internal */
export interface CoreOptions {
  readonly node: string
  readonly store: LeaseStore
  readonly runner: WardRunner
  readonly clock: Clock
  readonly leaseTtl: number
  /** The longest a ward may take to stop: the node stops its wards this long before its lease can expire. */
  readonly wardStop: number
  readonly beat: number
  readonly checkpointEvery: number
  readonly maxWardsPerNode: number
  /** How long a store call may take before the node gives up on its reply. */
  readonly opTimeout: number
  readonly onEvent?: (event: CoreEvent) => void
}

interface Held {
  readonly token: number
  readonly epoch: number
  running: boolean
  /** The checkpoint last accepted (JSON of the progress, failures). */
  sent: string
  sentAt: number
  /** The sequence number of the last write sent under this token (the node's writes and the ward's commits). */
  seq: number
  /** The ward commits its own progress (`WardLease.commit`): the node's writes keep the stored progress. */
  kept: boolean
}

interface Releasing {
  readonly token: number
  readonly epoch: number
  readonly seq: number
  readonly checkpoint: Checkpoint
  readonly kept: boolean
  /** The ward ended by itself: the release records it finished. */
  readonly finished?: Finished
  /** Sent before without a reply: a 'fenced' answer may be our own release, applied. */
  retried?: boolean
}

/** A store call that gave no reply within `opTimeout`. */
class NoReply extends Error {}

// The node's phase; whether it holds a lease is its epoch (a leaving node may lose its lease and join again to finish).
/** Runs its share of the wards. */
const ACTIVE = 0
/** `leave()`: hands every ward over, renewing meanwhile, then deletes its lease. */
const LEAVING = 1
/** Left, or halted: does nothing more. */
const CLOSED = 2

/**
 * The protocol of one node, as logic over an injected store, runner and clock: join, renew one
 * lease per beat, a local deadline below `leaseTtl`, rendezvous assignment with cooperative
 * hand-over, claims (taking over a dead owner's wards only after `alive` says its lease is gone),
 * fenced checkpoints and release. The same code runs on Redis and in the simulation. @internal
 *
 * How it is kept, and why. The node is in one phase (ACTIVE → LEAVING → CLOSED; `halt()` goes
 * to CLOSED at once) and holds a lease or not (`epoch`); losing the lease (`loseAll`: refused,
 * or the local deadline passed) stops every ward and forgets every per-ward record, and the next
 * beat joins again. Each ward it knows of is in the records below, all private; the getters
 * show them read-only, so only the protocol's steps change them:
 *
 *   assigned to it ──queue a claim──▶ busy (claim in flight; at most CLAIMS_IN_FLIGHT sent)
 *        no reply ──▶ doubtful: claimed again at each beat until an answer says whose it is
 *        claimed ──▶ held, running (the runner starts it; checkpoints are fenced writes)
 *   held ──assigned elsewhere──▶ busy, stopping (the runner stops it) ──▶ releasing ──▶ gone
 *   held ──its run ended by itself──▶ ended ──▶ stopping ──▶ releasing (a finish) ──▶ retired
 *   held ──a write answered by another owner's token──▶ stopping ──▶ gone
 *
 * A record is looked up, never reconstructed: `busy` is the one guard against two steps of
 * one ward at once, and `stopping` keeps a ward from being started beside its own stop.
 */
export class NodeCore {
  readonly options: CoreOptions
  /** ACTIVE, LEAVING (handing every ward over), CLOSED. Whether it holds a lease is `#epoch`. */
  #phase = ACTIVE
  /** The epoch of the lease it holds (`undefined`: none; it joins at the next beat). */
  #epoch: number | undefined = undefined
  /** Local monotonic time until which the node may run wards and write. */
  #deadline = -Infinity
  #members: readonly Member[] = []
  #wardIds: readonly string[] = []
  /** The finished wards (done or failed), as the last read of the ward set saw them. */
  #finished: ReadonlyMap<string, Finished> = new Map()
  #wardsVersion = -1
  #mine: ReadonlySet<string> = new Set()
  readonly #held = new Map<string, Held>()
  /** Wards stopped for a hand-over whose release has not been answered yet. */
  readonly #releasing = new Map<string, Releasing>()
  /** Wards whose claim got no reply: Redis may name this node their owner, so they are claimed again (and released if not ours). */
  readonly #doubtful = new Set<string>()
  /** Wards with a claim, stop or release in flight. */
  readonly #busy = new Set<string>()
  /** Wards whose run ended by itself, waiting for their finish to be written (another write of theirs is in flight). */
  readonly #ended = new Map<string, Finished>()
  /** Wards whose stop has not resolved yet, and when it began: none is claimed again until it has. */
  readonly #stopping = new Map<string, number>()
  #renews = 0
  /** Redis's clock minus ours, as the last renew saw it (an underestimate: the reply took time), and when. */
  #offset = 0
  #offsetAt = 0
  /** The same for the clock of each other master wards live on (a Redis Cluster), measured before the first claim judged on it. */
  readonly #clocks = new Map<string, { readonly offset: number; readonly at: number }>()
  #deadlineTimer: Timer | undefined
  readonly #tasks = new Set<Promise<void>>()
  readonly #rendezvous = new Rendezvous()
  /** The view (cap, ward-set version, members) the assignment below was computed for. */
  #assignedView = ''
  #assigned: ReadonlyMap<string, number> = new Map()
  #mineAssigned: ReadonlySet<string> = new Set()
  /** Claims waiting for their turn (each ward in it is `busy`), from `#claimNext` on. */
  #claimQueue: Array<{ readonly ward: string; readonly epoch: number }> = []
  #claimNext = 0
  #claimsInFlight = 0
  /** `alive` verdicts: a dead epoch is dead for ever (the last DEAD_REMEMBERED); a live one is asked again at the next beat. */
  readonly #dead = new Set<string>()
  /** The last DEAD_SENT dead members, sent with every first claim of a ward. */
  #recentDead: readonly Member[] = []
  #aliveThisBeat = new Map<string, Promise<boolean>>()

  constructor(options: CoreOptions) {
    this.options = options
  }

  // ---- what the node shows (read-only: only the protocol below changes it) ----

  /** The epoch of the lease it holds, `undefined` when it holds none. */
  get epoch(): number | undefined {
    return this.#epoch
  }

  /** Local monotonic time until which it may run wards and write (`-Infinity` without a lease). */
  get deadline(): number {
    return this.#deadline
  }

  /** The live members as the last renew listed them. */
  get members(): readonly Member[] {
    return this.#members
  }

  /** The wards to run, as the last read of the ward set saw them. */
  get wardIds(): readonly string[] {
    return this.#wardIds
  }

  /** The finished wards (done or failed), as the last read of the ward set saw them. */
  get finished(): ReadonlyMap<string, Finished> {
    return this.#finished
  }

  /** The wards assigned to it now (none while it leaves). */
  get mine(): ReadonlySet<string> {
    return this.#mine
  }

  /** The wards it holds a lease token for, and how each runs. */
  get held(): ReadonlyMap<string, Readonly<Held>> {
    return this.#held
  }

  /** Wards whose claim got no reply: claimed again until an answer says whose they are. */
  get doubtful(): ReadonlySet<string> {
    return this.#doubtful
  }

  /** Wards with a claim, stop or release in flight. */
  get busy(): ReadonlySet<string> {
    return this.#busy
  }

  /** Wards stopped for a hand-over whose release has not been answered yet. */
  get releasing(): ReadonlyMap<string, unknown> {
    return this.#releasing
  }

  /** Renewals that succeeded. */
  get renews(): number {
    return this.#renews
  }

  /** The node may run wards and write now: it holds a lease and its local deadline has not passed. */
  live(): boolean {
    return this.#epoch !== undefined && this.options.clock.now() < this.#deadline
  }

  /** One beat: renew (or join), then rebalance and checkpoint in the background. */
  async beat(): Promise<void> {
    if (this.#phase === CLOSED) return
    const { store, clock, node, leaseTtl } = this.options
    const sentAt = clock.now()
    const epoch = this.#epoch
    this.#aliveThisBeat = new Map()
    try {
      if (epoch === undefined) {
        const joined = await this.#timed(store.join(node, leaseTtl))
        if (joined === undefined || this.#phase === CLOSED) return
        this.#epoch = joined
        this.#extend(sentAt)
        this.emit({ type: 'joined', node, epoch: joined })
        const renewed = await this.#timed(store.renew(node, joined, leaseTtl, this.#phase !== ACTIVE))
        if (this.#epoch !== joined || !renewed.ok) return
        this.#offsetAt = clock.now()
        this.#offset = renewed.time - this.#offsetAt
        await this.#view(renewed.members, renewed.wardsVersion)
      } else {
        const renewed = await this.#timed(store.renew(node, epoch, leaseTtl, this.#phase !== ACTIVE))
        if (this.#epoch !== epoch) return
        if (!renewed.ok) return this.loseAll('refused')
        this.#renews++
        this.#extend(sentAt)
        this.#offsetAt = clock.now()
        this.#offset = renewed.time - this.#offsetAt
        await this.#view(renewed.members, renewed.wardsVersion)
      }
    } catch (error) {
      if (error instanceof NoReply || isConnectionError(error)) return
      throw error
    }
    if (!this.live()) return
    this.#rebalance()
    this.#checkpoints()
  }

  #extend(sentAt: number): void {
    // Redis expires the lease at or after sentAt + leaseTtl on its clock; with clock rates within
    // the bound the node's ward stops end before that, `wardStop` after the deadline at the latest.
    const deadline = sentAt + this.options.leaseTtl * (1 - CLOCK_RATE_BOUND) - this.options.wardStop
    if (deadline <= this.#deadline) return
    this.#deadline = deadline
    this.#armDeadline()
  }

  /**
   * Arms the timer that stops every ward at the local deadline. Node's timers run on the event
   * loop's millisecond clock and may fire up to ~2 ms before `performance.now()` reaches their
   * time: a timer that finds the deadline not yet passed arms itself again for the rest, or the
   * node would keep its wards running past the deadline until a renew's reply came.
   */
  #armDeadline(): void {
    this.#deadlineTimer?.cancel()
    const wait = Math.max(0, this.#deadline - this.options.clock.now())
    this.#deadlineTimer = this.options.clock.setTimer(wait, () => {
      this.#deadlineTimer = undefined
      if (this.#epoch === undefined) return
      if (this.options.clock.now() >= this.#deadline) this.loseAll('deadline')
      else this.#armDeadline()
    })
  }

  async #view(members: readonly Member[], wardsVersion: number): Promise<void> {
    // A member the renew no longer lists lost its lease (Redis pruned it): its epoch is dead.
    for (const old of this.#members) if (!members.some((m) => m.node === old.node && m.epoch === old.epoch)) this.#died(old)
    this.#members = members
    if (wardsVersion !== this.#wardsVersion) {
      const wards = await this.#timed(this.options.store.wards())
      this.#wardIds = wards.ids
      this.#finished = wards.finished
      this.#wardsVersion = wards.version
    }
    // The assignment changes only with the members or the ward set: recomputed then, and without
    // a cap incrementally (a join costs one score per ward, not wards × nodes).
    const view = `${this.options.maxWardsPerNode}|${this.#wardsVersion}|${members.map((m) => `${m.node}:${m.leaving === true ? 1 : 0}`).join(',')}`
    if (view !== this.#assignedView) {
      this.#assignedView = view
      let owners: ReadonlyMap<string, string>
      if (this.options.maxWardsPerNode === Infinity) {
        this.#rendezvous.update(this.#wardIds, members)
        owners = this.#rendezvous.owners()
      } else owners = assign(this.#wardIds, members, this.options.maxWardsPerNode)
      const counts = new Map<string, number>()
      const mine = new Set<string>()
      for (const [ward, owner] of owners) {
        counts.set(owner, (counts.get(owner) ?? 0) + 1)
        if (owner === this.options.node) mine.add(ward)
      }
      this.#assigned = counts
      this.#mineAssigned = mine
    }
    this.#mine = this.#phase !== ACTIVE ? new Set() : this.#mineAssigned
  }

  /** How many wards each live node is assigned, as this node last computed it. */
  assigned(): ReadonlyMap<string, number> {
    return this.#assigned
  }

  /** The lease is gone (refused, or the local deadline passed): stop every ward, forget the epoch, join again later. */
  loseAll(why: 'deadline' | 'refused'): void {
    const epoch = this.#epoch
    if (epoch === undefined) return
    this.#epoch = undefined
    this.#deadline = -Infinity
    this.#deadlineTimer?.cancel()
    this.#deadlineTimer = undefined
    const wards = [...this.#held.keys()]
    for (const [ward, held] of this.#held) if (held.running) this.#track(this.#stop(ward).then(() => {}))
    this.#held.clear()
    this.#ended.clear()
    // Claims not sent yet are dropped (their wards are no longer busy); those in flight answer into a lost epoch.
    for (let i = this.#claimNext; i < this.#claimQueue.length; i++) this.#busy.delete(this.#claimQueue[i]!.ward)
    this.#claimQueue = []
    this.#claimNext = 0
    this.#releasing.clear()
    this.#doubtful.clear()
    this.emit({ type: 'lease-lost', node: this.options.node, epoch, why, wards })
  }

  #rebalance(): void {
    const epoch = this.#epoch!
    for (const ward of this.#ended.keys()) {
      const held = this.#held.get(ward)
      if (held === undefined || !held.running) this.#ended.delete(ward)
      else if (!this.#busy.has(ward)) this.#finish(ward, held)
    }
    for (const [ward, held] of this.#held) {
      if (this.#busy.has(ward) || !held.running || this.#mine.has(ward)) continue
      this.#task(ward, () => this.#handOver(ward, held))
    }
    for (const [ward, pending] of this.#releasing) {
      if (!this.#busy.has(ward)) this.#task(ward, () => this.#release(ward, pending))
    }
    for (const ward of this.#doubtful) {
      if (!this.#mine.has(ward) && !this.#busy.has(ward) && !this.#stopping.has(ward)) this.#queueClaim(ward, epoch)
    }
    let room = this.options.maxWardsPerNode - this.#held.size
    for (const ward of this.#mine) {
      if (room <= 0) break
      // A ward still stopping here (a lease lost before) is not started beside itself.
      if (this.#held.has(ward) || this.#busy.has(ward) || this.#releasing.has(ward) || this.#stopping.has(ward)) continue
      room--
      this.#queueClaim(ward, epoch)
    }
    this.#pumpClaims()
  }

  #queueClaim(ward: string, epoch: number): void {
    this.#busy.add(ward)
    this.#claimQueue.push({ ward, epoch })
  }

  /** Sends queued claims while fewer than {@link CLAIMS_IN_FLIGHT} are in flight; each answer sends the next. */
  #pumpClaims(): void {
    while (this.#claimsInFlight < CLAIMS_IN_FLIGHT && this.#claimNext < this.#claimQueue.length) {
      const { ward, epoch } = this.#claimQueue[this.#claimNext++]!
      if (this.#epoch !== epoch || this.#phase === CLOSED || !this.live()) {
        this.#busy.delete(ward)
        continue
      }
      this.#claimsInFlight++
      this.#track(
        this.#claim(ward, epoch)
          .catch((error: unknown) => {
            if (!(error instanceof NoReply) && !isConnectionError(error)) throw error
          })
          .finally(() => {
            this.#busy.delete(ward)
            this.#claimsInFlight--
            this.#pumpClaims()
          }),
      )
    }
    if (this.#claimNext === this.#claimQueue.length) {
      this.#claimQueue = []
      this.#claimNext = 0
    }
  }

  /** `member`'s epoch is dead for ever: remembered, and among the owners the next claims may take wards from. */
  #died(member: Member): void {
    const key = `${member.node}\0${member.epoch}`
    if (this.#dead.has(key)) return
    this.#dead.add(key)
    if (this.#dead.size > DEAD_REMEMBERED) this.#dead.delete(this.#dead.values().next().value!)
    this.#recentDead = [...this.#recentDead.slice(1 - DEAD_SENT), { node: member.node, epoch: member.epoch }]
  }

  /** Whether `owner`'s epoch still holds its lease: asked once per beat per owner, and never again once dead. */
  async #alive(owner: Member): Promise<boolean> {
    const key = `${owner.node}\0${owner.epoch}`
    if (this.#dead.has(key)) return false
    let verdict = this.#aliveThisBeat.get(key)
    if (verdict === undefined) {
      verdict = this.#timed(this.options.store.alive(owner))
      this.#aliveThisBeat.set(key, verdict)
      verdict.then(
        (alive) => {
          if (!alive) this.#died(owner)
        },
        () => this.#aliveThisBeat.delete(key),
      )
    }
    return verdict
  }

  async #claim(ward: string, epoch: number): Promise<void> {
    // The members this node knows are dead go with the first claim: a dead node's wards are taken
    // in one round trip. An owner not known yet is asked about (`alive`), then claimed from.
    let result = await this.#claimCall(ward, epoch, this.#recentDead)
    if (result.kind === 'expired') return
    if (result.kind === 'finished') return this.#retire(ward, result.finished)
    if (result.kind === 'held') {
      const owner = result.owner
      if (this.#members.some((m) => m.node === owner.node && m.epoch === owner.epoch)) return // live: it hands over
      if (await this.#alive(owner)) return
      result = await this.#claimCall(ward, epoch, [owner])
      if (result.kind === 'finished') return this.#retire(ward, result.finished)
      if (result.kind !== 'claimed') return
    }
    const { token, checkpoint, from } = result
    if (this.#epoch !== epoch || !this.live() || !this.#mine.has(ward) || this.#phase === CLOSED) {
      // Claimed under an epoch we lost, or no longer ours: give it back if we still may write.
      if (this.#epoch === epoch) this.#releasing.set(ward, { token, epoch, seq: 1, checkpoint, kept: false })
      return
    }
    this.#held.set(ward, { token, epoch, running: true, sent: key(checkpoint), sentAt: this.options.clock.now(), seq: 0, kept: false })
    this.emit({ type: 'claimed', ward, token, resume: checkpoint.progress, failures: checkpoint.failures, from })
    this.options.runner.start(ward, { token, checkpoint })
  }

  /**
   * The offset of the clock that judges `ward`'s claims (Redis's clock minus ours, an
   * underestimate) and when it was measured: the namespace's, from the last renew, or that of the
   * master holding the ward (a Redis Cluster), measured with `time(ward)` when unknown or older
   * than a lease.
   */
  async #clockFor(ward: string): Promise<{ readonly offset: number; readonly at: number }> {
    const { store, clock, leaseTtl } = this.options
    const id = store.clockOf(ward)
    if (id === undefined) return { offset: this.#offset, at: this.#offsetAt }
    const known = this.#clocks.get(id)
    if (known !== undefined && clock.now() - known.at <= leaseTtl) return known
    const time = await this.#timed(store.time(ward))
    const at = clock.now()
    const measured = { offset: time - at, at }
    this.#clocks.set(id, measured)
    return measured
  }

  async #claimCall(ward: string, epoch: number, ifOwners: readonly Member[]): Promise<ClaimResult> {
    // The claim expires on the clock of the Redis that runs it before we stop waiting for its
    // reply (allowing for the clock-rate bound since the offset was measured), so a claim we gave
    // up on cannot apply later.
    const { clock, opTimeout } = this.options
    const judge = await this.#clockFor(ward)
    const sent = clock.now()
    const notAfter = sent + judge.offset + opTimeout * (1 - 2 * CLOCK_RATE_BOUND) - CLOCK_RATE_BOUND * (sent - judge.at)
    try {
      const result = await this.#timed(this.options.store.claim(ward, this.options.node, epoch, notAfter, ifOwners))
      if (result.kind === 'expired') {
        // Nothing was done, and nothing learnt: a ward in doubt stays in doubt (an earlier claim
        // whose reply was lost may have made us its owner). The offset was too low (a reply that
        // came late when it was measured): the master's clock is measured again before the next claim.
        const id = this.options.store.clockOf(ward)
        if (id !== undefined) this.#clocks.delete(id)
      } else if (this.#epoch === epoch) this.#doubtful.delete(ward)
      return result
    } catch (error) {
      if (this.#epoch === epoch) this.#doubtful.add(ward)
      throw error
    }
  }

  async #handOver(ward: string, held: Held): Promise<void> {
    held.running = false
    const checkpoint = await this.#stop(ward)
    if (this.#held.get(ward) !== held) return // the lease was lost meanwhile
    this.#held.delete(ward)
    // A release is the last write under this token: every retry of it carries the same sequence number.
    this.#releasing.set(ward, { token: held.token, epoch: held.epoch, seq: ++held.seq, checkpoint, kept: held.kept })
    await this.#release(ward, this.#releasing.get(ward)!)
  }

  async #release(ward: string, pending: Releasing): Promise<void> {
    if (this.#epoch !== pending.epoch || !this.live()) return
    const retry = pending.retried === true
    pending.retried = true
    const { store } = this.options
    const result = await this.#timed(
      pending.finished === undefined
        ? store.release(ward, pending.token, pending.seq, pending.checkpoint, pending.kept)
        : store.finish(ward, pending.token, pending.seq, pending.checkpoint, pending.kept, pending.finished),
    )
    if (this.#releasing.get(ward) !== pending) return
    this.#releasing.delete(ward)
    // A retried release answered 'fenced' was probably applied the first time (its reply lost).
    if (result === 'fenced' && retry) {
      if (pending.finished !== undefined) await this.#retire(ward, pending.finished)
      return
    }
    if (result === 'fenced') return this.emit({ type: 'stale-write', ward, token: pending.token })
    if (pending.finished === undefined) return this.emit({ type: 'handed-over', ward, token: pending.token, progress: pending.checkpoint.progress })
    this.emit({ type: 'finished', ward, token: pending.token, state: pending.finished.state, reason: pending.finished.reason, progress: pending.checkpoint.progress })
    await this.#retire(ward, pending.finished)
  }

  /**
   * Takes a finished ward out of the set to run (the namespace's slot; a second step after the
   * ward's own record said so). If its reply is lost, whichever node claims the ward next is told
   * it finished and retires it.
   */
  async #retire(ward: string, finished: Finished): Promise<void> {
    await this.#timed(this.options.store.retire(ward, finished))
  }

  /**
   * The run of `ward` under `token` ended by itself (completed, or gave up): it is released and
   * recorded finished, so no node runs it again until it is added again or restarted.
   */
  finish(ward: string, token: number, finished: Finished): void {
    const held = this.#held.get(ward)
    if (held === undefined || held.token !== token || !held.running) return
    this.#ended.set(ward, finished)
    if (!this.#busy.has(ward)) this.#finish(ward, held)
  }

  #finish(ward: string, held: Held): void {
    const finished = this.#ended.get(ward)!
    this.#ended.delete(ward)
    this.#task(ward, async () => {
      held.running = false
      const checkpoint = await this.#stop(ward)
      if (this.#held.get(ward) !== held) return
      this.#held.delete(ward)
      const pending: Releasing = { token: held.token, epoch: held.epoch, seq: ++held.seq, checkpoint, kept: held.kept, finished }
      this.#releasing.set(ward, pending)
      await this.#release(ward, pending)
    })
  }

  #checkpoints(): void {
    const now = this.options.clock.now()
    for (const [ward, held] of this.#held) {
      if (!held.running || this.#busy.has(ward) || now - held.sentAt < this.options.checkpointEvery) continue
      const checkpoint = this.options.runner.committed(ward)
      const text = key(checkpoint)
      if (text === held.sent) continue
      this.#task(ward, () => this.#checkpoint(ward, held, checkpoint, text))
    }
  }

  async #checkpoint(ward: string, held: Held, checkpoint: Checkpoint, text: string): Promise<void> {
    if (!this.live() || this.#epoch !== held.epoch) return
    const result = await this.#timed(this.options.store.checkpoint(ward, held.token, ++held.seq, checkpoint, held.kept))
    if (this.#held.get(ward) !== held || result === 'superseded') return
    if (result === 'written') {
      held.sent = text
      held.sentAt = this.options.clock.now()
      this.emit({ type: 'checkpointed', ward, token: held.token, progress: checkpoint.progress })
      return
    }
    // Someone else holds the ward now: stop ours.
    this.emit({ type: 'stale-write', ward, token: held.token })
    this.#held.delete(ward)
    if (held.running) {
      held.running = false
      await this.#stop(ward)
    }
  }

  /** Fenced write support: the token `ward` runs under here, if the node may write for it now. */
  tokenOf(ward: string): number | undefined {
    const held = this.#held.get(ward)
    return held !== undefined && held.running && this.live() ? held.token : undefined
  }

  /**
   * Commit support: the sequence number of a commit of `ward` under `token` (one order with the
   * node's own writes), or `undefined` when the node may not write for it now. From the first
   * commit on, the node's checkpoints and release keep the progress the ward's commits store.
   */
  commitSeq(ward: string, token: number): number | undefined {
    const held = this.#held.get(ward)
    if (held === undefined || !held.running || held.token !== token || !this.live()) return undefined
    held.kept = true
    return ++held.seq
  }

  /** A commit of `ward` under `token` stored `progress` (JSON): that is its checkpoint now. */
  commitStored(ward: string, token: number, progress: string): void {
    const held = this.#held.get(ward)
    if (held === undefined || held.token !== token) return
    held.sent = key({ progress, failures: 0 })
    held.sentAt = this.options.clock.now()
  }

  /** Graceful leave: hand every ward over (renewing meanwhile), then delete the lease. */
  async leave(beatUntilEmpty: () => Promise<void>): Promise<void> {
    this.#phase = LEAVING
    this.#mine = new Set()
    await beatUntilEmpty()
    await this.settled()
    this.#phase = CLOSED
    this.#deadlineTimer?.cancel()
    this.#deadlineTimer = undefined
    const epoch = this.#epoch
    this.#epoch = undefined
    if (epoch !== undefined) await this.#timed(this.options.store.leave(this.options.node, epoch)).catch(() => {})
  }

  /** Stops everything at once without a hand-over (the node's process is going away). */
  halt(): void {
    this.#phase = CLOSED
    this.loseAll('deadline')
  }

  /** Resolves when no claim, stop, release or checkpoint is in flight. */
  async settled(): Promise<void> {
    while (this.#tasks.size > 0) await Promise.allSettled([...this.#tasks])
  }

  /** Nothing is held or being handed over. */
  idle(): boolean {
    return this.#held.size === 0 && this.#releasing.size === 0 && this.#busy.size === 0 && this.#stopping.size === 0
  }

  emit(event: CoreEvent): void {
    this.options.onEvent?.(event)
  }

  /** Stops `ward` through the runner, marked as stopping until it resolves; a stop longer than `wardStop` is reported. */
  #stop(ward: string): Promise<Checkpoint> {
    const { clock, runner, wardStop } = this.options
    const began = clock.now()
    this.#stopping.set(ward, began)
    const stopped = runner.stop(ward)
    const done = (): void => {
      if (this.#stopping.get(ward) === began) this.#stopping.delete(ward)
      const took = clock.now() - began
      if (took > wardStop) this.emit({ type: 'stop-overrun', ward, took: Math.round(took), wardStop })
    }
    stopped.then(done, done)
    return stopped
  }

  #task(ward: string, body: () => Promise<void>): void {
    this.#busy.add(ward)
    this.#track(
      body()
        .catch((error: unknown) => {
          if (!(error instanceof NoReply) && !isConnectionError(error)) throw error
        })
        .finally(() => this.#busy.delete(ward)),
    )
  }

  #track(promise: Promise<void>): void {
    const tracked = promise.catch((error: unknown) => {
      process.emitWarning(`steward cluster: ${String(error)}`, 'StewardWarning')
    })
    this.#tasks.add(tracked)
    void tracked.finally(() => this.#tasks.delete(tracked))
  }

  #timed<T>(promise: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = this.options.clock.setTimer(this.options.opTimeout, () => reject(new NoReply('no reply')))
      promise.then(
        (value) => {
          timer.cancel()
          resolve(value)
        },
        (error: unknown) => {
          timer.cancel()
          reject(error)
        },
      )
    })
  }
}

function key(checkpoint: Checkpoint): string {
  return `${checkpoint.failures}|${checkpoint.progress ?? ''}`
}

/** A store call that failed because the connection is down: retried at the next beat. */
export function isConnectionError(error: unknown): boolean {
  return error instanceof Error && ((error as { code?: unknown }).code === 'ECONNREFUSED' || /connection|closed|ECONN|EPIPE|ETIMEDOUT|Command timed out|stream isn't writeable|CLUSTERDOWN|TRYAGAIN|MOVED|max retries/i.test(error.message))
}
