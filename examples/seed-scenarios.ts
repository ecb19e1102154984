// The seed's four programs (Concurrency in Go, "healing goroutines") on
// steward, printed as timelines. Their code is src/scenarios/seed.ts.
// Run: npx tsx examples/seed-scenarios.ts [s1|s2|s3|s4] [--virtual]
import { ManualClock, systemClock } from 'steward'
import { seedScenarios } from '../src/scenarios/seed.js'
import { runScenario } from '../src/scenarios/timeline.js'
import { formatEntry } from '../src/cli/demo.js'

const virtual = process.argv.includes('--virtual')
const wanted = process.argv.slice(2).filter((arg) => !arg.startsWith('--'))
for (const scenario of seedScenarios) {
  if (wanted.length > 0 && !wanted.includes(scenario.id)) continue
  console.log(`${scenario.id}: ${scenario.title}`)
  const clock = virtual ? new ManualClock() : systemClock
  const running = runScenario(scenario, clock, (entry) => console.log(formatEntry({ ...entry, t: Math.round(entry.t) })))
  await (clock instanceof ManualClock ? clock.runUntil(running) : running)
}
