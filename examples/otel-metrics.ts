// OpenTelemetry metrics from steward's diagnostics_channel events, without steward depending on
// OpenTelemetry: subscribe to 'steward:event' and record on meters of @opentelemetry/api. A real
// program registers the SDK's MeterProvider (with an exporter); this one registers a provider that
// prints what it records, so the example shows its output without a collector.
// Run: npx tsx examples/otel-metrics.ts
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { createNoopMeter, metrics, type Attributes, type Meter, type MeterProvider } from '@opentelemetry/api'
import { eventChannelName, steward, type StewardEvent, type WardContext } from 'steward'

/** A meter that prints each counter increment and histogram record (stands in for the SDK). */
function printingMeter(): Meter {
  const noop = createNoopMeter()
  const show = (name: string, value: number, attributes: Attributes = {}): void =>
    console.log(`${name} ${value} ${JSON.stringify(attributes)}`)
  return Object.assign(Object.create(noop) as Meter, {
    createCounter: (name: string) => ({ add: (value: number, attributes?: Attributes) => show(name, value, attributes) }),
    createHistogram: (name: string) => ({ record: (value: number, attributes?: Attributes) => show(name, value, attributes) }),
  })
}
const provider: MeterProvider = { getMeter: () => printingMeter() }
metrics.setGlobalMeterProvider(provider)

// The instrumentation: the only part a real program needs.
const meter = metrics.getMeter('steward-example')
const restarts = meter.createCounter('steward.restarts', { description: 'Restarts of a ward, by reason' })
const gaveUp = meter.createCounter('steward.give_ups', { description: 'Stewards that gave up' })
const lateness = meter.createHistogram('steward.hang.lateness', { unit: 'ms', description: 'How late a hang was noticed' })
const onEvent = (message: unknown): void => {
  const event = message as StewardEvent
  if (event.type === 'restarting') restarts.add(1, { 'steward.path': event.path, 'steward.reason': event.reason })
  else if (event.type === 'gave-up') gaveUp.add(1, { 'steward.path': event.path })
  else if (event.type === 'hung') lateness.record(event.overdue, { 'steward.path': event.path })
}
subscribe(eventChannelName, onEvent)

// A ward that fails twice, then hangs once (never beats), then completes.
const run = steward(
  async (ctx: WardContext) => {
    if (ctx.attempt <= 2) throw new Error(`attempt ${ctx.attempt} failed`)
    if (ctx.attempt === 3) return new Promise<void>((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }))
    return 'done'
  },
  { name: 'importer', timeout: '100ms', maxRestarts: 3 },
).start()
const outcome = await run.done
unsubscribe(eventChannelName, onEvent)
console.log(`outcome: ${outcome.kind} after ${outcome.restarts} restarts`)
