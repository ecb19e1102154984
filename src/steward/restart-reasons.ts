// Which restart reasons a run can have, from its options and its place in a tree: what
// `status().restartReasons` says, so that metrics export a zero series for each before the first
// restart (Prometheus' `increase()` does not see a series' first sample as an increase).
import type { RestartReason } from '../observe/events.js'
import type { ResolvedOptions } from './options.js'

/**
 * Set by `processWard` (with `maxMemory`) and `threadWard` (with `resourceLimits`) on the ward
 * function they return: a ward that can be restarted for its memory. @internal
 */
export const memoryLimited: unique symbol = Symbol.for('steward.memoryLimited') as never

/** Marks `ward` as one that can fail with a `MemoryLimitError` (see {@link memoryLimited}). @internal */
export function markMemoryLimited<W extends object>(ward: W): W {
  Object.defineProperty(ward, memoryLimited, { value: true })
  return ward
}

// Bits of the reasons, in the order RestartReason lists them (and status lists them).
const order: readonly RestartReason[] = ['hung', 'stalled', 'idle', 'failed', 'memory', 'start', 'returned', 'sibling', 'manual']
const bit = Object.fromEntries(order.map((reason, i) => [reason, 1 << i])) as Record<RestartReason, number>

// One frozen list per combination, made on first use: a status of 10,000 wards allocates none.
const lists: Array<readonly RestartReason[] | undefined> = []

/** The frozen list of the reasons in `mask`, in {@link order}. */
function listOf(mask: number): readonly RestartReason[] {
  return (lists[mask] ??= Object.freeze(order.filter((reason) => (mask & bit[reason]) !== 0)))
}

/**
 * Where a run sits, as far as its restart reasons go: `undefined` at the top level or nested in a
 * steward's ward; a supervisor's child, whether its strategy restarts siblings with a failed child
 * (`one-for-all`, `rest-for-one`). @internal
 */
export type Placement = undefined | { readonly siblingRestarts: boolean }

/**
 * The restart reasons a run with these options can report in a `restarting` event:
 * - `hung` always (`timeout` is finite); `stalled` with a `progressTimeout`; `idle` with an
 *   `idleTimeout`;
 * - `failed` always, `memory` for a memory-limited process or thread ward, `start` when a
 *   `shouldRestart` may choose to restart a start error, `returned` under `restart: 'permanent'`
 *   (none of these for `temporary`, which never restarts);
 * - `sibling` under a one-for-all or rest-for-one supervisor, `manual` under any supervisor
 *   (an operator's `restartChild`).
 * @internal
 */
export function restartReasonsOf(options: ResolvedOptions, placement: Placement): readonly RestartReason[] {
  let mask = 0
  if (options.restart !== 'temporary') {
    mask |= bit.hung // `timeout` is always finite
    if (options.progressTimeout !== Infinity) mask |= bit.stalled
    if (options.idleTimeout !== Infinity) mask |= bit.idle
    mask |= bit.failed
    if ((options.ward as { [memoryLimited]?: true })[memoryLimited] === true) mask |= bit.memory
    if (options.shouldRestart !== undefined) mask |= bit.start
    if (options.restart === 'permanent') mask |= bit.returned
  }
  if (placement !== undefined) {
    mask |= bit.manual
    if (placement.siblingRestarts) mask |= bit.sibling
  }
  return listOf(mask)
}
