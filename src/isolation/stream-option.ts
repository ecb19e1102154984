/**
 * The error of a thread or process ward whose far side streams while the ward was made with
 * `stream: false` (the default): a worker's ward returned an async iterable, or a child sent an
 * output. Made in this one place (and thrown by the ward), so every such mismatch reads alike.
 * @internal
 */
export function streamOptionError(factory: 'threadWard' | 'processWard', ward: string, what: string): TypeError {
  const pass = factory === 'processWard' ? "{ heartbeat: 'ipc', stream: true }" : '{ stream: true }'
  return new TypeError(
    `${factory} '${ward}': ${what}, but the ward was made with option 'stream' false (the default), so nothing would consume its outputs: pass ${pass} to ${factory}() to make it a stream ward`,
  )
}
