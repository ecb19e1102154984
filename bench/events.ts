// events.publish_ns: what an event costs a run with and without a diagnostics_channel subscriber.
// publish: the check a run makes at each event site (no subscriber), or the check, the event object
// and its publication to one subscriber on 'steward:event'. Then whole runs: restarts per second of a
// ward that throws at once (three events per restart: failed, restarting, started), without and
// with a subscriber.
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { eventChannelName, steward, type StewardEvent, type WardContext } from '../dist/index.js'
import { median, nsPerOp, quick, type Figures } from './figure.js'

// Internal (stripped from the declarations): the check a run makes and the publication.
const { channelsListened, publishEvent } = (await import('../dist/observe/channels.js')) as unknown as {
  channelsListened: () => boolean
  publishEvent: (event: StewardEvent) => void
}

const iterations = quick ? 2_000_000 : 10_000_000
const restarts = quick ? 50_000 : 200_000

const perOp = (loop: (n: number) => void): number => nsPerOp(loop, iterations, 100_000)

let sink = 0
/** One event site as a run has it: build the event only when someone listens, then publish it. */
function eventSite(n: number): void {
  for (let i = 0; i < n; i++) {
    if (channelsListened()) {
      const event: StewardEvent = { type: 'restarting', ward: 'w', path: 'w', at: i, attempt: 1, reason: 'failed', restarts: i, delay: 0 }
      publishEvent(event)
    }
  }
}

const failure = new Error('fails at once')
async function restartRate(): Promise<number> {
  const ward = steward(
    (ctx: WardContext): Promise<void> => {
      if (ctx.attempt > restarts) return Promise.resolve()
      throw failure
    },
    { name: 'crasher', maxRestarts: Infinity },
  )
  await ward.start().done
  const samples: number[] = []
  for (let r = 0; r < 3; r++) {
    const start = performance.now()
    await ward.start().done
    samples.push(restarts / ((performance.now() - start) / 1000))
  }
  return median(samples)
}

export async function measure(): Promise<Figures> {
  const quiet = perOp(eventSite)
  const quietRate = await restartRate()
  const onEvent = (message: unknown): void => {
    sink += (message as StewardEvent).at
  }
  subscribe(eventChannelName, onEvent)
  const heard = perOp(eventSite)
  const heardRate = await restartRate()
  unsubscribe(eventChannelName, onEvent)
  if (sink === 0) throw new Error('the subscriber heard nothing')
  return {
    'events.publish_ns': { value: quiet, unit: 'ns, no subscriber' },
    'events.publish_subscribed_ns': { value: heard, unit: 'ns, one subscriber' },
    'events.restarts_per_s': { value: quietRate, unit: '/s, no subscriber' },
    'events.restarts_subscribed_per_s': { value: heardRate, unit: '/s, one subscriber (3 events each)' },
  }
}
