/**
 * Pulls values from `source` until `signal` aborts, then ends quietly, as
 * the seed's orDone closes its channel. Ending (the source ends, the
 * consumer leaves with `break`, or the signal aborts) removes the abort
 * listener and calls the source iterator's `return()`. An abort ends a
 * pending `next()` at once, even if the source never answers it.
 */
export function orDone<T>(signal: AbortSignal, source: AsyncIterable<T>): Required<AsyncIterableIterator<T>> {
  return new Guarded(signal, source, Infinity, 'orDone')
}

/**
 * The seed's take: the first `count` values of `source` (fewer if it ends
 * first or `signal` aborts), then it ends and releases the source as
 * {@link orDone} does.
 */
export function take<T>(signal: AbortSignal, source: AsyncIterable<T>, count: number): Required<AsyncIterableIterator<T>> {
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`take: count must be a non-negative integer, got ${count}`)
  return new Guarded(signal, source, count, 'take')
}

/** The iterator behind orDone and take. @internal */
export class Guarded<T> implements Required<AsyncIterableIterator<T>> {
  readonly #signal: AbortSignal
  readonly #source: AsyncIterable<T>
  #iterator: AsyncIterator<T> | undefined
  #left: number
  #finished = false
  #pending: ((result: IteratorResult<T>) => void) | undefined
  #listening = false

  constructor(signal: AbortSignal, source: AsyncIterable<T>, count: number, caller: string) {
    if (!(signal instanceof AbortSignal)) throw new TypeError(`${caller}: signal must be an AbortSignal`)
    if (source === null || typeof (source as Partial<AsyncIterable<T>>)[Symbol.asyncIterator] !== 'function') {
      throw new TypeError(`${caller}: source must be an async iterable`)
    }
    this.#signal = signal
    this.#source = source
    this.#left = count
  }

  [Symbol.asyncIterator](): this {
    return this
  }

  next(): Promise<IteratorResult<T>> {
    if (this.#finished) return Promise.resolve({ done: true, value: undefined })
    if (this.#signal.aborted || this.#left <= 0) return this.#finish()
    if (this.#iterator === undefined) this.#iterator = this.#source[Symbol.asyncIterator]()
    if (!this.#listening) {
      this.#listening = true
      this.#signal.addEventListener('abort', this.#onAbort)
    }
    const iterator = this.#iterator
    return new Promise<IteratorResult<T>>((resolve, reject) => {
      this.#pending = resolve
      iterator.next().then(
        (result) => {
          if (this.#pending !== resolve) return // ended by an abort meanwhile
          this.#pending = undefined
          if (result.done === true) {
            this.#release(false)
            resolve({ done: true, value: undefined })
            return
          }
          this.#left--
          resolve(result)
        },
        (error: unknown) => {
          if (this.#pending !== resolve) return
          this.#pending = undefined
          this.#release(false)
          reject(error)
        },
      )
    })
  }

  return(): Promise<IteratorResult<T>> {
    return this.#finish()
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    void this.#finish()
    return Promise.reject(error)
  }

  readonly #onAbort = (): void => {
    const pending = this.#pending
    this.#pending = undefined
    void this.#finish()
    pending?.({ done: true, value: undefined })
  }

  #finish(): Promise<IteratorResult<T>> {
    this.#release(true)
    return Promise.resolve({ done: true, value: undefined })
  }

  /** Detaches from the signal and, if the source has not ended, asks it to. */
  #release(closeSource: boolean): void {
    if (this.#finished) return
    this.#finished = true
    if (this.#listening) {
      this.#listening = false
      this.#signal.removeEventListener('abort', this.#onAbort)
    }
    const iterator = this.#iterator
    if (closeSource && iterator?.return !== undefined) {
      // Not awaited: a source stuck in next() may answer return() only after it.
      Promise.resolve()
        .then(() => iterator.return?.())
        .catch(() => {})
    }
  }
}
