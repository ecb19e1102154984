import type { StewardEvent } from '../observe/events.js'

/** An event with its SSE id (1, 2, 3 … in the order the run emitted them). */
export interface NumberedEvent {
  readonly id: number
  readonly event: StewardEvent
  /** Wall-clock time (ms since the epoch) the event was pushed: events carry their run clock's time, which need not be a date. */
  readonly wall: number
}

/**
 * The last `capacity` events, numbered, for `Last-Event-ID` replay. A
 * client that asks for events after an id the ring no longer holds is told
 * so (`complete: false`) and gets what the ring has.
 * @internal
 */
export class EventRing {
  readonly #slots: Array<NumberedEvent | undefined>
  #next = 1

  constructor(readonly capacity: number) {
    this.#slots = new Array<NumberedEvent | undefined>(capacity)
  }

  /** The id of the last event pushed (0 before the first). */
  get lastId(): number {
    return this.#next - 1
  }

  push(event: StewardEvent, wall = Date.now()): NumberedEvent {
    const numbered = { id: this.#next++, event, wall }
    this.#slots[numbered.id % this.capacity] = numbered
    return numbered
  }

  /** The events after `id`, oldest first; `complete` is false when some were overwritten. */
  after(id: number): { readonly events: NumberedEvent[]; readonly complete: boolean } {
    const oldest = Math.max(1, this.#next - this.capacity)
    const from = Math.max(id + 1, oldest)
    const events: NumberedEvent[] = []
    for (let i = from; i < this.#next; i++) events.push(this.#slots[i % this.capacity]!)
    return { events, complete: id + 1 >= oldest || id >= this.lastId }
  }
}
