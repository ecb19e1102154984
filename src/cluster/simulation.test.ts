// The deterministic simulation of the cluster protocol (src/testing/cluster-sim.ts): many seeds,
// invariants after every step. STEWARD_SIM_SEEDS=n runs more; STEWARD_SIM_SEED=n replays one
// seed with its trace (STEWARD_SIM_TRACE=1 prints it).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runSeed } from '../testing/cluster-sim.js'

const replay = process.env.STEWARD_SIM_SEED
const seeds = Number(process.env.STEWARD_SIM_SEEDS ?? 1000)
const first = Number(process.env.STEWARD_SIM_FIRST ?? 1)

test(replay !== undefined ? `simulation: replay of seed ${replay}` : `simulation: ${seeds} seeds keep the invariants`, { timeout: 600_000 }, async () => {
  const list = replay !== undefined ? [Number(replay)] : Array.from({ length: seeds }, (_, i) => first + i)
  let steps = 0
  for (const seed of list) {
    const result = await runSeed(seed, replay !== undefined)
    steps += result.steps
    if (result.error !== undefined) {
      if (process.env.STEWARD_SIM_TRACE === '1') for (const line of result.log.slice(-Number(process.env.STEWARD_SIM_LINES ?? 200))) console.log(line)
      assert.fail(`${result.error.message}\n  replay: STEWARD_SIM_SEED=${seed} STEWARD_SIM_TRACE=1 npm run test:only -- cluster/simulation`)
    }
  }
  assert.ok(steps > list.length * 100, `the seeds ran (${steps} steps)`)
})

test('simulation: a seed replays exactly', async () => {
  const a = await runSeed(7, true)
  const b = await runSeed(7, true)
  assert.equal(a.steps, b.steps)
  assert.deepEqual(a.log, b.log)
  assert.ok(a.log.some((line) => line.includes('"type":"claimed"')))
})
