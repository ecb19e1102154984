/**
 * A cancellable timer returned by {@link Clock.setTimer}. `cancel()` may be
 * called any number of times, also after the timer fired.
 */
export interface Timer {
  /** Stops the timer if it has not fired yet. */
  cancel(): void
}

/**
 * The source of time for everything in steward that waits. Production code
 * uses {@link systemClock}; tests use a {@link ManualClock} and assert exact
 * timelines in virtual milliseconds.
 *
 * Contract: `now()` never goes backwards; a timer set for `ms` fires no
 * earlier than `now() + ms`; `sleep` rejects with `signal.reason` when the
 * signal aborts and then holds no timer and no listener.
 */
export interface Clock {
  /** Milliseconds on a monotonic scale. Only differences are meaningful. */
  now(): number
  /** Calls `callback` once after `ms` milliseconds unless cancelled first. */
  setTimer(ms: number, callback: () => void): Timer
  /** Resolves after `ms` milliseconds; rejects with `signal.reason` if it aborts first. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

/**
 * Marks a clock whose `now()` is also readable as a plain field that is
 * always current (a {@link ManualClock}). Heartbeats stamp themselves from
 * that field, so deadlines on such a clock are exact to the millisecond.
 * Other clocks get a field refreshed by the watchdog's tick. A registered
 * symbol, so two copies of the library agree on it.
 * @internal
 */
export const exactTime: unique symbol = Symbol.for('steward.exactTime')

/** The field a heartbeat copies its time from. @internal */
export interface TimeCell {
  now: number
}

/** A shared sleep built on `setTimer`: one timer, one listener, both released. */
export function sleepOn(clock: Clock, ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted === true) return Promise.reject(signal.reason)
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      timer.cancel()
      reject(signal?.reason)
    }
    const timer = clock.setTimer(ms, () => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    })
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}

class SystemClock implements Clock {
  now(): number {
    return performance.now()
  }

  setTimer(ms: number, callback: () => void): Timer {
    // setTimeout clamps to 2^31-1 ms; longer waits are chained.
    const max = 2_147_483_647
    let handle: ReturnType<typeof setTimeout>
    const arm = (remaining: number): void => {
      if (remaining > max) {
        handle = setTimeout(() => arm(remaining - max), max)
      } else {
        handle = setTimeout(callback, remaining)
      }
    }
    arm(ms)
    return { cancel: () => clearTimeout(handle) }
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    return sleepOn(this, ms, signal)
  }
}

/** The real clock: `performance.now()` and Node's timers. */
export const systemClock: Clock = new SystemClock()
