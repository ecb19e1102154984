/**
 * A queue of events from a worker or a child process, read one at a time by
 * the ward that owns it: `receive()` resolves with the next event, at once
 * if one is waiting. @internal
 */
export class Mailbox<T> {
  readonly #queue: T[] = []
  #wake: (() => void) | undefined

  /** Adds an event, waking a pending `receive()`. */
  readonly deliver = (event: T): void => {
    this.#queue.push(event)
    this.#wake?.()
  }

  receive(): Promise<T> {
    const event = this.#queue.shift()
    if (event !== undefined) return Promise.resolve(event)
    return new Promise((resolve) => {
      this.#wake = () => {
        this.#wake = undefined
        resolve(this.#queue.shift()!)
      }
    })
  }
}
