/**
 * Why a process ward's probe (its `http`, `tcp`, `exec` or `probe` heartbeat) failed: carried by
 * the `hung` event it led to and by `status()` until a probe answers healthy again. Plain data.
 */
export interface ProbeFailure {
  /** The probe's kind: the heartbeat's key. */
  readonly kind: 'http' | 'tcp' | 'exec' | 'probe'
  /**
   * What failed, for a person: `exec redis-cli: not found (ENOENT)`, `exec redis-cli: exited with
   * code 1: Could not connect to Redis`, `http GET http://127.0.0.1:8080/health: 404 Not Found`,
   * `tcp 127.0.0.1:6390: ECONNREFUSED`, `http GET …: no answer within 500 ms`.
   */
  readonly message: string
  /** The error's code when there is one: `'ENOENT'`, `'ECONNREFUSED'`, `'ETIMEDOUT'` (no answer in time)… */
  readonly code?: string
  /** An HTTP probe's response status (outside 200 to 399). */
  readonly status?: number
  /** An exec probe's exit code (not 0). */
  readonly exitCode?: number
  /** The incarnation whose probe failed. */
  readonly attempt: number
  /** Clock time of the failure, in ms (the run's clock). */
  readonly at: number
  /** Probes that failed in a row, this one included. */
  readonly failures: number
}
