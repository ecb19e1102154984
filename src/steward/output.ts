/**
 * A value a stream ward yields together with the progress its delivery commits: the steward
 * records `progress` when, and only when, the consumer is handed `value`. The next incarnation
 * then resumes exactly after the last output the consumer received. Make one with
 * `ctx.output(value, progress)`; the consumer sees `value` alone.
 */
export class Output<T, P = unknown> {
  readonly value: T
  readonly progress: P

  constructor(value: T, progress: P) {
    this.value = value
    this.progress = progress
  }
}

/** What `onDeadLetter` receives, and the `dead-letter` event carries. */
export interface DeadLetter {
  /** The ward's name and path. */
  readonly ward: string
  readonly path: string
  /** The progress at which incarnations kept failing: the dead-lettered input's position (`undefined` when nothing was committed before it, e.g. the first input). */
  readonly position: unknown
  /** The input itself, as the ward passed it to `ctx.deadLetter`. */
  readonly input: unknown
  /** Incarnations in a row that failed at `position`. */
  readonly failures: number
  /** The last of those failures. */
  readonly error: { readonly name: string; readonly message: string; readonly code?: string } | null
}
