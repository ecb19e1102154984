import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ManualClock } from '../time/manual-clock.js'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import { runScenario, type Scenario, type TimelineEntry } from './timeline.js'
import { s1, s2, s3, s4 } from './seed.js'

/** Runs a scenario on a manual clock and returns its timeline, compacted for comparison. */
async function timeline(scenario: Scenario): Promise<string[]> {
  const clock = new ManualClock()
  const entries: TimelineEntry[] = []
  const { leaks } = await checkLeaks(() => clock.runUntil(runScenario(scenario, clock, (entry) => entries.push(entry))))
  assert.deepEqual(leaks, noLeaks, 'the scenario left something behind')
  assert.equal(clock.pendingTimers, 0, 'no timer left')
  return entries.map(compact)
}

function compact(entry: TimelineEntry): string {
  switch (entry.type) {
    case 'log':
      return `${entry.t} log ${entry.message}`
    case 'output':
    case 'dead-letter':
      return `${entry.t} ${entry.type} ${String(entry.value)}`
    case 'restart':
      return `${entry.t} restart ${entry.attempt} ${entry.reason}`
    case 'gave-up':
      return `${entry.t} gave-up ${entry.restarts}`
    default:
      return `${entry.t} ${entry.type}`
  }
}

test('S1: irresponsible ward restarted at 4 s and 8 s, stopped at 9 s after the last ward halted', async () => {
  assert.deepEqual(await timeline(s1), [
    "0 log ward: Hello, I'm irresponsible!",
    '4000 restart 2 hung',
    '4000 log ward: I am halting.',
    "4000 log ward: Hello, I'm irresponsible!",
    '8000 restart 3 hung',
    '8000 log ward: I am halting.',
    "8000 log ward: Hello, I'm irresponsible!",
    '9000 log main: halting steward and ward.',
    '9000 log ward: I am halting.',
    '9000 stopped',
    '9000 log Done',
  ])
})

test('S2: restarted from scratch, the consumer takes 1, 2, 1, 2, 1, 2', async () => {
  assert.deepEqual(await timeline(s2), [
    '0 output 1',
    '0 output 2',
    '0 log negative value: -1',
    '1000 restart 2 hung',
    '1000 output 1',
    '1000 output 2',
    '1000 log negative value: -1',
    '2000 restart 3 hung',
    '2000 output 1',
    '2000 output 2',
    '2000 stopped',
  ])
})

test('S3: stateful ward stuck at -1 in five incarnations; the steward gives up at 5 s and releases the consumer', async () => {
  assert.deepEqual(await timeline(s3), [
    '0 output 1',
    '0 output 2',
    '0 log negative value: -1',
    '1000 restart 2 hung',
    '1000 log negative value: -1',
    '2000 restart 3 hung',
    '2000 log negative value: -1',
    '3000 restart 4 hung',
    '3000 log negative value: -1',
    '4000 restart 5 hung',
    '4000 log negative value: -1',
    '5000 gave-up 4',
    '5000 log main: the stream ended with GaveUpError',
  ])
})

test('S4: the poison value is skipped; 1..5 exactly once, then completed with no further restart', async () => {
  assert.deepEqual(await timeline(s4), [
    '0 output 1',
    '0 output 2',
    '0 log negative value: -1',
    '1000 restart 2 hung',
    '1000 dead-letter -1',
    '1000 output 3',
    '1000 output 4',
    '1000 output 5',
    '1000 completed',
  ])
})
