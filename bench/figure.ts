// Shared helpers for the benchmark children.

/** One measured figure. */
export interface Figure {
  readonly value: number
  readonly unit: string
}

export type Figures = Record<string, Figure>

/** The median of a list of numbers. */
export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2
}

/** The p-th percentile (0..100) of a list, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[rank]!
}

/** Forces a full garbage collection (the children run with --expose-gc). */
export function gc(): void {
  const collect = (globalThis as { gc?: () => void }).gc
  if (collect === undefined) throw new Error('run the benchmark with --expose-gc')
  collect()
  collect()
}

/** Heap in use after a full collection, in bytes. */
export async function settledHeap(): Promise<number> {
  for (let i = 0; i < 3; i++) await turn()
  gc()
  return process.memoryUsage().heapUsed
}

/** One macrotask turn: every queued microtask has run. */
export function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Is this a quick run? */
export const quick = process.argv.includes('--quick')

/**
 * Nanoseconds per operation of `loop(n)`, which runs the operation `n` times: the median of
 * `repetitions` runs of `iterations`, after a warm-up of `warmUp` that lets the JIT optimise it.
 */
export function nsPerOp(loop: (n: number) => void, iterations: number, warmUp: number, repetitions = 5): number {
  loop(warmUp)
  const samples: number[] = []
  for (let r = 0; r < repetitions; r++) {
    const start = process.hrtime.bigint()
    loop(iterations)
    samples.push(Number(process.hrtime.bigint() - start) / iterations)
  }
  return median(samples)
}
