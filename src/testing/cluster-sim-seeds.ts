// Runs simulation seeds [first, first + count) in a process of their own and prints one JSON line:
// { steps, seeds, failure?: { seed, message } }. The simulation test runs it as a child: under the
// test runner every promise pays for its async hooks (about 8× slower for this promise-heavy code).
// Usage: node --import tsx src/testing/cluster-sim-seeds.ts FIRST COUNT
import { runSeed } from './cluster-sim.js'

const first = Number(process.argv[2])
const count = Number(process.argv[3])
if (!Number.isInteger(first) || !Number.isInteger(count) || count < 1) {
  console.error('usage: cluster-sim-seeds.ts FIRST COUNT')
  process.exit(2)
}
let steps = 0
let seeds = 0
let failure: { seed: number; message: string } | undefined
for (let seed = first; seed < first + count; seed++) {
  const result = await runSeed(seed, false)
  steps += result.steps
  seeds++
  if (result.error !== undefined) {
    failure = { seed, message: result.error.message }
    break
  }
}
console.log(JSON.stringify({ steps, seeds, failure }))
