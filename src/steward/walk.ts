import type { Output } from './output.js'
import type { Ward, WardContext } from './ward.js'

/** Where {@link walk} reads its inputs: a list, or a function that reads them from a position on. */
export type WalkSource<I> = readonly I[] | ((from: number) => Iterable<I> | AsyncIterable<I>)

/**
 * A resumable stream ward over numbered inputs: the common case made safe.
 * For each input from the resume position on, it beats, runs
 * `work(input, ctx, position)` and yields the result tagged with the next
 * position, so the steward commits a position only when the consumer has
 * received its result. A restart resumes after the last result delivered:
 * no result twice, no input skipped. A `work` that returns `undefined`
 * delivers nothing and commits at once. An input at which `poisonAfter`
 * incarnations failed is dead-lettered and skipped.
 *
 * `source` is an array (positions are indexes) or a function that returns
 * the inputs from a position on (a file from a line, a queue from an offset).
 *
 * @example
 * const run = steward(walk(urls, (url, ctx) => fetchPage(url, ctx.signal)), { poisonAfter: 3 }).start()
 */
export function walk<I, O>(
  source: WalkSource<I>,
  work: (input: I, ctx: WardContext<number>, position: number) => O | PromiseLike<O>,
): Ward<Exclude<O, undefined>, number> {
  if (!Array.isArray(source) && typeof source !== 'function') {
    throw new TypeError('walk: source must be an array or a function from a position to the inputs from there')
  }
  if (typeof work !== 'function') throw new TypeError('walk: work must be a function')
  return async function* walk(ctx: WardContext<number>): AsyncGenerator<Output<Exclude<O, undefined>, number>> {
    let position = typeof ctx.resume === 'number' ? ctx.resume : 0
    const inputs: Iterable<I> | AsyncIterable<I> = Array.isArray(source)
      ? (source as readonly I[]).slice(position)
      : (source as (from: number) => Iterable<I> | AsyncIterable<I>)(position)
    for await (const input of inputs) {
      if (ctx.poisoned) {
        ctx.deadLetter(input, ++position)
        continue
      }
      ctx.beat()
      const result = await work(input, ctx, position)
      position++
      if (result === undefined) ctx.beat(position)
      else yield ctx.output(result as Exclude<O, undefined>, position)
    }
  }
}
