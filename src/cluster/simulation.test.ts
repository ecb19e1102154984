// The deterministic simulation of the cluster protocol (src/testing/cluster-sim.ts): many seeds,
// invariants after every step. STEWARD_SIM_SEEDS=n runs more; STEWARD_SIM_SEED=n replays one
// seed with its trace (STEWARD_SIM_TRACE=1 prints it).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { runSeed } from '../testing/cluster-sim.js'

const replay = process.env.STEWARD_SIM_SEED
const seeds = Number(process.env.STEWARD_SIM_SEEDS ?? 1000)
const first = Number(process.env.STEWARD_SIM_FIRST ?? 1)

const seedsScript = fileURLToPath(new URL('../testing/cluster-sim-seeds.ts', import.meta.url))

/** Runs seeds [from, from + count) in a child process (no test-runner hooks on its promises). */
function runSeeds(from: number, count: number): Promise<{ steps: number; seeds: number; failure?: { seed: number; message: string } }> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, ['--import', 'tsx', seedsScript, String(from), String(count)], { maxBuffer: 1 << 20 }, (error, stdout, stderr) => {
      if (error !== null) return reject(new Error(`${error.message}\n${stderr}`))
      resolve(JSON.parse(stdout.trim().split('\n').at(-1)!) as { steps: number; seeds: number; failure?: { seed: number; message: string } })
    })
  })
}

if (replay !== undefined) {
  test(`simulation: replay of seed ${replay}`, async () => {
    const seed = Number(replay)
    const result = await runSeed(seed, true)
    if (result.error !== undefined) {
      if (process.env.STEWARD_SIM_TRACE === '1') for (const line of result.log.slice(-Number(process.env.STEWARD_SIM_LINES ?? 200))) console.log(line)
      assert.fail(result.error.message)
    }
  })
} else {
  test(`simulation: ${seeds} seeds keep the invariants`, { timeout: 600_000 }, async () => {
    // Two processes, one per core.
    const half = Math.ceil(seeds / 2)
    const parts = await Promise.all([runSeeds(first, half), ...(seeds > half ? [runSeeds(first + half, seeds - half)] : [])])
    for (const part of parts) {
      if (part.failure !== undefined) {
        assert.fail(`${part.failure.message}\n  replay: STEWARD_SIM_SEED=${part.failure.seed} STEWARD_SIM_TRACE=1 npm run test:only -- cluster/simulation`)
      }
    }
    const steps = parts.reduce((sum, part) => sum + part.steps, 0)
    assert.equal(parts.reduce((sum, part) => sum + part.seeds, 0), seeds, 'every seed ran')
    assert.ok(steps > seeds * 100, `the seeds ran (${steps} steps)`)
  })
}

test('simulation: a seed replays exactly', async () => {
  const a = await runSeed(7, true)
  const b = await runSeed(7, true)
  assert.equal(a.steps, b.steps)
  assert.deepEqual(a.log, b.log)
  assert.ok(a.log.some((line) => line.includes('"type":"claimed"')))
})
