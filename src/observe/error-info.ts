/**
 * The JSON form of an error, as events and status snapshots carry it.
 * `errorInfo()` makes one from any thrown value.
 */
export interface ErrorInfo {
  readonly name: string
  readonly message: string
  readonly code?: string
}
