import { afterEach, test } from 'node:test'
import assert from 'node:assert/strict'
import type { StewardEvent } from '../observe/events.js'
import { steward } from '../steward/steward.js'
import { fixed } from '../policy/backoff.js'
import { liveWorkers, started, threadWard } from './thread-ward.js'
import { MemoryLimitError, WardStartError } from '../steward/errors.js'
import { waitFor } from '../testing/wait.js'

const fixtures = new URL('../../test/fixtures/thread-wards.mjs', import.meta.url)

// A failed test must not leave a worker behind to keep the test process alive.
afterEach(async () => {
  await Promise.all([...liveWorkers].map((worker) => worker.terminate()))
})

async function noWorkerLeft(): Promise<void> {
  await waitFor('every worker gone', () => liveWorkers.size === 0, 10_000, 10)
  assert.equal(liveWorkers.size, 0, 'a worker is still alive')
}

test('a worker stuck in a CPU loop is terminated and replaced; the new one resumes after the last delivered value', { timeout: 30_000 }, async () => {
  const events: string[] = []
  const started = performance.now()
  const run = steward(threadWard(fixtures, { export: 'cpuHang', stream: true, terminateAfter: 100 }), {
    name: 'cpu',
    timeout: 1_500,
    startTimeout: '10s',
  }).start({ onEvent: (event: StewardEvent) => events.push(event.type) })
  const values: unknown[] = []
  for await (const value of run) values.push(value)
  const elapsed = performance.now() - started
  assert.deepEqual(values, [0, 1, 2, 3, 4, 5])
  assert.deepEqual(
    events.filter((type) => type !== 'started'),
    ['spawned', 'hung', 'restarting', 'spawned', 'completed'],
  )
  assert.ok(elapsed < 10_000, `took ${elapsed} ms`)
  assert.equal((await run.done).kind, 'completed')
  await noWorkerLeft()
})

test('with warm, the replacement is the spare started beforehand, and the spare goes when the run ends', { timeout: 30_000 }, async () => {
  for (const [warm, expected] of [
    [false, 2], // the first worker, then a cold one after the hang
    [true, 3], // the first and its spare; the spare takes over and a new spare starts, then goes
  ] as const) {
    const before = started.workers
    const run = steward(threadWard(fixtures, { export: 'cpuHang', stream: true, terminateAfter: 100, warm }), { timeout: 1_500, startTimeout: '10s' }).start()
    const values: unknown[] = []
    for await (const value of run) values.push(value)
    assert.deepEqual(values, [0, 1, 2, 3, 4, 5])
    assert.equal(started.workers - before, expected, `warm: ${String(warm)}`)
    assert.equal(liveWorkers.size, 0, 'the spare was terminated before the run settled')
  }
})

test('a worker that throws is a failure like a throw, restarted at once', { timeout: 30_000 }, async () => {
  const run = steward(threadWard(fixtures, { export: 'throws', stream: true }), { maxRestarts: 2, within: Infinity }).start()
  const values: unknown[] = []
  await assert.rejects(async () => {
    for await (const value of run) values.push(value)
  }, /worker failure 3/)
  assert.deepEqual(values, [1, 2, 3])
  await noWorkerLeft()
})

test('a worker out of memory under resourceLimits is a failure', { timeout: 30_000 }, async () => {
  const outcome = await steward(threadWard(fixtures, { export: 'oom', stream: false, resourceLimits: { maxOldGenerationSizeMb: 32 } }), {
    restart: 'temporary',
  }).start().done
  assert.equal(outcome.kind, 'gave-up')
  assert.ok(outcome.kind === 'gave-up' && /memory/i.test(outcome.error.cause.message), outcome.kind === 'gave-up' ? outcome.error.cause.message : '')
  await noWorkerLeft()
})

test("a worker out of memory under resourceLimits fails with a MemoryLimitError: reason 'memory', restarted", { timeout: 30_000 }, async () => {
  const events: StewardEvent[] = []
  let failure: unknown
  const run = steward(threadWard(fixtures, { export: 'oomOnce', stream: false, resourceLimits: { maxOldGenerationSizeMb: 16 } }), {
    name: 'hoard',
    shouldRestart: (error) => {
      failure = error
      return true
    },
  }).start({ onEvent: (event) => events.push(event) })
  const outcome = await run.done
  assert.equal(outcome.kind, 'completed')
  assert.equal(run.status().progress, 'done', 'the second worker completed')
  assert.deepEqual(
    events.flatMap((event) => (event.type === 'failed' || event.type === 'restarting' ? [`${event.type} ${event.reason}`] : [])),
    ['failed memory', 'restarting memory'],
  )
  const failed = events.find((event) => event.type === 'failed')
  assert.equal(failed?.type === 'failed' && failed.error.code, 'ERR_WARD_MEMORY')
  assert.ok(failure instanceof MemoryLimitError, String(failure))
  assert.equal(failure.limit, 16 * 1_048_576)
  assert.equal(failure.rss, undefined)
  assert.equal(failure.pid, process.pid)
  assert.ok(typeof failure.threadId === 'number' && failure.threadId > 0)
  assert.equal((failure.cause as { code?: string }).code, 'ERR_WORKER_OUT_OF_MEMORY')
  await noWorkerLeft()
})

test('a worker waiting for input longer than the timeout is healthy', { timeout: 30_000 }, async () => {
  // The wait (1.5 s) outlasts the timeout; the timeout is generous for a worker's start on a busy machine.
  const run = steward(threadWard(fixtures, { export: 'waits', stream: false }), { timeout: 1_000, startTimeout: '10s' }).start()
  const outcome = await run.done
  assert.equal(outcome.kind, 'completed')
  assert.equal(run.status().progress, 'done')
  await noWorkerLeft()
})

test('bad thread ward arguments are refused', () => {
  assert.throws(() => threadWard('relative/path.js'), /module must be a file: URL or an absolute path/)
  assert.throws(() => threadWard(fixtures, { terminateAfter: -1 }), /option 'terminateAfter': must not be negative/)
  assert.throws(() => threadWard(fixtures, { wat: 1 } as never), /unknown option 'wat'/)
  // processWard's options are named as such, not "unknown".
  assert.throws(() => threadWard(fixtures, { maxMemory: 1e9 } as never), /threadWard: option 'maxMemory' applies only to processWard \(a child process\), not to a worker thread \(limit a worker's memory with 'resourceLimits'\)/)
  assert.throws(() => threadWard(fixtures, { killAfter: '1s' } as never), /threadWard: option 'killAfter' applies only to processWard/)
})

test('a hung worker is terminated at once, whatever terminateAfter says: its replacement does not wait for it', { timeout: 30_000 }, async () => {
  const events: string[] = []
  // With a 10-minute terminateAfter, waiting for it would time this test out.
  const run = steward(threadWard(fixtures, { export: 'cpuHang', stream: true, terminateAfter: '10m', warm: true }), { timeout: 1_500, startTimeout: '10s' }).start({
    onEvent: (event: StewardEvent) => events.push(event.type),
  })
  const values: unknown[] = []
  for await (const value of run) values.push(value)
  assert.deepEqual(values, [0, 1, 2, 3, 4, 5])
  assert.deepEqual(
    events.filter((type) => type !== 'started'),
    ['spawned', 'hung', 'restarting', 'spawned', 'completed'],
  )
  await noWorkerLeft()
})

for (const [form, exported] of [
  ['the signal form', 'waitsWithSignal'],
  ['a plain promise', 'waitsPlain'],
] as const) {
  test(`a worker waiting for input with ${form} leaves when asked: stopped without terminate()`, { timeout: 30_000 }, async () => {
    // With a 10-minute terminateAfter, a worker that did not leave on its own would time this test out.
    const run = steward(threadWard(fixtures, { export: exported, stream: false, terminateAfter: '10m' }), { timeout: 500, startTimeout: '10s' }).start()
    await waitFor('the idle state', () => run.status().state === 'idle', 10_000, 10)
    assert.equal(run.status().state, 'idle')
    const said: unknown[] = []
    const channel = new BroadcastChannel('steward-test-cleanup')
    channel.onmessage = (event) => said.push((event as MessageEvent).data)
    try {
      assert.deepEqual(await run.stop(), { unstopped: [], killed: [] })
      assert.equal((await run.done).kind, 'stopped')
      await noWorkerLeft()
      if (exported === 'waitsPlain') {
        // The worker's own cleanup ran to its end: it was not terminated while it cleaned up.
        await waitFor('a line from the ward', () => said.length > 0, 10_000, 10)
        assert.deepEqual(said, ['cleaned up'])
      }
    } finally {
      channel.close()
    }
  })
}

test('a worker busy for eight timeouts stays healthy on its beats alone (they cross from the worker)', { timeout: 30_000 }, async () => {
  const events: string[] = []
  // Busy 4 s: past its 2.5 s start deadline too, so only relayed beats keep it alive.
  const run = steward(threadWard(fixtures, { export: 'slowBeats', stream: true }), { timeout: 500, startTimeout: 2_500, restart: 'temporary' }).start({
    onEvent: (event: StewardEvent) => events.push(event.type),
  })
  const values: unknown[] = []
  for await (const value of run) values.push(value)
  assert.deepEqual(values, [1])
  assert.deepEqual(events, ['started', 'spawned', 'completed'])
  await noWorkerLeft()
})

test('a warm spare is released when the run is stopped during the backoff after a hang', { timeout: 30_000 }, async () => {
  const run = steward(threadWard(fixtures, { export: 'cpuHang', stream: true, warm: true }), { timeout: 1_000, startTimeout: '10s', backoff: fixed('1m') }).start()
  const waiting = (async () => {
    for await (const _ of run) {
      // drain
    }
  })()
  await waitFor('the backoff state', () => run.status().state === 'backoff', 20_000, 10)
  assert.equal(run.status().state, 'backoff')
  assert.deepEqual(await run.stop(), { unstopped: [], killed: [] })
  await waiting
  await noWorkerLeft()
})

test("stream defaults to false: a promise-style worker runs with no option and `await run.done`", { timeout: 30_000 }, async () => {
  const run = steward(threadWard(fixtures, { export: 'completes' }), { timeout: '5s', startTimeout: '10s' }).start()
  const outcome = await run.done
  assert.equal(outcome.kind, 'completed')
  assert.equal(run.status().progress, 'done')
  await noWorkerLeft()
})

test("a worker whose ward returns an async iterable under stream: false ends the run at once with a start error naming the option, never a silent exit", { timeout: 30_000 }, async () => {
  const events: StewardEvent[] = []
  const run = steward(threadWard(fixtures, { export: 'throws' }), { name: 'gen', startTimeout: '10s' }).start({ onEvent: (event) => events.push(event) })
  const outcome = await run.done
  assert.ok(outcome.kind === 'gave-up' && outcome.error.reason === 'start', JSON.stringify(outcome))
  assert.equal(outcome.error.restarts, 0)
  const start = outcome.error.cause
  assert.ok(start instanceof WardStartError, String(start))
  const cause = start.cause
  assert.ok(cause instanceof TypeError, String(cause))
  assert.match(cause.message, /^threadWard 'gen': the worker's ward returned an async iterable \(a stream ward\), but the ward was made with option 'stream' false \(the default\)/)
  assert.match(cause.message, /pass \{ stream: true \} to threadWard\(\)/)
  const failed = events.find((event) => event.type === 'failed')
  assert.equal(failed?.type === 'failed' && failed.reason, 'start')
  await noWorkerLeft()
})

test('stream: true with a worker ward that returns a promise is allowed: it completes when the run is iterated', { timeout: 30_000 }, async () => {
  const run = steward(threadWard(fixtures, { export: 'completes', stream: true }), { timeout: '5s', startTimeout: '10s' }).start()
  const values: unknown[] = []
  for await (const value of run) values.push(value)
  assert.deepEqual(values, [])
  assert.equal((await run.done).kind, 'completed')
  assert.equal(run.status().progress, 'done')
  await noWorkerLeft()
})

test("a worker's stream ward retired while it waits on its consumer is closed as in-process: its signal aborts and its finally runs, then the worker leaves on its own", { timeout: 30_000 }, async () => {
  const said: unknown[] = []
  const channel = new BroadcastChannel('steward-test-closed')
  channel.onmessage = (event) => said.push((event as MessageEvent).data)
  try {
    // With a 10-minute terminateAfter, a worker that did not leave on its own would time this test out.
    const run = steward(threadWard(fixtures, { export: 'closes', stream: true, terminateAfter: '10m' }), { timeout: '5s', startTimeout: '10s' }).start()
    const values: unknown[] = []
    for await (const value of run) {
      values.push(value)
      if (values.length === 2) break // the consumer leaves: the run stops while the worker waits at its yield
    }
    assert.deepEqual(values, [1, 2])
    assert.deepEqual(await run.stop(), { unstopped: [], killed: [] })
    await waitFor('a line from the ward', () => said.length > 0, 10_000, 10)
    assert.deepEqual(said, [{ aborted: true, why: 'stopped' }])
    await noWorkerLeft()
  } finally {
    channel.close()
  }
})
