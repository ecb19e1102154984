import { describe } from '../time/duration.js'
import { resolveOptions, type StewardOptions } from './options.js'
import { StewardRun } from './run.js'
import type { Run, StartOptions } from './run-api.js'
import { checkStartOptions, startOptionKeys } from './validate.js'
import type { Ward, WardContext } from './ward.js'

/**
 * A ward wrapped in a steward. It is itself a {@link Ward} (so stewards
 * nest, as in the seed: the outer one restarts the inner one when the
 * inner gives up or hangs), and `start()` runs it at the top level.
 * `T` is the type of the ward's outputs, `P` the type of its progress.
 */
export interface Steward<T, P = unknown> {
  /**
   * Runs the steward as the ward of another steward: its clock, signal and
   * resume point come from `ctx`, its beats and progress are passed up (so
   * the outer ward's progress is this one's, `P`), and its output is the
   * returned run. A give-up becomes a failure of `ctx`'s incarnation.
   */
  (ctx: WardContext<P>): Run<T, P>
  /** Starts a supervised run at the top level. */
  start(options?: StartOptions<P>): Run<T, P>
  /** The steward's name (the `name` option). */
  readonly stewardName: string
}

/**
 * Supervises `ward`: starts it, watches its heartbeat, and starts a fresh
 * incarnation when it throws, rejects or stops beating while working,
 * within the restart limit. See {@link Ward} for the contract and
 * {@link StewardOptions} for the options (validated here; a bad one throws
 * a `TypeError` or `RangeError` naming it).
 *
 * @example
 * const run = steward(async function* (ctx: WardContext<number>) {
 *   for (let i = ctx.resume ?? 0; i < 10; i++) {
 *     ctx.beat(i)
 *     yield await work(i, ctx.signal)
 *   }
 * }, { timeout: '2s', maxRestarts: 3 }).start()
 * for await (const result of run) console.log(result)
 */
export function steward<T, P = unknown>(ward: Ward<T, P>, options?: StewardOptions): Steward<T, P> {
  if (typeof ward !== 'function') throw new TypeError(`steward: ward must be a function, got ${describe(ward)}`)
  const resolved = resolveOptions(ward as Ward<unknown>, options, ward.name !== '' ? ward.name : 'ward')
  // The run keeps progress untyped; `P` is the ward's promise to its caller, fixed here.
  const nested = (ctx: WardContext<P>): Run<T, P> =>
    new StewardRun<T>(resolved, { signal: ctx.signal, clock: ctx.clock, resume: ctx.resume }, ctx) as Run<T, P>
  const start = (startOptions: StartOptions<P> = {}): Run<T, P> => {
    checkStartOptions(startOptions, startOptionKeys)
    return new StewardRun<T>(resolved, startOptions, undefined) as Run<T, P>
  }
  return Object.assign(nested, { start, stewardName: resolved.name })
}
