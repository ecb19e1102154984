// Waiting in tests: for a signal, or for a condition with a deadline and a message. A test
// waits for what it needs to see, never for a time that assumes a quiet machine.

/** Resolves when `signal` aborts (at once if it has), leaving no listener behind once it has. */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
}

/**
 * Polls `check` every `every` ms (default 20) until it holds; rejects after `within` ms with
 * "timed out after N ms waiting for WHAT". `check` may be async; it is not called again while
 * one call is pending.
 */
export async function waitFor(what: string, check: () => boolean | Promise<boolean>, within: number, every = 20): Promise<void> {
  const deadline = performance.now() + within
  while (!(await check())) {
    if (performance.now() > deadline) throw new Error(`timed out after ${within} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, every))
  }
}
