// metrics.render_ms: rendering the Prometheus exposition of a 10,000-ward tree (100 supervisors of
// 100 idle wards under one root: 10,201 runs with the groups' own), beside its peer in the same run: JSON.stringify(run.status()),
// the status walk the exposition starts from. Also the exposition's size.
import { supervisor, type ChildSpec, type WardContext } from '../dist/index.js'
import { stewardMetrics } from '../dist/observe/metrics.js'
import { median, quick, turn, type Figures } from './figure.js'

const groups = 100
const perGroup = 100
const repetitions = quick ? 5 : 15

const idle = (ctx: WardContext): Promise<void> => ctx.idle(new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true })))

function time(body: () => unknown): number {
  body() // warm up
  const samples: number[] = []
  for (let r = 0; r < repetitions; r++) {
    const start = performance.now()
    body()
    samples.push(performance.now() - start)
  }
  return median(samples)
}

export async function measure(): Promise<Figures> {
  const children: ChildSpec[] = []
  for (let g = 0; g < groups; g++) {
    const wards: ChildSpec[] = []
    for (let w = 0; w < perGroup; w++) wards.push({ name: `ward-${w}`, ward: idle })
    children.push({ name: `group-${g}`, ward: supervisor({ name: `group-${g}`, startOrder: 'started' }, wards) })
  }
  const run = supervisor({ name: 'root' }, children).start()
  const metrics = stewardMetrics(run)
  // Every ward started and idle.
  while (!run.status().up) await turn()
  let text = ''
  const render = time(() => (text = metrics.render()))
  const json = time(() => JSON.stringify(run.status()))
  const lines = text.split('\n').filter((line) => line.startsWith('steward_state{')).length
  // The root, each group's child run and the supervisor nested in it, and the wards.
  const expected = 1 + 2 * groups + groups * perGroup
  if (lines !== expected) throw new Error(`expected ${expected} runs in the exposition, got ${lines}`)
  metrics.dispose()
  await run.stop()
  return {
    'metrics.render_ms': { value: render, unit: 'ms (10,000 wards, 10,201 runs)' },
    'peer.status_json_ms': { value: json, unit: 'ms (same tree)' },
    'metrics.render_ratio': { value: render / json, unit: '× status JSON' },
    'metrics.exposition.bytes': { value: Buffer.byteLength(text), unit: 'bytes' },
  }
}
