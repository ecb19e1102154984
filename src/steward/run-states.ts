/**
 * The states of a run, and the moves between them.
 *
 * A run (`StewardRun`, `SupervisorRun`) keeps what it is doing in one small
 * integer, `state`. The watchdog reads the same field: only WORKING and IDLE
 * (with an idle timeout) have deadlines, so the three states of a live
 * incarnation come first and the watchdog ignores the rest. A supervisor
 * uses WORKING, STOPPING and SETTLED only.
 *
 *                 launch                 beat / idle / yield
 *   STARTING ───────────────▶ WORKING ◀──────────▶ IDLE, WAITING
 *                                │ failed, hung, stalled, idle timeout,
 *                                │ returned (permanent), a supervisor's retireFor
 *                                ▼
 *                            RETIRING ── returned (not permanent) ──▶ SETTLED
 *                               │ the incarnation settled (or was abandoned)
 *                               ├── the steward's delay 0 ──▶ RESTARTING ── launch ──▶ WORKING
 *                               ├── the steward's delay > 0 ─▶ BACKOFF ── timer ──▶ RESTARTING
 *                               └── a supervisor's child ───▶ HELD
 *                                         relaunch: HELD ──▶ RESTARTING
 *                           the supervisor's backoff: HELD ──▶ BACKOFF ── relaunch ──▶ RESTARTING
 *      a supervisor's retireFor between incarnations: RESTARTING, BACKOFF ──▶ HELD
 *   any state above ── stop(), give-up ──▶ STOPPING ── the teardown ended ──▶ SETTLED
 *
 * Why a field and a table rather than flags: the public state (`status().state`)
 * is `STATE_NAMES[state]`, the guard of a launch is "the state says a launch is
 * due", and a move the table does not allow is a bug the tests see — with
 * `STEWARD_CHECK_STATES=1` (set by `npm test`) every move is checked against
 * {@link TRANSITIONS} and a wrong one throws. Without it the check is a constant
 * `false` the compiler drops: a beat still costs a field write.
 * @internal
 */
import type { RunState } from '../observe/status.js'

/** An incarnation runs and must beat before its deadline. */
export const WORKING = 0
/** The incarnation waits for input (`ctx.idle`): healthy without beating. */
export const IDLE = 1
/** The incarnation is suspended at a `yield` nobody asked for yet: healthy. */
export const WAITING = 2
/** No incarnation has started yet (its launch is a microtask away). */
export const STARTING = 3
/** The last incarnation is being stopped for a restart (aborted, closed, waited for up to `stopTimeout`). */
export const RETIRING = 4
/** The next incarnation's launch is queued (a microtask, or a macrotask turn in a crash loop). */
export const RESTARTING = 5
/** Waiting for a backoff: the steward's own timer, or its supervisor's. */
export const BACKOFF = 6
/** A supervisor's child between incarnations: its supervisor calls `relaunch()` when its restart is ready. */
export const HELD = 7
/** A stop or a give-up is tearing the run down. */
export const STOPPING = 8
/** The outcome is known and `done` resolved. */
export const SETTLED = 9

const bit = (...states: number[]): number => states.reduce((mask, state) => mask | (1 << state), 0)

/** What each state may move to (a bit per state). Stopping is allowed from every state but the last two. */
export const TRANSITIONS: readonly number[] = [
  /* WORKING    */ bit(WORKING, IDLE, WAITING, RETIRING, STOPPING, SETTLED), // SETTLED: a supervisor completes without stopping
  /* IDLE       */ bit(WORKING, WAITING, RETIRING, STOPPING),
  /* WAITING    */ bit(WORKING, IDLE, WAITING, RETIRING, STOPPING),
  /* STARTING   */ bit(WORKING, STOPPING),
  /* RETIRING   */ bit(RESTARTING, BACKOFF, HELD, STOPPING, SETTLED),
  /* RESTARTING */ bit(WORKING, HELD, STOPPING),
  /* BACKOFF    */ bit(RESTARTING, HELD, STOPPING),
  /* HELD       */ bit(RESTARTING, BACKOFF, STOPPING),
  /* STOPPING   */ bit(SETTLED),
  /* SETTLED    */ 0,
]

/** The public name of each state before the run settles (a settled run shows its outcome's kind). */
export const STATE_NAMES: readonly RunState[] = ['working', 'idle', 'waiting', 'starting', 'stopping', 'restarting', 'backoff', 'restarting', 'stopping', 'stopping']

/** For messages: the constant's name of each state. */
const CODE_NAMES = ['WORKING', 'IDLE', 'WAITING', 'STARTING', 'RETIRING', 'RESTARTING', 'BACKOFF', 'HELD', 'STOPPING', 'SETTLED']

/** Whether moves are checked against {@link TRANSITIONS} (`STEWARD_CHECK_STATES=1`, read once). */
export const CHECK_STATES: boolean = process.env['STEWARD_CHECK_STATES'] === '1'

/** Throws when `from → to` is not in {@link TRANSITIONS}; called only under {@link CHECK_STATES}. */
export function checkMove(path: string, from: number, to: number): void {
  if ((TRANSITIONS[from]! & (1 << to)) !== 0) return
  const error = new Error(`steward: run '${path}' moved from ${CODE_NAMES[from]} to ${CODE_NAMES[to]}, which its state table does not allow`)
  // Also printed: the move may happen where a throw is caught (a promise reaction).
  process.stderr.write(`${error.stack ?? error.message}\n`)
  throw error
}
