// A thread ward's worker boot and a process ward's start count against startTimeout, not timeout.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import type { StewardEvent } from '../observe/events.js'
import { steward } from '../steward/steward.js'
import { liveChildren, processWard } from './process-ward.js'
import { liveWorkers, threadWard } from './thread-ward.js'
import { waitFor } from '../testing/wait.js'

const slowModule = new URL('../../test/fixtures/slow-start.mjs', import.meta.url)
const child = fileURLToPath(new URL('../../test/fixtures/child.mjs', import.meta.url))

async function nothingLeft(): Promise<void> {
  await waitFor('every worker and child gone', () => liveWorkers.size === 0 && liveChildren.size === 0, 10_000, 10)
  assert.equal(liveWorkers.size, 0, 'a worker is still alive')
  assert.equal(liveChildren.size, 0, 'a child process is still alive')
}

function hungEvents(events: readonly StewardEvent[]): string[] {
  return events.flatMap((event) => (event.type === 'hung' ? [`hung starting=${event.starting} after ${event.timeout}`] : []))
}

test('a thread ward whose module loads for 600 ms: healthy with a start deadline, hung at timeout without one', { timeout: 30_000 }, async () => {
  const events: StewardEvent[] = []
  const run = steward(threadWard<number>(slowModule, { export: 'counts', stream: true }), { timeout: 200, startTimeout: '10s', maxRestarts: 0 }).start({
    onEvent: (event) => events.push(event),
  })
  const values: number[] = []
  for await (const value of run) values.push(value)
  assert.deepEqual(values, [1, 2, 3])
  assert.deepEqual(hungEvents(events), [])
  await nothingLeft()

  const without: StewardEvent[] = []
  const cold = steward(threadWard<number>(slowModule, { export: 'counts', stream: true, terminateAfter: 0 }), { timeout: 200, maxRestarts: 0 }).start({
    onEvent: (event) => without.push(event),
  })
  await assert.rejects(
    (async () => {
      for await (const value of cold) values.push(value)
    })(),
    /restart limit/,
  )
  assert.deepEqual(hungEvents(without), ['hung starting=true after 200'])
  await nothingLeft()
})

test('a process ward that boots for 600 ms before its first beat: healthy with a start deadline, hung at timeout without one', { timeout: 30_000 }, async () => {
  const events: StewardEvent[] = []
  const run = steward(processWard(process.execPath, [child, 'slow-start'], { heartbeat: 'ipc', stream: false }), { timeout: 200, startTimeout: '10s', maxRestarts: 0 }).start({
    onEvent: (event) => events.push(event),
  })
  const outcome = await run.done
  assert.equal(outcome.kind, 'completed')
  assert.deepEqual(hungEvents(events), [])
  assert.equal(run.status().progress, 3)
  await nothingLeft()

  const without: StewardEvent[] = []
  const cold = steward(processWard(process.execPath, [child, 'slow-start'], { heartbeat: 'ipc', stream: false, killAfter: 0 }), { timeout: 200, maxRestarts: 0 }).start({
    onEvent: (event) => without.push(event),
  })
  assert.equal((await cold.done).kind, 'gave-up')
  assert.deepEqual(hungEvents(without), ['hung starting=true after 200'])
  await nothingLeft()
})
