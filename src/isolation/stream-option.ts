import { WardStartError, type StartTarget } from '../steward/errors.js'

/**
 * The error of a thread or process ward whose far side streams while the ward was made with
 * `stream: false` (the default): a worker's ward returned an async iterable, or a child sent an
 * output. A `WardStartError` (no restart can heal a ward built with the wrong option: the run
 * ends at once) whose cause is a `TypeError` naming the option. Made in this one place (and
 * thrown by the ward), so every such mismatch reads alike. @internal
 */
export function streamOptionError(factory: 'threadWard' | 'processWard', ward: string, target: StartTarget, what: string): WardStartError {
  const pass = factory === 'processWard' ? "{ heartbeat: 'ipc', stream: true }" : '{ stream: true }'
  const why = `${what}, but the ward was made with option 'stream' false (the default), so nothing would consume its outputs: pass ${pass} to ${factory}() to make it a stream ward`
  return new WardStartError(ward, target, new TypeError(`${factory} '${ward}': ${why}`), why)
}
