// lateness.p50_ms, lateness.p99_ms: time past `timeout` from a ward's last beat to its restart.
// 1,000 wards, timeout 100 ms, each stops beating at a random moment; beside them, how late Node's
// own 1 ms timers are under the same load. The figures are the medians over several rounds, each
// round's wards and timer probe side by side, after one round not counted (a warm-up). One round's
// p99 is its 10th-latest restart, which a single pause of a shared machine decides: the wards whose
// last beat fell in a long turn are all dated by its end (the coarse clock's stamp), so one pause
// makes ten late restarts, while the probe's 1 ms timers see it once.
import { steward, type StewardEvent, type WardContext } from '../dist/index.js'
import { median, percentile, quick, type Figures } from './figure.js'

interface Round {
  readonly lateness: readonly number[]
  readonly timerLateness: readonly number[]
  /** Each ward's twin: a Node timer armed for the ward's own deadline (its last beat + timeout). */
  readonly twinLateness: readonly number[]
}

async function round(seedFrom: number): Promise<Round> {
  const count = 1_000
  const timeout = 100
  const lastBeat = new Map<string, number>()
  const lateness: number[] = []
  const twinLateness: number[] = []
  const twins: Array<Promise<void>> = []
  let seed = seedFrom
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
      let beatAt = 0
      while (performance.now() < stopAt) {
        ctx.beat()
        beatAt = performance.now()
        lastBeat.set(name, beatAt)
        await new Promise((resolve) => setTimeout(resolve, 1 + Math.floor(random() * 7)))
      }
      // Its twin: how late Node's own timer is for the same deadline, under the same load.
      const deadline = beatAt + timeout
      twins.push(new Promise<void>((resolve) => setTimeout(() => resolve(void twinLateness.push(performance.now() - deadline)), deadline - performance.now())))
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }))
    }
    done.push(steward(ward, { name, timeout, restart: 'temporary', onEvent }).start().done)
  }
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
  // Armed by each ward before it hangs, so before its restart: all are here.
  await Promise.all(twins)
  if (twinLateness.length !== count) throw new Error(`expected ${count} twin timers, saw ${twinLateness.length}`)
  return { lateness, timerLateness, twinLateness }
}

export async function measure(): Promise<Figures> {
  // One round first, not counted: the wards' code and the bench's own run before V8 has optimised them.
  await round(41)
  const rounds: Round[] = []
  for (let r = 0; r < (quick ? 5 : 9); r++) rounds.push(await round(42 + r))
  const each = (values: (round: Round) => number): number => median(rounds.map(values))
  const all = rounds.flatMap((one) => one.lateness)
  return {
    'lateness.p50_ms': { value: each((one) => percentile(one.lateness, 50)), unit: `ms (median of ${rounds.length} rounds)` },
    'lateness.p99_ms': { value: each((one) => percentile(one.lateness, 99)), unit: `ms (median of ${rounds.length} rounds' p99: ${rounds.map((one) => percentile(one.lateness, 99).toFixed(1)).join(', ')})` },
    'lateness.max_ms': { value: percentile(all, 100), unit: 'ms (of every round)' },
    'lateness.early': { value: all.filter((late) => late < 0).length, unit: 'restarts (of every round)' },
    'baseline.timer_1ms_lateness.p99_ms': { value: each((one) => percentile(one.timerLateness, 99)), unit: `ms (median of the same rounds: ${rounds.map((one) => percentile(one.timerLateness, 99).toFixed(1)).join(', ')})` },
    'baseline.twin_timer_lateness.p99_ms': {
      value: each((one) => percentile(one.twinLateness, 99)),
      unit: `ms (a Node timer per ward for its deadline, armed after its last beat; median of the same rounds: ${rounds.map((one) => percentile(one.twinLateness, 99).toFixed(1)).join(', ')})`,
    },
  }
}
