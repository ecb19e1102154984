import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ManualClock } from '../time/manual-clock.js'
import { DoNotRestart, TerminateTree } from './sentinels.js'
import { steward } from './steward.js'
import type { WardContext } from './ward.js'

test('DoNotRestart, thrown or returned, ends the run without a restart, whatever the restart type', async () => {
  const clock = new ManualClock()
  for (const how of ['throw', 'return'] as const) {
    let calls = 0
    const ward = async (): Promise<unknown> => {
      calls++
      if (how === 'throw') throw new DoNotRestart('config is missing')
      return new DoNotRestart('nothing left to do')
    }
    const events: string[] = []
    const outcome = await clock.runUntil(
      steward(ward, { restart: 'permanent' }).start({ clock, onEvent: (event) => events.push(event.type) }).done,
    )
    assert.equal(calls, 1, how)
    assert.equal(outcome.kind, 'stopped')
    assert.ok(outcome.kind === 'stopped' && outcome.reason instanceof DoNotRestart)
    assert.deepEqual(events, ['started', 'stopped'])
  }
})

test('TerminateTree stops every steward up the tree, none restarts', async () => {
  const clock = new ManualClock()
  const events: string[] = []
  let calls = 0
  const leaf = async function* (ctx: WardContext): AsyncGenerator<string> {
    calls++
    ctx.beat()
    yield 'before'
    await clock.sleep(10, ctx.signal)
    throw new TerminateTree('disk is gone')
  }
  const inner = steward(leaf, { name: 'inner', restart: 'permanent', maxRestarts: 5 })
  const middle = steward(inner, { name: 'middle', restart: 'permanent', maxRestarts: 5 })
  const outer = steward(middle, { name: 'outer', restart: 'permanent', maxRestarts: 5 })
  const run = outer.start({ clock, onEvent: (event) => events.push(`${event.path} ${event.type}`) })
  const values: string[] = []
  await clock.runUntil(
    (async () => {
      for await (const value of run) values.push(value)
    })(),
  )
  const outcome = await run.done
  assert.deepEqual(values, ['before'])
  assert.equal(calls, 1)
  assert.ok(outcome.kind === 'stopped' && outcome.reason instanceof TerminateTree)
  assert.deepEqual(
    events.filter((line) => !line.endsWith('started')),
    ['outer/middle/inner stopped', 'outer/middle stopped', 'outer stopped'],
  )
  assert.equal(new TerminateTree().code, 'ERR_TERMINATE_TREE')
  assert.equal(new DoNotRestart().code, 'ERR_DO_NOT_RESTART')
})
