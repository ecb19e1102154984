/**
 * Ends a ward for good: throw it (or resolve with it) and its steward does
 * not restart it, whatever its restart type. The run stops, with this as the
 * outcome's `reason`. Like suture's `ErrDoNotRestart`.
 * `code` is `'ERR_DO_NOT_RESTART'`.
 */
export class DoNotRestart extends Error {
  override readonly name = 'DoNotRestart'
  readonly code = 'ERR_DO_NOT_RESTART'

  constructor(message = 'the ward asked not to be restarted', options?: ErrorOptions) {
    super(message, options)
  }
}

/**
 * Ends the whole tree: throw it (or resolve with it) and the ward's steward
 * stops, and so does every steward above it, each with this as its outcome's
 * `reason`. Like suture's `ErrTerminateSupervisorTree`.
 * `code` is `'ERR_TERMINATE_TREE'`.
 */
export class TerminateTree extends Error {
  override readonly name = 'TerminateTree'
  readonly code = 'ERR_TERMINATE_TREE'

  constructor(message = 'the ward asked to terminate the tree', options?: ErrorOptions) {
    super(message, options)
  }
}
