import type { StewardEvent } from '../observe/events.js'

/** An event with its SSE id (1, 2, 3 … in the order the run emitted them). */
export interface NumberedEvent {
  readonly id: number
  readonly event: StewardEvent
  /** Wall-clock time (ms since the epoch) the event was pushed: events carry their run clock's time, which need not be a date. */
  readonly wall: number
}

/** The last `capacity` entries pushed, oldest first. */
class Slots {
  readonly #slots: Array<NumberedEvent | undefined>
  #start = 0
  #size = 0
  /** The id of the newest entry overwritten (0: none yet). */
  lost = 0

  constructor(readonly capacity: number) {
    this.#slots = new Array<NumberedEvent | undefined>(capacity)
  }

  push(numbered: NumberedEvent): void {
    if (this.#size < this.capacity) {
      this.#slots[(this.#start + this.#size++) % this.capacity] = numbered
      return
    }
    this.lost = this.#slots[this.#start]!.id
    this.#slots[this.#start] = numbered
    this.#start = (this.#start + 1) % this.capacity
  }

  /** The entries with an id above `id`, oldest first. */
  after(id: number): NumberedEvent[] {
    const out: NumberedEvent[] = []
    for (let i = 0; i < this.#size; i++) {
      const numbered = this.#slots[(this.#start + i) % this.capacity]!
      if (numbered.id > id) out.push(numbered)
    }
    return out
  }
}

/**
 * The last `capacity` events, numbered, for `Last-Event-ID` replay, and beside them the last
 * `lineCapacity` child output lines (`line` events): a chatty child's output never pushes a
 * restart out of the replay, and a page opened late still gets each app's recent lines. Both share
 * one numbering. A client that asks for events after an id the ring no longer holds is told so
 * (`complete: false`) and gets what the ring has; lines dropped from their own ring do not count
 * (a log tail is what is left of it).
 * @internal
 */
export class EventRing {
  readonly #events: Slots
  readonly #lines: Slots
  #next = 1

  constructor(capacity: number, lineCapacity = capacity) {
    this.#events = new Slots(capacity)
    this.#lines = new Slots(lineCapacity)
  }

  /** The id of the last event pushed (0 before the first). */
  get lastId(): number {
    return this.#next - 1
  }

  push(event: StewardEvent, wall = Date.now()): NumberedEvent {
    const numbered = { id: this.#next++, event, wall }
    ;(event.type === 'line' ? this.#lines : this.#events).push(numbered)
    return numbered
  }

  /** The events after `id`, oldest first; `complete` is false when events (not lines) after it were overwritten. */
  after(id: number): { readonly events: NumberedEvent[]; readonly complete: boolean } {
    const events = this.#events.after(id)
    const lines = this.#lines.after(id)
    const merged: NumberedEvent[] = []
    let e = 0
    let l = 0
    while (e < events.length || l < lines.length) {
      if (l === lines.length || (e < events.length && events[e]!.id < lines[l]!.id)) merged.push(events[e++]!)
      else merged.push(lines[l++]!)
    }
    return { events: merged, complete: this.#events.lost <= id }
  }
}
