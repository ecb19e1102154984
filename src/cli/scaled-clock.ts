import { sleepOn, systemClock, type Clock, type Timer } from '../time/clock.js'

/**
 * The real clock, run `speed` times faster: a scenario written in seconds
 * plays in real time divided by `speed`, and reports scenario time.
 */
export class ScaledClock implements Clock {
  readonly #speed: number
  readonly #origin = systemClock.now()

  constructor(speed: number) {
    if (!(speed > 0) || !Number.isFinite(speed)) throw new RangeError(`speed must be a positive number, got ${speed}`)
    this.#speed = speed
  }

  now(): number {
    return (systemClock.now() - this.#origin) * this.#speed
  }

  setTimer(ms: number, callback: () => void): Timer {
    return systemClock.setTimer(ms / this.#speed, callback)
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal)
  }
}
