import type { StewardEvent } from '../observe/events.js'
import type { Lifecycle } from '../steward/run-api.js'
import { runScenario, type Scenario, type TimelineEntry } from '../scenarios/timeline.js'
import { seedScenarios } from '../scenarios/seed.js'
import { tree } from '../scenarios/tree.js'
import { cpuHang, processHang } from '../scenarios/isolation.js'
import { ManualClock } from '../time/manual-clock.js'
import type { Clock } from '../time/clock.js'
import { ScaledClock } from './scaled-clock.js'

/** Options of `steward demo`. */
export interface DemoOptions {
  readonly virtual: boolean
  readonly json: boolean
  readonly speed: number
  readonly signal: AbortSignal
  readonly write: (line: string) => void
  /** Receives each scenario's top-level run as it starts (the tree demo reports its supervisor). */
  readonly started?: (run: Lifecycle) => void
}

/** The demos `steward demo` knows, by id: the seed's four (which `all` replays) and the tree. */
export const demos: ReadonlyMap<string, Scenario> = new Map(
  [...seedScenarios, tree, cpuHang, processHang].map((scenario) => [scenario.id, scenario]),
)

/** What `steward demo all` replays. */
export const allDemos: readonly string[] = seedScenarios.map((scenario) => scenario.id)

/** Runs the named scenarios one after the other, printing each timeline as it happens. */
export async function runDemos(ids: readonly string[], options: DemoOptions): Promise<void> {
  for (const [index, id] of ids.entries()) {
    if (options.signal.aborted) return
    const scenario = demos.get(id)!
    if (!options.json) {
      if (index > 0) options.write('')
      const mode = options.virtual ? 'virtual time' : options.speed === 1 ? 'real time' : `real time, ${options.speed}x`
      options.write(`${scenario.id}: ${scenario.title} [${mode}]`)
    }
    const clock: Clock = options.virtual ? new ManualClock() : new ScaledClock(options.speed)
    // People read the timeline; machines read the library's own events, each with its path.
    const sink = (entry: TimelineEntry): void => {
      if (!options.json) options.write(formatEntry({ ...entry, t: options.virtual ? entry.t : Math.round(entry.t) }))
    }
    const events = (event: StewardEvent): void => {
      if (options.json) options.write(JSON.stringify({ scenario: scenario.id, ...event }))
    }
    const running = runScenario(scenario, clock, sink, options.signal, events, options.started)
    // Every scenario ends within a virtual minute: one still running after a virtual hour is a
    // defect, reported as an error naming it rather than left to run on.
    if (clock instanceof ManualClock) {
      await clock.runUntil(running, { until: 3_600_000 }).catch((error: unknown) => {
        throw new Error(`demo ${scenario.id}: ${(error as Error).message}`, { cause: error })
      })
    } else await running
  }
}

/** One timeline line for people: time in seconds, then what happened, worded as the seed prints it. */
export function formatEntry(entry: TimelineEntry): string {
  const time = `${(entry.t / 1000).toFixed(3)}s`.padStart(9)
  return `${time}  ${describeEntry(entry)}`
}

function describeEntry(entry: TimelineEntry): string {
  switch (entry.type) {
    case 'log':
      return entry.message
    case 'output':
      return `main: Received: ${String(entry.value)}`
    case 'restart': {
      const why = entry.reason === 'hung' ? 'ward unhealthy' : entry.reason === 'failed' ? 'ward failed' : 'ward returned'
      return `steward: ${why}; restarting (attempt ${entry.attempt})`
    }
    case 'dead-letter':
      return `ward: skipping ${String(entry.value)}, it failed here before (dead letter)`
    case 'gave-up':
      return `steward: gave up after ${entry.restarts} restarts (${entry.error})`
    case 'completed':
      return 'steward: ward completed'
    case 'stopped':
      return 'steward: stopped'
  }
}
