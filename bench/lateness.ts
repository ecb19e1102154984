// lateness.p50_ms, lateness.p99_ms: time past `timeout` from a ward's last beat to its restart.
// 1,000 wards, timeout 100 ms, each stops beating at a random moment.
import { steward, type StewardEvent, type WardContext } from '../dist/index.js'
import { percentile, type Figures } from './figure.js'

export async function measure(): Promise<Figures> {
  const count = 1_000
  const timeout = 100
  const lastBeat = new Map<string, number>()
  const lateness: number[] = []
  let seed = 42
  const random = (): number => ((seed = (seed * 1_103_515_245 + 12_345) % 2_147_483_648) / 2_147_483_648)
  const done: Array<Promise<unknown>> = []
  for (let i = 0; i < count; i++) {
    const name = `w${i}`
    const stopAt = performance.now() + 50 + random() * 400
    const onEvent = (event: StewardEvent): void => {
      if (event.type === 'hung') lateness.push(event.at - lastBeat.get(name)! - timeout)
    }
    const ward = async (ctx: WardContext): Promise<void> => {
      // Beat at irregular moments until the chosen time, then hang until stopped.
      while (performance.now() < stopAt) {
        ctx.beat()
        lastBeat.set(name, performance.now())
        await new Promise((resolve) => setTimeout(resolve, 1 + Math.floor(random() * 7)))
      }
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }))
    }
    done.push(steward(ward, { name, timeout, restart: 'temporary', onEvent }).start().done)
  }
  // Beside them, how late Node's own 1 ms timers are under the same load.
  const timerLateness: number[] = []
  let probing = true
  const probe = (async () => {
    while (probing) {
      const start = performance.now()
      await new Promise((resolve) => setTimeout(resolve, 1))
      timerLateness.push(performance.now() - start - 1)
    }
  })()
  await Promise.all(done)
  probing = false
  await probe
  if (lateness.length !== count) throw new Error(`expected ${count} restarts, saw ${lateness.length}`)
  return {
    'lateness.p50_ms': { value: percentile(lateness, 50), unit: 'ms' },
    'lateness.p99_ms': { value: percentile(lateness, 99), unit: 'ms' },
    'lateness.max_ms': { value: percentile(lateness, 100), unit: 'ms' },
    'lateness.early': { value: lateness.filter((late) => late < 0).length, unit: 'restarts' },
    'baseline.timer_1ms_lateness.p99_ms': { value: percentile(timerLateness, 99), unit: 'ms' },
  }
}
