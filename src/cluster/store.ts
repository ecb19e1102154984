/** A live node as the membership record names it: its id and the epoch of its current lease. */
export interface Member {
  readonly node: string
  readonly epoch: number
  /** The node is handing its wards over and leaving: the others assign nothing to it. */
  readonly leaving?: boolean
}

/** A ward's committed progress as stored: JSON text (or `undefined`, never checkpointed) and its failures there. */
export interface Checkpoint {
  readonly progress: string | undefined
  readonly failures: number
}

/** How a ward's run ended by itself: it completed (`done`) or gave up (`failed`, with the reason). */
export interface Finished {
  readonly state: 'done' | 'failed'
  /** Why it failed (the last error), `''` when done. */
  readonly reason: string
  /** The node's wall-clock time (ms since the epoch) when it finished. */
  readonly at: number
}

/** What `claim` answers: the ward is now the caller's under `token`, another live-looking owner holds it, or the ward has finished. */
export type ClaimResult =
  | { readonly kind: 'claimed'; readonly token: number; readonly checkpoint: Checkpoint; readonly from: Member | null }
  | { readonly kind: 'held'; readonly owner: Member }
  | { readonly kind: 'expired' }
  | { readonly kind: 'finished'; readonly finished: Finished }

/** What a fenced write answers. */
export type WriteResult = 'written' | 'fenced' | 'superseded'

/** What `renew` answers: whether the lease was still the caller's, the live members and the ward set's version. */
export interface RenewResult {
  readonly ok: boolean
  readonly members: readonly Member[]
  readonly wardsVersion: number
  /** Redis's clock (ms) when the script ran: claims carry a deadline on it. */
  readonly time: number
}

/**
 * The atomic operations of the cluster protocol (one Lua script each on Redis, one step of the
 * simulated Redis in the simulation). Every operation touches keys of one hash slot: the
 * namespace's (`join`, `renew`, `alive`, `leave`, `wards`, `addWards`) or one ward's (the rest).
 * A reply may never come (the caller times out); the operation may still have been applied.
 * @internal
 */
export interface LeaseStore {
  /** A new epoch and a lease of `ttl` ms for `node`; `undefined` while an older lease of `node` is still live. */
  join(node: string, ttl: number): Promise<number | undefined>
  /** Extends the lease of `(node, epoch)` by `ttl` ms if it is still that epoch's; lists live members. */
  renew(node: string, epoch: number, ttl: number, leaving: boolean): Promise<RenewResult>
  /** Whether `(node, epoch)` still holds its lease. A `false` is final: an expired lease never comes back. */
  alive(member: Member): Promise<boolean>
  /** Deletes the lease of `(node, epoch)` if it is still that epoch's. */
  leave(node: string, epoch: number): Promise<void>
  /** Every ward id to run (added and not finished), the set's version, and the finished wards. */
  wards(): Promise<{ readonly ids: readonly string[]; readonly version: number; readonly finished: ReadonlyMap<string, Finished> }>
  /** Adds ward ids to run; a finished one stays finished unless `again` (after `reopen`). Answers how many were not to run before. */
  addWards(ids: readonly string[], again?: boolean): Promise<number>
  /** Namespace slot: `ward` finished — out of the set to run, into the finished ones; the set's version moves. */
  retire(ward: string, finished: Finished): Promise<void>
  /** Ward slot: clears a finished ward's end (and its failures) so it can be claimed again; whether it was finished. */
  reopen(ward: string): Promise<boolean>
  /**
   * Makes `(node, epoch)` the ward's owner with a new fencing token, when it has no owner or its
   * owner is one of `ifOwners` (members the caller knows are dead: their lease is gone). Already `(node, epoch)`'s: its token, unchanged.
   * A claim that reaches Redis after `notAfter` (Redis's clock, ms) does nothing (`expired`): the
   * caller has given up on it by then, so no claim it forgot about can make it an owner later. A
   * finished ward is not claimed (`finished`).
   */
  claim(ward: string, node: string, epoch: number, notAfter: number, ifOwners?: readonly Member[]): Promise<ClaimResult>
  /**
   * Which clock judges `ward`'s claims: `undefined` when it is the namespace's (one Redis server:
   * the clock `renew` reports), else an id of the master that holds the ward's key (a Redis
   * Cluster), whose clock `time(ward)` reads.
   */
  clockOf(ward: string): string | undefined
  /** Redis's clock (ms) on the master that holds `ward`'s key, when the call ran there. */
  time(ward: string): Promise<number>
  /**
   * Writes the checkpoint only if `token` is the ward's current token and it has an owner
   * (`'written'`, else `'fenced'`), and only if `seq` is above the last one written under that
   * token (else `'superseded'`: a reordered older write, dropped).
   *
   * `kept`: the ward commits its own progress (`WardLease.commit`), so the stored progress stays
   * as its commits left it, and `failures` is written only where the stored progress is
   * `checkpoint.progress` (they count failures at that position).
   */
  checkpoint(ward: string, token: number, seq: number, checkpoint: Checkpoint, kept?: boolean): Promise<WriteResult>
  /** Fenced as `checkpoint`; also clears the owner, so another node may claim the ward at once. */
  release(ward: string, token: number, seq: number, checkpoint: Checkpoint, kept?: boolean): Promise<WriteResult>
  /** Fenced as `release`; also records that the ward finished, so no claim runs it again until it is reopened. */
  finish(ward: string, token: number, seq: number, checkpoint: Checkpoint, kept: boolean, finished: Finished): Promise<WriteResult>
}
