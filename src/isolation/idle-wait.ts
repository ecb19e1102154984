/**
 * The far side's idle wait (a worker's or a child process's `idle`): settles as `waiting` does,
 * calling `ended` first, or rejects with `signal`'s reason the moment `signal` aborts (the steward
 * asked it to leave), whether or not `waiting` can be cancelled. No listener outlives it. @internal
 */
export function idleWait<V>(waiting: Promise<V>, signal: AbortSignal, ended: () => void): Promise<V> {
  return new Promise<V>((resolve, reject) => {
    const leave = (): void => reject(signal.reason)
    signal.addEventListener('abort', leave, { once: true })
    waiting.then(
      (value) => {
        signal.removeEventListener('abort', leave)
        ended()
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', leave)
        ended()
        reject(error)
      },
    )
  })
}
