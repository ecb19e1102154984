import type { Checkpoint, ClaimResult, Finished, Member, RenewResult, WriteResult } from '../cluster/store.js'

interface WardRecord {
  node: string
  epoch: number
  token: number
  progress: string | undefined
  failures: number
  seq: number
  /** How the ward ended ('' while it is to run), and why. */
  state: '' | 'done' | 'failed'
  reason: string
}

/**
 * The simulated Redis of the cluster simulation: the state the Lua scripts of
 * `cluster/redis-store.ts` keep, and each script as one atomic method on it, at the simulation's
 * true time (Redis's clock). Test-only. `src/cluster/contract.test.ts` runs one table of calls
 * against this model and the Lua scripts on a real Redis (a server and a Redis Cluster) and
 * compares every answer.
 */
export class SimRedis {
  readonly now: () => number
  version: string | undefined = undefined
  epochCounter = 0
  readonly leases = new Map<string, { epoch: number; expiresAt: number }>()
  readonly members = new Map<string, { epoch: number; leaving: boolean }>()
  readonly wardSet = new Set<string>()
  readonly finished = new Map<string, Finished>()
  wardsVersion = 0
  readonly records = new Map<string, WardRecord>()
  /** Every accepted fenced write: the checker compares it with the claims it saw. */
  onWrite: ((ward: string, token: number, checkpoint: Checkpoint) => void) | undefined = undefined
  onClaim: ((ward: string, token: number, node: string, epoch: number) => void) | undefined = undefined

  /**
   * The masters the wards' keys live on beyond the namespace's (a Redis Cluster): each ward's
   * master by a hash of its id, each master's clock this many ms ahead of the namespace master's.
   * Empty: one server, one clock.
   */
  readonly masters: readonly number[]

  constructor(now: () => number, masters: readonly number[] = []) {
    this.now = now
    this.masters = masters
  }

  /** Which master holds `ward`'s key (an index into `masters`), or `undefined` on one server. */
  masterOf(ward: string): number | undefined {
    if (this.masters.length === 0) return undefined
    let hash = 0
    for (const char of ward) hash = (hash * 31 + char.charCodeAt(0)) >>> 0
    return hash % this.masters.length
  }

  /** The clock of the master holding `ward`'s key: the `time` script run there. */
  timeOf(ward: string): number {
    const master = this.masterOf(ward)
    return this.now() + (master === undefined ? 0 : this.masters[master]!)
  }

  #lease(node: string): { epoch: number; expiresAt: number } | undefined {
    const lease = this.leases.get(node)
    if (lease !== undefined && lease.expiresAt <= this.now()) {
      this.leases.delete(node)
      return undefined
    }
    return lease
  }

  join(node: string, ttl: number): number | undefined {
    if (this.#lease(node) !== undefined) return undefined
    const epoch = ++this.epochCounter
    this.leases.set(node, { epoch, expiresAt: this.now() + ttl })
    this.members.set(node, { epoch, leaving: false })
    return epoch
  }

  renew(node: string, epoch: number, ttl: number, leaving: boolean): RenewResult {
    const lease = this.#lease(node)
    const ok = lease !== undefined && lease.epoch === epoch
    if (ok) {
      lease.expiresAt = this.now() + ttl
      this.members.set(node, { epoch, leaving })
    }
    const members: Member[] = []
    for (const [name, member] of [...this.members]) {
      const live = this.#lease(name)
      if (live === undefined || live.epoch !== member.epoch) this.members.delete(name)
      else members.push({ node: name, epoch: member.epoch, leaving: member.leaving })
    }
    return { ok, members, wardsVersion: this.wardsVersion, time: this.now() }
  }

  alive(member: Member): boolean {
    return this.#lease(member.node)?.epoch === member.epoch
  }

  leave(node: string, epoch: number): void {
    if (this.#lease(node)?.epoch === epoch) {
      this.leases.delete(node)
      this.members.delete(node)
    }
  }

  wards(): { ids: string[]; version: number; finished: Map<string, Finished> } {
    return { ids: [...this.wardSet], version: this.wardsVersion, finished: new Map(this.finished) }
  }

  addWards(ids: readonly string[], again = false): number {
    let added = 0
    for (const id of ids) {
      if (again) this.finished.delete(id)
      if (this.finished.has(id) || this.wardSet.has(id)) continue
      this.wardSet.add(id)
      added++
    }
    if (added > 0) this.wardsVersion++
    return added
  }

  retire(ward: string, finished: Finished): void {
    const removed = this.wardSet.delete(ward)
    const fresh = !this.finished.has(ward)
    if (fresh) this.finished.set(ward, finished)
    if (removed || fresh) this.wardsVersion++
  }

  reopen(ward: string): boolean {
    const record = this.records.get(ward)
    if (record === undefined || record.state === '') return false
    record.state = ''
    record.reason = ''
    record.failures = 0
    return true
  }

  claim(ward: string, node: string, epoch: number, notAfter: number, ifOwners: readonly Member[] = []): ClaimResult {
    // Judged on the clock of the master that runs the script.
    if (this.timeOf(ward) > notAfter) return { kind: 'expired' }
    let record = this.records.get(ward)
    if (record === undefined) {
      record = { node: '', epoch: 0, token: 0, progress: undefined, failures: 0, seq: 0, state: '', reason: '' }
      this.records.set(ward, record)
    }
    if (record.state !== '') return { kind: 'finished', finished: { state: record.state, reason: record.reason, at: 0 } }
    const checkpoint = { progress: record.progress, failures: record.failures }
    if (record.node !== '') {
      if (record.node === node && record.epoch === epoch) return { kind: 'claimed', token: record.token, checkpoint, from: null }
      if (!ifOwners.some((owner) => record.node === owner.node && record.epoch === owner.epoch)) {
        return { kind: 'held', owner: { node: record.node, epoch: record.epoch } }
      }
    }
    const from = record.node === '' ? null : { node: record.node, epoch: record.epoch }
    record.token++
    record.seq = 0
    record.node = node
    record.epoch = epoch
    this.onClaim?.(ward, record.token, node, epoch)
    return { kind: 'claimed', token: record.token, checkpoint, from }
  }

  #write(ward: string, token: number, seq: number, checkpoint: Checkpoint, release: boolean, kept: boolean, finished?: Finished): WriteResult {
    const record = this.records.get(ward)
    if (record === undefined || record.token !== token || record.node === '') return 'fenced'
    if (seq <= record.seq) return 'superseded'
    record.seq = seq
    if (!kept) {
      record.progress = checkpoint.progress
      record.failures = checkpoint.failures
    } else if (record.progress === checkpoint.progress) record.failures = checkpoint.failures
    if (release) {
      record.node = ''
      record.epoch = 0
    }
    if (finished !== undefined) {
      record.state = finished.state
      record.reason = finished.reason
    }
    this.onWrite?.(ward, token, checkpoint)
    return 'written'
  }

  checkpoint(ward: string, token: number, seq: number, checkpoint: Checkpoint, kept = false): WriteResult {
    return this.#write(ward, token, seq, checkpoint, false, kept)
  }

  release(ward: string, token: number, seq: number, checkpoint: Checkpoint, kept = false): WriteResult {
    return this.#write(ward, token, seq, checkpoint, true, kept)
  }

  finish(ward: string, token: number, seq: number, checkpoint: Checkpoint, kept: boolean, finished: Finished): WriteResult {
    return this.#write(ward, token, seq, checkpoint, true, kept, finished)
  }

  /** The prelude of a user's fenced script (and of a dead letter's `XADD`): whether `token` is the ward's current token, with an owner. */
  fenced(ward: string, token: number): boolean {
    const record = this.records.get(ward)
    return record !== undefined && record.token === token && record.node !== ''
  }

  /**
   * The commit script: under the current token, `effect` runs and the checkpoint moves to
   * `progress` in one step (`'applied'`); `'duplicate'` when `progress` is already the stored one.
   */
  commit(ward: string, token: number, seq: number, progress: string, effect: () => void): 'applied' | 'duplicate' | 'fenced' | 'superseded' {
    const record = this.records.get(ward)
    if (record === undefined || record.token !== token || record.node === '') return 'fenced'
    if (record.progress === progress) return 'duplicate'
    if (seq <= record.seq) return 'superseded'
    effect()
    record.seq = seq
    record.progress = progress
    record.failures = 0
    this.onWrite?.(ward, token, { progress, failures: 0 })
    return 'applied'
  }
}
