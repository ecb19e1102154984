import { test } from 'node:test'
import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { ManualClock } from '../time/manual-clock.js'
import { supervisor } from '../tree/supervisor.js'
import { steward } from '../steward/steward.js'
import type { WardContext } from '../steward/ward.js'
import type { StewardEvent } from './events.js'
import { channelsListened, eventChannelName } from './channels.js'
import { aborted } from '../testing/wait.js'

test('every event of a tree is published once on steward:event, with no run.on() listener', async () => {
  const seen: StewardEvent[] = []
  const onAll = (message: unknown): void => void seen.push(message as StewardEvent)
  subscribe(eventChannelName, onAll)
  try {
    const clock = new ManualClock()
    const inner = steward(
      async (ctx: WardContext) => {
        if (ctx.attempt === 1) return aborted(ctx.signal) // never beats: hung at 100
        await ctx.idle(aborted(ctx.signal))
      },
      { name: 'inner', timeout: 100 },
    )
    const run = supervisor({ name: 'top' }, [
      { name: 'a', ward: async (ctx: WardContext) => ctx.idle(aborted(ctx.signal)) },
      { name: 'outer', ward: (ctx: WardContext) => inner(ctx) },
    ]).start({ clock })
    await clock.advance(150)
    await clock.runUntil(run.stop())
    const lines = seen.map((e) => `${e.type} ${e.path}`)
    assert.deepEqual(lines, [
      'started top/a',
      'started top/outer',
      'started top/outer/inner',
      'hung top/outer/inner',
      'restarting top/outer/inner',
      'started top/outer/inner',
      'stopped top/outer/inner',
      'stopped top/outer',
      'stopped top/a',
      'stopped top',
    ])
  } finally {
    unsubscribe(eventChannelName, onAll)
  }
})

test('no subscriber, no publishing: the channels report none once unsubscribed', () => {
  assert.equal(channelsListened(), false)
  const listener = (): void => {}
  subscribe(eventChannelName, listener)
  assert.equal(channelsListened(), true)
  unsubscribe(eventChannelName, listener)
  assert.equal(channelsListened(), false)
})
