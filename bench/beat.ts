// beat.ns: one ctx.beat() in a hot loop, beside a plain property write and Node's timeout.refresh().
import { steward, type WardContext } from '../dist/index.js'
import { nsPerOp, quick, turn, type Figures } from './figure.js'

const iterations = quick ? 20_000_000 : 100_000_000

const perOp = (loop: (n: number) => void): number => nsPerOp(loop, iterations, 1_000_000)

export async function measure(): Promise<Figures> {
  let context: WardContext | undefined
  let release!: () => void
  const run = steward(
    async (ctx: WardContext) => {
      context = ctx
      await ctx.idle(new Promise<void>((resolve) => (release = resolve)))
    },
    { timeout: '1h' },
  ).start()
  while (context === undefined) await turn()
  const ctx = context
  const beat = perOp((n) => {
    for (let i = 0; i < n; i++) ctx.beat()
  })
  const beatProgress = perOp((n) => {
    for (let i = 0; i < n; i++) ctx.beat(i)
  })
  const target = { value: 0 }
  const write = perOp((n) => {
    for (let i = 0; i < n; i++) target.value = i
  })
  const timeout = setTimeout(() => {}, 1e9)
  const refresh = perOp((n) => {
    for (let i = 0; i < n / 100; i++) timeout.refresh()
  }) * 100
  clearTimeout(timeout)
  release()
  await run.done
  return {
    'beat.ns': { value: beat, unit: 'ns' },
    'beat_progress.ns': { value: beatProgress, unit: 'ns' },
    'baseline.property_write.ns': { value: write, unit: 'ns' },
    'baseline.timeout_refresh.ns': { value: refresh, unit: 'ns' },
  }
}
