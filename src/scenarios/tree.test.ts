import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ManualClock } from '../time/manual-clock.js'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import { runScenario, type TimelineEntry } from './timeline.js'
import { tree } from './tree.js'

test('the tree demo: a crash, a hang and a cascade under rest-for-one, then an ordered stop', async () => {
  const clock = new ManualClock()
  const entries: TimelineEntry[] = []
  const { leaks } = await checkLeaks(() => clock.runUntil(runScenario(tree, clock, (entry) => entries.push(entry))))
  assert.deepEqual(leaks, noLeaks)
  assert.equal(clock.pendingTimers, 0)
  const lines = entries.map((entry) =>
    entry.type === 'log' ? `${entry.t} ${entry.message}` : entry.type === 'restart' ? `${entry.t} restart ${entry.attempt - 1}` : `${entry.t} ${entry.type}`,
  )
  assert.deepEqual(lines, [
    '0 connection: 1 up',
    '0 reader: reading connection 1',
    '0 writer: writing to connection 1',
    '2000 steward: tree/writer failed: write failed',
    '2000 supervisor: restarting writer after writer failed (restart 1)',
    '2000 writer: writing to connection 1',
    '3500 steward: tree/reader unhealthy (no heartbeat)',
    '3500 supervisor: restarting reader, writer after reader hung (restart 2)',
    '3500 reader: stopped',
    '3500 writer: stopped',
    '3500 reader: reading connection 1',
    '3500 writer: writing to connection 1',
    '6000 steward: tree/connection failed: connection reset',
    '6000 supervisor: restarting connection, reader, writer after connection failed (restart 3)',
    '6000 writer: stopped',
    '6000 reader: stopped',
    '6000 connection: 2 up',
    '6000 reader: reading connection 2',
    '6000 writer: writing to connection 2',
    '8000 main: stopping the tree.',
    '8000 writer: stopped',
    '8000 reader: stopped',
    '8000 connection: stopped',
    '8000 stopped',
  ])
})
