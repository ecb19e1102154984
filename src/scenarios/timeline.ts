import type { StewardEvent } from '../observe/events.js'
import type { Clock } from '../time/clock.js'
import type { Lifecycle } from '../steward/run-api.js'

/** Who wrote a timeline line: the ward, the steward, or the scenario's main program. */
export type Speaker = 'ward' | 'steward' | 'main'

/** One line of a scenario's timeline, as `steward demo --json` prints it. */
export type TimelineEntry =
  | { readonly t: number; readonly type: 'log'; readonly ward: string; readonly from: Speaker; readonly message: string }
  | { readonly t: number; readonly type: 'output'; readonly ward: string; readonly value: unknown }
  | { readonly t: number; readonly type: 'restart'; readonly ward: string; readonly attempt: number; readonly reason: string }
  | { readonly t: number; readonly type: 'dead-letter'; readonly ward: string; readonly value: unknown }
  | { readonly t: number; readonly type: 'gave-up'; readonly ward: string; readonly restarts: number; readonly error: string }
  | { readonly t: number; readonly type: 'completed'; readonly ward: string }
  | { readonly t: number; readonly type: 'stopped'; readonly ward: string }

type WithoutTime<E> = E extends unknown ? Omit<E, 't' | 'ward'> : never

/** What a scenario gets to run with: a clock and a way to write its timeline. */
export interface ScenarioIO {
  readonly clock: Clock
  /** Aborts when the demo is interrupted; scenarios stop their runs with it. */
  readonly signal: AbortSignal
  /** Appends a line, stamped with the time since the scenario started. */
  readonly write: (entry: WithoutTime<TimelineEntry>) => void
  /** A `log` line from `from`. */
  readonly log: (from: Speaker, message: string) => void
  /** Turns the steward's events into timeline lines and records them (pass as `onEvent`). */
  readonly onEvent: (event: StewardEvent) => void
  /** Records a library event as it is (what `steward demo --json` prints), without a timeline line. */
  readonly record: (event: StewardEvent) => void
  /** Hands over the scenario's top-level run as soon as it is started (for `steward demo --http`). */
  readonly started: (run: Lifecycle) => void
}

/** One of the seed's programs. */
export interface Scenario {
  readonly id: string
  readonly title: string
  /** The ward's name in the timeline. */
  readonly ward: string
  /** Real threads or processes: no virtual-time replay. */
  readonly realTimeOnly?: boolean
  run(io: ScenarioIO): Promise<void>
}

/**
 * Runs `scenario` on `clock`, calling `sink` with each timeline line as it
 * happens and `events` with each library event of its runs.
 */
export async function runScenario(
  scenario: Scenario,
  clock: Clock,
  sink: (entry: TimelineEntry) => void,
  signal: AbortSignal = new AbortController().signal,
  events: (event: StewardEvent) => void = () => {},
  started: (run: Lifecycle) => void = () => {},
): Promise<void> {
  const start = clock.now()
  const ward = scenario.ward
  const write = (entry: WithoutTime<TimelineEntry>): void => {
    sink({ t: clock.now() - start, ward, ...entry })
  }
  const io: ScenarioIO = {
    clock,
    signal,
    write,
    log: (from, message) => write({ type: 'log', from, message }),
    record: events,
    started,
    onEvent: (event) => {
      events(event)
      switch (event.type) {
        case 'restarting':
          write({ type: 'restart', attempt: event.attempt + 1, reason: event.reason })
          break
        case 'gave-up':
          write({ type: 'gave-up', restarts: event.restarts, error: event.error.message })
          break
        case 'dead-letter':
          write({ type: 'dead-letter', value: event.input })
          break
        case 'completed':
          write({ type: 'completed' })
          break
        case 'stopped':
          write({ type: 'stopped' })
          break
        default:
          break
      }
    },
  }
  await scenario.run(io)
}

/** Resolves when `signal` aborts (at once if it has), leaving no listener behind. */
export function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
}
