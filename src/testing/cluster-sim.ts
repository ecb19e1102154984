// The deterministic simulation of the cluster protocol (test-only): the node logic of
// `cluster/node-core.ts` against the simulated Redis of `sim-redis.ts`, every node on one virtual
// clock, driven by one seeded PRNG. Faults: process pauses longer than leaseTtl, delayed and lost
// requests and replies, disconnects, deaths, restarts and joins, and clock rates within
// ±CLOCK_RATE_BOUND. The invariants are checked after every step.
import { sleepOn, type Clock, type Timer } from '../time/clock.js'
import { CLOCK_RATE_BOUND, NodeCore, type Lease, type WardRunner } from '../cluster/node-core.js'
import type { Checkpoint, LeaseStore, Member } from '../cluster/store.js'
import { SimRedis } from './sim-redis.js'

/** mulberry32: a small seeded PRNG. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

interface SimEvent {
  at: number
  seq: number
  node: SimNode | undefined
  run: () => void
  cancelled: boolean
}

/** A binary heap of events by (at, seq). */
class Agenda {
  readonly #heap: SimEvent[] = []
  get size(): number {
    return this.#heap.length
  }
  push(event: SimEvent): void {
    const heap = this.#heap
    heap.push(event)
    let i = heap.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!before(heap[i]!, heap[parent]!)) break
      ;[heap[i], heap[parent]] = [heap[parent]!, heap[i]!]
      i = parent
    }
  }
  pop(): SimEvent | undefined {
    const heap = this.#heap
    const top = heap[0]
    const last = heap.pop()
    if (heap.length > 0 && last !== undefined) {
      heap[0] = last
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        const r = l + 1
        let m = i
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r
        if (m === i) break
        ;[heap[i], heap[m]] = [heap[m]!, heap[i]!]
        i = m
      }
    }
    return top
  }
}

function before(a: SimEvent, b: SimEvent): boolean {
  return a.at < b.at || (a.at === b.at && a.seq < b.seq)
}

/** The settings of one simulated run, all drawn from its seed. */
export interface SimConfig {
  readonly seed: number
  readonly leaseTtl: number
  /** The longest a ward takes to stop: the model's stops take up to this long. */
  readonly wardStop: number
  /** The wards' masters' clocks ahead of the namespace master's (ms); empty: one Redis server. */
  readonly masters: readonly number[]
  readonly beat: number
  readonly checkpointEvery: number
  readonly nodes: number
  readonly wards: number
  readonly maxWardsPerNode: number
  /** Virtual ms of faults, then a quiet period in which every ward must be owned again. */
  readonly faultsFor: number
  readonly lossRate: number
  readonly maxDelay: number
  readonly pauseRate: number
  readonly deathRate: number
  readonly joinRate: number
  readonly disconnectRate: number
}

/** Draws a run's settings from its seed. */
export function configFor(seed: number): SimConfig {
  const random = prng(seed ^ 0x5eed)
  const leaseTtl = 1_000
  // Mostly the default room to stop (leaseTtl × 0.15), sometimes more, with a beat that fits.
  const wardStop = random() < 0.7 ? 150 : 150 + Math.floor(random() * 200)
  // Half the seeds on a Redis Cluster of two or three masters whose clocks differ by up to ±2 s.
  const masters = random() < 0.5 ? [] : Array.from({ length: 2 + Math.floor(random() * 2) }, () => Math.round((random() - 0.5) * 4_000))
  return {
    seed,
    leaseTtl,
    wardStop,
    masters,
    beat: Math.floor(Math.min(leaseTtl / 3, (leaseTtl * (1 - CLOCK_RATE_BOUND) - wardStop) / 2.4)),
    checkpointEvery: 100 + Math.floor(random() * 400),
    nodes: 2 + Math.floor(random() * 4),
    wards: 5 + Math.floor(random() * 30),
    maxWardsPerNode: random() < 0.2 ? 30 + Math.floor(random() * 20) : Infinity,
    faultsFor: 5_000 + Math.floor(random() * 7_000),
    lossRate: random() * 0.05,
    maxDelay: 5 + Math.floor(random() * 60),
    pauseRate: random() * 0.3,
    deathRate: random() * 0.1,
    joinRate: random() * 0.15,
    disconnectRate: random() * 0.1,
  }
}

class SimNode {
  readonly name: string
  readonly rate: number
  readonly offset: number
  alive = true
  pausedUntil = -1
  disconnectedUntil = -1
  core!: NodeCore
  /** The wards running here (`running`), or stopping (a stop takes time: the ward runs until it ends). */
  readonly wards = new Map<string, { token: number; progress: number; failures: number; running: boolean }>()
  constructor(name: string, rate: number, offset: number) {
    this.name = name
    this.rate = rate
    this.offset = offset
  }
}

/** A violated invariant (or a stuck ward at the end): the seed replays it. */
export class SimFailure extends Error {}

/** One seeded run of the protocol. */
export class Simulation {
  readonly config: SimConfig
  readonly random: () => number
  readonly redis: SimRedis
  readonly nodes: SimNode[] = []
  readonly #agenda = new Agenda()
  #seq = 0
  time = 0
  steps = 0
  #names = 0
  /** The token each ward was last claimed with (from the claims the simulated Redis applied). */
  readonly claimed = new Map<string, number>()
  readonly lastCheckpoint = new Map<string, number>()
  /** Per ward, the highest position processed so far by any owner, to check none is skipped. */
  readonly processed = new Map<string, number>()
  readonly log: string[] = []
  readonly trace: boolean

  constructor(config: SimConfig, trace = false) {
    this.config = config
    this.random = prng(config.seed)
    this.trace = trace
    this.redis = new SimRedis(() => this.time, config.masters)
    this.redis.onClaim = (ward, token) => this.claimed.set(ward, token)
    this.redis.onWrite = (ward, token, checkpoint) => {
      const current = this.claimed.get(ward)
      if (current !== token) this.fail(`ward ${ward}: a write with token ${token} was accepted while ${String(current)} is current`)
      const position = checkpoint.progress === undefined ? 0 : (JSON.parse(checkpoint.progress) as number)
      const last = this.lastCheckpoint.get(ward) ?? 0
      if (position < last) this.fail(`ward ${ward}: checkpoint went backwards from ${last} to ${position} (token ${token})`)
      this.lastCheckpoint.set(ward, position)
    }
  }

  fail(message: string): never {
    throw new SimFailure(`seed ${this.config.seed} at t=${this.time} (step ${this.steps}): ${message}`)
  }

  note(text: string): void {
    if (this.trace) this.log.push(`${this.time.toFixed(1)} ${text}`)
  }

  schedule(delay: number, node: SimNode | undefined, run: () => void): SimEvent {
    const event: SimEvent = { at: this.time + Math.max(0, delay), seq: this.#seq++, node, run, cancelled: false }
    this.#agenda.push(event)
    return event
  }

  clockOf(node: SimNode): Clock {
    const clock: Clock = {
      now: () => node.offset + this.time * node.rate,
      setTimer: (ms: number, callback: () => void): Timer => {
        const event = this.schedule(ms / node.rate, node, callback)
        return { cancel: () => void (event.cancelled = true) }
      },
      sleep: (ms: number, signal?: AbortSignal) => sleepOn(clock, ms, signal),
    }
    return clock
  }

  /** A store for `node`: each call crosses a network that delays, loses, or refuses it. */
  storeOf(node: SimNode): LeaseStore {
    const call = <T>(apply: () => T): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        if (this.time < node.disconnectedUntil) {
          this.schedule(1, node, () => reject(Object.assign(new Error('connection is closed'), { code: 'ECONNREFUSED' })))
          return
        }
        const { maxDelay, faultsFor } = this.config
        // Messages are lost only in the fault window: the quiet period after it checks liveness.
        const lossRate = this.time < faultsFor ? this.config.lossRate : 0
        if (this.random() < lossRate) return // the request is lost
        this.schedule(this.delay(maxDelay), undefined, () => {
          const result = apply()
          if (this.random() < lossRate) return // the reply is lost
          this.schedule(this.delay(maxDelay), node, () => resolve(result))
        })
      })
    const redis = this.redis
    return {
      join: (name, ttl) => call(() => redis.join(name, ttl)),
      renew: (name, epoch, ttl, leaving) => call(() => redis.renew(name, epoch, ttl, leaving)),
      alive: (member: Member) => call(() => redis.alive(member)),
      leave: (name, epoch) => call(() => redis.leave(name, epoch)),
      wards: () => call(() => redis.wards()),
      addWards: (ids, again) => call(() => redis.addWards(ids, again)),
      retire: (ward, finished) => call(() => redis.retire(ward, finished)),
      reopen: (ward) => call(() => redis.reopen(ward)),
      finish: (ward, token, seq, checkpoint, kept, finished) => call(() => redis.finish(ward, token, seq, checkpoint, kept, finished)),
      claim: (ward, name, epoch, notAfter, ifOwners) => call(() => redis.claim(ward, name, epoch, notAfter, ifOwners)),
      clockOf: (ward) => {
        const master = redis.masterOf(ward)
        return master === undefined ? undefined : `master-${master}`
      },
      time: (ward) => call(() => redis.timeOf(ward)),
      checkpoint: (ward, token, seq, checkpoint, kept) => call(() => redis.checkpoint(ward, token, seq, checkpoint, kept)),
      release: (ward, token, seq, checkpoint, kept) => call(() => redis.release(ward, token, seq, checkpoint, kept)),
    }
  }

  /** Mostly short network delays, sometimes one as long as a lease. */
  delay(maxDelay: number): number {
    return this.time < this.config.faultsFor && this.random() < 0.01 ? this.random() * this.config.leaseTtl * 1.5 : this.random() * maxDelay
  }

  runnerOf(node: SimNode): WardRunner {
    const clock = this.clockOf(node)
    return {
      start: (ward: string, lease: Lease) => {
        const resume = lease.checkpoint.progress === undefined ? 0 : (JSON.parse(lease.checkpoint.progress) as number)
        const state = { token: lease.token, progress: resume, failures: lease.checkpoint.failures, running: true }
        node.wards.set(ward, state)
        if (this.trace) this.note(`${node.name} starts ${ward} token ${lease.token} at ${resume}`)
        const work = (): void => {
          if (!state.running || node.wards.get(ward) !== state) return
          // Every write steward makes for a ward is fenced: by the local deadline here, by the token in Redis.
          if (node.core.tokenOf(ward) === state.token) {
            const next = state.progress + 1
            const highest = this.processed.get(ward) ?? 0
            if (next > highest + 1) this.fail(`ward ${ward}: input ${highest + 1} skipped (node ${node.name} at ${next})`)
            if (next > highest) this.processed.set(ward, next)
            state.progress = next
          }
          clock.setTimer(60 + this.random() * 240, work)
        }
        clock.setTimer(this.random() * 50, work)
      },
      stop: (ward: string) =>
        new Promise<Checkpoint>((resolve) => {
          // The ward makes no more progress, but is still running here until its stop ends, up to wardStop later.
          const state = node.wards.get(ward)
          if (state !== undefined) state.running = false
          const checkpoint = { progress: state === undefined ? undefined : JSON.stringify(state.progress), failures: state?.failures ?? 0 }
          clock.setTimer(this.random() * this.config.wardStop * 0.95, () => {
            if (state !== undefined && node.wards.get(ward) === state) node.wards.delete(ward)
            resolve(checkpoint)
          })
        }),
      committed: (ward: string) => {
        const state = node.wards.get(ward)
        return { progress: state === undefined ? undefined : JSON.stringify(state.progress), failures: state?.failures ?? 0 }
      },
    }
  }

  addNode(name = `n${this.#names++}`): SimNode {
    const rate = 1 - CLOCK_RATE_BOUND + this.random() * 2 * CLOCK_RATE_BOUND
    const node = new SimNode(name, rate, this.random() * 1e6)
    const { leaseTtl, wardStop, beat, checkpointEvery, maxWardsPerNode } = this.config
    node.core = new NodeCore({
      node: name,
      store: this.storeOf(node),
      runner: this.runnerOf(node),
      clock: this.clockOf(node),
      leaseTtl,
      wardStop,
      beat,
      checkpointEvery,
      maxWardsPerNode,
      opTimeout: beat,
      onEvent: (event) => {
        if (this.trace) this.note(`${name} ${JSON.stringify(event)}`)
      },
    })
    this.nodes.push(node)
    const clock = this.clockOf(node)
    const loop = (): void => {
      if (!node.alive) return
      void node.core.beat().catch((error: unknown) => this.fail(`node ${name}: ${String(error)}`))
      clock.setTimer(beat, loop)
    }
    clock.setTimer(this.random() * beat, loop)
    this.note(`${name} joins (rate ${rate.toFixed(3)})`)
    return node
  }

  /**
   * The runner guarantee: no two nodes run a ward at once, counting a ward as running until its
   * stop ended, on every node — also one past its local deadline, whose wards are stopping. A
   * node paused (SIGSTOP) is exempt while paused and for two leases after it woke: a suspended
   * process cannot stop its wards, and when it wakes it may run a stale ward until its overdue
   * deadline fires (fencing refuses its writes; `onWrite` checks that).
   */
  check(): void {
    const runners = new Map<string, string>()
    for (const node of this.nodes) {
      if (!node.alive || this.time < node.pausedUntil + 2 * this.config.leaseTtl) continue
      for (const ward of node.wards.keys()) {
        const other = runners.get(ward)
        if (other !== undefined) this.fail(`ward ${ward} runs on ${other} and ${node.name} at once`)
        runners.set(ward, node.name)
      }
    }
  }

  /** A random fault, now and then, while the fault window is open. */
  fault(): void {
    const { faultsFor, leaseTtl } = this.config
    if (this.time >= faultsFor) return
    const live = this.nodes.filter((node) => node.alive)
    const pick = (): SimNode | undefined => live[Math.floor(this.random() * live.length)]
    const roll = this.random()
    const c = this.config
    if (roll < c.pauseRate) {
      const node = pick()
      if (node !== undefined) {
        node.pausedUntil = this.time + leaseTtl * (0.2 + this.random() * 2.5)
        this.note(`${node.name} paused until ${node.pausedUntil.toFixed(1)}`)
      }
    } else if (roll < c.pauseRate + c.deathRate && live.length > 1) {
      const node = pick()!
      node.alive = false
      node.wards.clear()
      this.note(`${node.name} dies`)
      if (this.random() < 0.5) this.schedule(leaseTtl * this.random() * 3, undefined, () => this.addNode(node.name))
    } else if (roll < c.pauseRate + c.deathRate + c.joinRate && live.length < 7) {
      this.addNode()
    } else if (roll < c.pauseRate + c.deathRate + c.joinRate + c.disconnectRate) {
      const node = pick()
      if (node !== undefined) node.disconnectedUntil = this.time + leaseTtl * this.random() * 2
    }
    this.schedule(200 + this.random() * 800, undefined, () => this.fault())
  }

  /** Runs the seed to its end; throws a {@link SimFailure} at the first violated invariant. */
  async run(): Promise<void> {
    const { nodes, wards, faultsFor, leaseTtl, beat } = this.config
    const ids = Array.from({ length: wards }, (_, i) => `w${i}`)
    this.redis.addWards(ids)
    for (let i = 0; i < nodes; i++) this.addNode()
    this.schedule(leaseTtl, undefined, () => this.fault())
    // After the faults: a lease, two beats, the longest delays and a stop later, every ward runs again.
    const bound = leaseTtl * (1 + CLOCK_RATE_BOUND) + 4 * beat + leaseTtl * 1.5 * 2 + 3 * leaseTtl
    const end = faultsFor + leaseTtl * 3 + bound
    for (;;) {
      const event = this.#agenda.pop()
      if (event === undefined || event.at > end) break
      if (event.cancelled) continue
      if (event.node !== undefined && !event.node.alive) continue
      this.time = event.at
      if (event.node !== undefined && this.time < event.node.pausedUntil) {
        // A paused process does nothing until it is woken: its timers and replies wait.
        event.at = event.node.pausedUntil
        event.seq = this.#seq++
        this.#agenda.push(event)
        continue
      }
      this.steps++
      event.run()
      // Every continuation the event set off runs before the next event: the step is atomic.
      for (let i = 0; i < 24; i++) await Promise.resolve()
      this.check()
    }
    this.time = end
    const live = this.nodes.filter((node) => node.alive && node.core.live())
    if (live.length === 0) this.fail('no live node at the end')
    for (const ward of ids) {
      const owners = live.filter((node) => node.core.tokenOf(ward) !== undefined)
      if (owners.length !== 1) {
        const views = this.nodes
          .filter((node) => node.alive)
          .map((node) => `${node.name}: epoch ${String(node.core.epoch)}, live ${node.core.live()}, mine ${node.core.mine.has(ward)}, busy ${node.core.busy.has(ward)}, releasing ${node.core.releasing.has(ward)}, members ${JSON.stringify(node.core.members)}`)
        this.fail(`ward ${ward} has ${owners.length} live owners ${bound} ms after the last fault; record ${JSON.stringify(this.redis.records.get(ward))}; ${views.join('; ')}`)
      }
    }
  }
}

/** Runs one seed; the failure, if any, with the trace of a replay when `trace` is set. */
export async function runSeed(seed: number, trace = false): Promise<{ error: SimFailure | undefined; steps: number; log: readonly string[] }> {
  const simulation = new Simulation(configFor(seed), trace)
  try {
    await simulation.run()
    return { error: undefined, steps: simulation.steps, log: simulation.log }
  } catch (error) {
    if (error instanceof SimFailure) return { error, steps: simulation.steps, log: simulation.log }
    throw error
  }
}
