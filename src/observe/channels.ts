import { channel } from 'node:diagnostics_channel'
import type { StewardEvent } from './events.js'

/**
 * The `node:diagnostics_channel` name steward publishes every event on:
 * `'steward:event'`. Each event is published once, by the run it concerns
 * (its `path`), as the same plain object `run.on()` listeners receive; a
 * subscriber tells events apart by their `type`. While the channel has no
 * subscriber nothing is built or published (one `hasSubscribers` check per
 * event site). One channel rather than one per type: each channel checked
 * costs every event site a few nanoseconds (measured, `npm run bench -- --only=events`).
 */
export const eventChannelName = 'steward:event'

const events = channel(eventChannelName)

/** Whether the event channel has a subscriber. @internal */
export function channelsListened(): boolean {
  return events.hasSubscribers
}

/** Publishes `event` on the event channel. @internal */
export function publishEvent(event: StewardEvent): void {
  events.publish(event)
}
