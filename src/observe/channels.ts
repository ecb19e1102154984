import { channel, type Channel } from 'node:diagnostics_channel'
import type { StewardEvent, StewardEventType } from './events.js'

/**
 * The `node:diagnostics_channel` names steward publishes its events on:
 * `steward:event` carries every event; `steward:event:<type>` (for example
 * `steward:event:hung`) carries the events of one type. Each event is
 * published once, by the run it concerns (its `path`), with the same object
 * `run.on()` listeners receive. Nothing is built or published while no
 * channel has a subscriber.
 */
export const eventChannelNames: Readonly<Record<'all' | StewardEventType, string>> = Object.freeze({
  all: 'steward:event',
  started: 'steward:event:started',
  hung: 'steward:event:hung',
  stalled: 'steward:event:stalled',
  'idle-timeout': 'steward:event:idle-timeout',
  failed: 'steward:event:failed',
  restarting: 'steward:event:restarting',
  decision: 'steward:event:decision',
  unstopped: 'steward:event:unstopped',
  'dead-letter': 'steward:event:dead-letter',
  line: 'steward:event:line',
  completed: 'steward:event:completed',
  stopped: 'steward:event:stopped',
  'gave-up': 'steward:event:gave-up',
})

const all = channel(eventChannelNames.all)
const byType = new Map<string, Channel>()
const typed: Channel[] = []
for (const [key, name] of Object.entries(eventChannelNames)) {
  if (key === 'all') continue
  const made = channel(name)
  byType.set(key, made)
  typed.push(made)
}

/** Whether any steward channel has a subscriber (each check is a getter on a channel object). @internal */
export function channelsListened(): boolean {
  if (all.hasSubscribers) return true
  for (let i = 0; i < typed.length; i++) if (typed[i]!.hasSubscribers) return true
  return false
}

/** Publishes `event` on `steward:event` and on its type's channel, to whoever subscribes. @internal */
export function publishEvent(event: StewardEvent): void {
  if (all.hasSubscribers) all.publish(event)
  const own = byType.get(event.type)
  if (own !== undefined && own.hasSubscribers) own.publish(event)
}
