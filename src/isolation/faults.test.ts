// The fault matrix (src/steward/faults.test.ts) over thread wards and process wards: each row a
// fault of a ward's first incarnation, run in a worker thread and in a child process (with
// steward/child), as a promise ward and as a stream ward. Every cell asserts the events, the
// outputs delivered and the outcome; after the matrix, no worker or child is left.
//
// Real workers and processes on the real clock, several cells at a time: the deadlines are
// generous (a healthy ward beats every 50 ms; timeout 2 s, startTimeout 10 s), so a loaded machine
// does not turn a healthy ward into a hung one. Faults that must outlive an abort (deaf, late
// outputs, zombie beats) livelock first: a worker or child found hung is terminated at once, so
// nothing of it would run after its abort; a stalled one is asked to leave.
import { after, describe, test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import type { StewardEvent } from '../observe/events.js'
import type { Outcome } from '../steward/run-api.js'
import { steward } from '../steward/steward.js'
import type { Ward } from '../steward/ward.js'
import { liveChildren, processWard } from './process-ward.js'
import { liveWorkers, threadWard } from './thread-ward.js'

type Isolation = 'thread' | 'process'
type Kind = 'promise' | 'stream'

const TIMEOUT = 2_000

/** The first event a fault causes, or none when it does not end the incarnation. */
const causes: Record<string, string | undefined> = {
  'throws synchronously': 'failed',
  'rejects later': 'failed',
  'returns early': undefined,
  'hangs silently': 'hung',
  livelocks: 'stalled',
  'waits for input forever': undefined,
  'waits for input forever, with idleTimeout': 'idle-timeout',
  'ignores its abort and never settles': 'stalled',
  'keeps emitting after its abort': 'stalled',
  'throws a non-Error value': 'failed',
  'beats after it was replaced': 'stalled',
}

const childScript = fileURLToPath(new URL('../../test/fixtures/fault-child.mjs', import.meta.url))

function ward(isolation: Isolation, kind: Kind, fault: string): Ward<string> {
  if (isolation === 'thread') {
    const module = new URL(`../../test/fixtures/fault-wards.mjs?fault=${encodeURIComponent(fault)}`, import.meta.url)
    return threadWard<string>(module, { export: kind, stream: kind === 'stream', terminateAfter: 300 })
  }
  return processWard<string>(process.execPath, [childScript, kind, fault], { heartbeat: 'ipc', stream: kind === 'stream', killAfter: 300 })
}

const significant = new Set(['failed', 'hung', 'stalled', 'idle-timeout', 'unstopped', 'restarting', 'gave-up', 'completed', 'stopped'])

async function waitUntil(what: string, done: () => boolean, within = 10_000): Promise<void> {
  for (const end = Date.now() + within; !done(); ) {
    if (Date.now() > end) assert.fail(`${what}: not within ${within} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

after(async () => {
  // Nothing is left once every cell settled (a worker or child group leaves these sets when gone).
  await waitUntil('every worker and child gone', () => liveWorkers.size === 0 && liveChildren.size === 0).catch(() => {})
  const left = liveWorkers.size + liveChildren.size
  for (const worker of liveWorkers) void worker.terminate()
  for (const child of liveChildren) child.kill('SIGKILL')
  assert.equal(left, 0, 'a worker or child process outlived the matrix')
})

describe('the fault matrix over thread and process wards', { concurrency: 11 }, () => {
  for (const fault of Object.keys(causes)) {
    for (const isolation of ['thread', 'process'] as const) {
      for (const kind of ['promise', 'stream'] as const) {
        test(`${isolation} ${kind} ward that ${fault}`, { timeout: 60_000 }, async () => {
          const events: string[] = []
          let failedError: string | undefined
          // For a failure's message: each event with its attempt and time, and a hang's deadline.
          const told: string[] = []
          const began = Date.now()
          const run = steward(ward(isolation, kind, fault), {
            name: 'ward',
            maxRestarts: 5,
            timeout: TIMEOUT,
            startTimeout: '10s',
            progressTimeout: 3_000,
            stopTimeout: '5s',
            ...(fault === 'waits for input forever, with idleTimeout' ? { idleTimeout: 3_000 } : {}),
          }).start({
            onEvent: (event: StewardEvent) => {
              if (significant.has(event.type)) events.push(`${event.path} ${event.type}`)
              if (significant.has(event.type) || event.type === 'started' || event.type === 'spawned') {
                told.push(`${event.type}#${event.attempt}@${Date.now() - began}${event.type === 'hung' ? `(${event.starting ? 'starting, ' : ''}timeout ${event.timeout}, overdue ${Math.round(event.overdue)})` : ''}`)
              }
              if (event.type === 'failed' && failedError === undefined) failedError = event.error.name
            },
          })
          const outputs: string[] = []
          const consuming = (async () => {
            for await (const value of run) outputs.push(value)
          })()
          if (fault === 'waits for input forever') {
            await waitUntil('the ward waits for input', () => run.status().state === 'idle')
            // Healthy for longer than its heartbeat timeout while it waits (a verdict on nothing happening).
            await new Promise((resolve) => setTimeout(resolve, TIMEOUT * 1.5))
            assert.deepEqual(events, [], 'waiting for input is healthy')
            await run.stop()
          }
          await consuming
          const outcome: Outcome = await run.done
          const cause = causes[fault]
          assert.deepEqual(events, cause === undefined ? [fault === 'waits for input forever' ? 'ward stopped' : 'ward completed'] : [`ward ${cause}`, 'ward restarting', 'ward completed'], `events [${events.join(', ')}]; in time: ${told.join(' ')}`)
          const healed = cause !== undefined
          assert.deepEqual(outputs, kind === 'promise' || !healed ? [] : ['a', 'b'], 'outputs')
          assert.equal(outcome.kind, fault === 'waits for input forever' ? 'stopped' : 'completed')
          assert.equal(outcome.restarts, healed ? 1 : 0)
          // A process reports a thrown value as its exit code; a worker's crosses as in-process.
          if (fault === 'throws a non-Error value' && isolation === 'thread') assert.equal(failedError, 'NonErrorThrown')
          if (fault === 'beats after it was replaced') assert.notEqual(run.status().progress, 'zombie')
        })
      }
    }
  }
})
