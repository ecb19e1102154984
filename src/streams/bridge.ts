import { orDone } from './or-done.js'

/**
 * The seed's bridge: flattens a stream of streams into one stream, reading
 * each inner stream to its end before taking the next, until the outer
 * stream ends or `signal` aborts. Leaving early (`break`) or an abort
 * releases the inner and outer sources and the abort listeners.
 */
export async function* bridge<T>(signal: AbortSignal, sources: AsyncIterable<AsyncIterable<T>>): AsyncGenerator<T, void, undefined> {
  if (!(signal instanceof AbortSignal)) throw new TypeError('bridge: signal must be an AbortSignal')
  const outer = orDone(signal, sources)
  try {
    for await (const source of outer) {
      const inner = orDone(signal, source)
      try {
        for await (const value of inner) yield value
      } finally {
        await inner.return()
      }
      if (signal.aborted) return
    }
  } finally {
    await outer.return()
  }
}
