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

/** What `claim` answers: the ward is now the caller's under `token`, or another live-looking owner holds it. */
export type ClaimResult =
  | { readonly kind: 'claimed'; readonly token: number; readonly checkpoint: Checkpoint }
  | { readonly kind: 'held'; readonly owner: Member }
  | { readonly kind: 'expired' }

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
  /** Every ward id added, and the set's version. */
  wards(): Promise<{ readonly ids: readonly string[]; readonly version: number }>
  /** Adds ward ids; answers how many were new. */
  addWards(ids: readonly string[]): Promise<number>
  /**
   * Makes `(node, epoch)` the ward's owner with a new fencing token, when it has no owner or its
   * owner is `ifOwner` (which the caller found dead). Already `(node, epoch)`'s: its token, unchanged.
   * A claim that reaches Redis after `notAfter` (Redis's clock, ms) does nothing (`expired`): the
   * caller has given up on it by then, so no claim it forgot about can make it an owner later.
   */
  claim(ward: string, node: string, epoch: number, notAfter: number, ifOwner?: Member): Promise<ClaimResult>
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
}
