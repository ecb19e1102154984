// idle_ward.cpu_pct: CPU of 100k idle supervised wards. false_restarts: 100k healthy wards beating
// every 500 ms with timeout 1 s must never be restarted.
import { steward, systemClock, type Run, type WardContext } from '../dist/index.js'
import { median, quick, sleep, turn, type Figures } from './figure.js'

async function idleCpu(count: number, windowMs: number, windows: number): Promise<number> {
  const resolvers: Array<() => void> = []
  const ward = steward(
    async (ctx: WardContext) => {
      await ctx.idle(new Promise<void>((resolve) => resolvers.push(resolve)))
    },
    { timeout: '1s', name: 'idle' },
  )
  const runs: Array<Run<unknown>> = []
  for (let i = 0; i < count; i++) runs.push(ward.start())
  while (resolvers.length < count) await turn()
  await sleep(1_500) // let the watchdog drop every idle ward from its schedule
  const samples: number[] = []
  for (let w = 0; w < windows; w++) {
    const cpu = process.cpuUsage()
    const start = performance.now()
    await sleep(windowMs)
    const used = process.cpuUsage(cpu)
    samples.push(((used.user + used.system) / 1000 / (performance.now() - start)) * 100)
  }
  for (const resolve of resolvers) resolve()
  await Promise.all(runs.map((run) => run.done))
  return median(samples)
}

async function falseRestarts(count: number, durationMs: number): Promise<number> {
  let restarts = 0
  let running = true
  const ward = steward(
    async (ctx: WardContext) => {
      if (ctx.attempt > 1) restarts++
      while (running) {
        ctx.beat()
        await systemClock.sleep(500)
      }
    },
    { timeout: '1s', name: 'healthy', maxRestarts: Infinity },
  )
  const runs: Array<Run<unknown>> = []
  for (let i = 0; i < count; i++) runs.push(ward.start())
  await sleep(durationMs)
  running = false
  await Promise.all(runs.map((run) => run.done))
  return restarts
}

export async function measure(): Promise<Figures> {
  return {
    'idle_ward.cpu_pct': { value: await idleCpu(100_000, quick ? 2_500 : 5_000, quick ? 2 : 3), unit: '%' },
    false_restarts: { value: await falseRestarts(100_000, quick ? 4_000 : 10_000), unit: 'restarts' },
  }
}
