import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { createServer, type Server } from 'node:http'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { HungEvent, StewardEvent } from '../observe/events.js'
import type { ProbeFailure } from '../observe/probe-failure.js'
import { freePort } from '../testing/net.js'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import { WardHungError } from '../steward/errors.js'
import { steward } from '../steward/steward.js'
import { liveChildren, processWard, type ProcessHeartbeat } from './process-ward.js'

// A probe that fails says why: in the hung event it leads to, in status() until a probe answers
// healthy, and in the hang's error. The child here is a quiet `sleep`: only the probe is tested.

const dir = mkdtempSync(join(tmpdir(), 'steward-probe-'))
after(() => rmSync(dir, { recursive: true, force: true }))

async function waitFor(what: string, test: () => boolean, within = 10_000): Promise<void> {
  const deadline = performance.now() + within
  while (!test()) {
    if (performance.now() > deadline) throw new Error(`no ${what} within ${within} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** Runs a quiet child under `heartbeat` until its first hang; returns the hung event and the failure status() showed. */
async function firstHang(heartbeat: ProcessHeartbeat): Promise<{ hung: HungEvent; status: ProbeFailure | null; error: Error | undefined }> {
  const events: StewardEvent[] = []
  let status: ProbeFailure | null = null
  const { result, leaks } = await checkLeaks(async () => {
    const run = steward(processWard('sleep', ['600'], { heartbeat }), { name: 'app', timeout: 2_000, maxRestarts: 0 }).start({ onEvent: (event) => events.push(event) })
    await waitFor('a probe failure in status()', () => run.status().probeFailure !== null)
    status = run.status().probeFailure
    const outcome = await run.done
    return outcome.kind === 'gave-up' ? outcome.error.cause : undefined
  })
  assert.deepEqual(leaks, noLeaks)
  assert.equal(liveChildren.size, 0)
  const hung = events.find((event): event is HungEvent => event.type === 'hung')
  assert.ok(hung !== undefined, events.map((event) => event.type).join(', '))
  return { hung, status, error: result }
}

function listen(server: Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as { port: number }).port)))
}

test('exec probe: a command not found says so (ENOENT) in the hung event, status() and the hang error', { timeout: 30_000 }, async () => {
  const { hung, status, error } = await firstHang({ exec: ['redis-clii-steward-test', 'ping'], every: 50, timeout: 5_000 })
  assert.equal(hung.probeFailure?.kind, 'exec')
  assert.equal(hung.probeFailure?.message, 'exec redis-clii-steward-test: not found (ENOENT)')
  assert.equal(hung.probeFailure?.code, 'ENOENT')
  assert.equal(hung.probeFailure?.attempt, 1)
  assert.ok((hung.probeFailure?.failures ?? 0) >= 1)
  assert.equal(status?.message, 'exec redis-clii-steward-test: not found (ENOENT)')
  assert.ok(error instanceof WardHungError)
  assert.match(error.message, /did not beat for 2000 ms; probe: exec redis-clii-steward-test: not found \(ENOENT\)$/)
})

test('exec probe: a non-zero exit says its code and the last line of its stderr', { timeout: 30_000 }, async () => {
  const { hung } = await firstHang({ exec: ['sh', '-c', 'echo "first line" >&2; echo "Could not connect to Redis at 127.0.0.1:6390" >&2; echo >&2; exit 3'], every: 50, timeout: 5_000 })
  assert.equal(hung.probeFailure?.message, 'exec sh: exited with code 3: Could not connect to Redis at 127.0.0.1:6390')
  assert.equal(hung.probeFailure?.exitCode, 3)
})

test('exec probe: the reason waits for its stderr to end, so words written after its exit (by a process it started) are quoted', { timeout: 30_000 }, async () => {
  const { hung } = await firstHang({ exec: ['sh', '-c', '(sleep 0.2; echo "late words" >&2) & exit 4'], every: 50, timeout: 2_000 })
  assert.equal(hung.probeFailure?.message, 'exec sh: exited with code 4: late words')
})

test('http probe: a 404 says its status; a refused connection says ECONNREFUSED', { timeout: 30_000 }, async () => {
  const server = createServer((request, response) => {
    response.statusCode = request.url === '/health' ? 200 : 404
    response.end()
  })
  const port = await listen(server)
  try {
    const { hung } = await firstHang({ http: `http://user:secret@127.0.0.1:${port}/nonexistent?token=secret`, every: 50, timeout: 5_000 })
    assert.equal(hung.probeFailure?.kind, 'http')
    assert.equal(hung.probeFailure?.message, `http GET http://127.0.0.1:${port}/nonexistent: 404 Not Found`, 'neither credentials nor query shown')
    assert.equal(hung.probeFailure?.status, 404)
  } finally {
    server.close()
  }
  const closed = await freePort()
  const { hung } = await firstHang({ http: `http://127.0.0.1:${closed}/health`, every: 50, timeout: 5_000 })
  assert.equal(hung.probeFailure?.code, 'ECONNREFUSED')
  assert.equal(hung.probeFailure?.message, `http GET http://127.0.0.1:${closed}/health: connect ECONNREFUSED 127.0.0.1:${closed}`)
})

test('tcp probe: a refused connection says ECONNREFUSED and where', { timeout: 30_000 }, async () => {
  const port = await freePort()
  const { hung } = await firstHang({ tcp: { port }, every: 50, timeout: 5_000 })
  assert.equal(hung.probeFailure?.kind, 'tcp')
  assert.equal(hung.probeFailure?.code, 'ECONNREFUSED')
  assert.equal(hung.probeFailure?.message, `tcp 127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}`)
})

test('probe function: its rejection says why', { timeout: 30_000 }, async () => {
  const { hung } = await firstHang({ probe: () => Promise.reject(Object.assign(new Error('PING answered LOADING'), { code: 'ELOADING' })), every: 50, timeout: 5_000 })
  assert.equal(hung.probeFailure?.message, 'probe: PING answered LOADING')
  assert.equal(hung.probeFailure?.code, 'ELOADING')
})

test('a healthy answer clears the failure from status(); a hang with probes that answered has no probeFailure', { timeout: 30_000 }, async () => {
  const healthy = join(dir, 'healthy')
  const run = steward(processWard('sleep', ['600'], { heartbeat: { exec: ['test', '-f', healthy], every: 50, timeout: 5_000 } }), { timeout: '1m', startTimeout: '1m' }).start()
  try {
    await waitFor('a failure', () => run.status().probeFailure !== null)
    assert.match(run.status().probeFailure!.message, /^exec test: exited with code 1$/)
    // What the probe asks, in the words its failures begin with, while the child runs.
    assert.equal(run.status().probe, 'exec test every 50 ms')
    writeFileSync(healthy, '')
    await waitFor('the failure cleared', () => run.status().probeFailure === null)
    assert.equal(run.status().up, true)
  } finally {
    await run.stop()
  }
  assert.equal('probe' in run.status(), false, 'no probe once stopped')
})

test("status().probe says what each kind of probe asks; a ward without a probe has none", { timeout: 30_000 }, async () => {
  const cases: [ProcessHeartbeat, string][] = [
    [{ http: 'http://user:secret@127.0.0.1:9/health?token=secret', every: '2s' }, 'http GET http://127.0.0.1:9/health every 2000 ms'],
    [{ tcp: { port: 9, host: '::1' }, every: 700 }, 'tcp [::1]:9 every 700 ms'],
    [{ probe: () => Promise.resolve(), every: 300 }, 'probe every 300 ms'],
    ['stdout', ''],
  ]
  for (const [heartbeat, expected] of cases) {
    const run = steward(processWard('sleep', ['600'], { heartbeat }), { timeout: '1m', startTimeout: '1m' }).start()
    try {
      await waitFor('the child spawned', () => run.status().pid !== null)
      assert.equal(run.status().probe ?? '', expected)
    } finally {
      await run.stop()
    }
  }
})

test('a probe that always answers late: found hung within timeout + one interval, never two probes in flight', { timeout: 30_000 }, async () => {
  // Every answer comes 150 ms after its probe began, 50 ms past its 100 ms deadline (the probe
  // ignores its signal): a late answer must count for nothing and start nothing.
  let inFlight = 0
  let mostInFlight = 0
  let probes = 0
  const events: StewardEvent[] = []
  const timeout = 1_000
  const every = 100
  const began = performance.now()
  const run = steward(
    processWard('sleep', ['600'], {
      heartbeat: {
        every,
        probe: () => {
          probes++
          mostInFlight = Math.max(mostInFlight, ++inFlight)
          return new Promise((resolve) =>
            setTimeout(() => {
              inFlight--
              resolve('pong')
            }, 150),
          )
        },
      },
    }),
    { timeout, maxRestarts: 0 },
  ).start({ onEvent: (event) => events.push(event) })
  // Bounded: a run whose late answers count is never found hung (and the probes multiply).
  let hungAt = Infinity
  try {
    await waitFor('the hang', () => events.some((event) => event.type === 'hung'), timeout + every + 2_000)
    hungAt = performance.now()
  } finally {
    await run.stop()
  }
  const outcome = await run.done
  await waitFor('the last late answer', () => inFlight === 0)
  const hung = events.find((event): event is HungEvent => event.type === 'hung')
  assert.ok(hung !== undefined && outcome.kind !== 'completed', events.map((event) => event.type).join(', '))
  assert.match(hung.probeFailure?.message ?? '', /^probe: no answer within 100 ms$/)
  assert.equal(hung.probeFailure?.code, 'ETIMEDOUT')
  // Generous for a loaded machine, far below "never".
  assert.ok(hungAt - began < timeout + every + 2_000, `hung after ${Math.round(hungAt - began)} ms`)
  assert.equal(mostInFlight, 1, 'one probe at a time')
  // One probe per deadline-plus-interval (about every 200 ms), not a new loop per late answer.
  assert.ok(probes <= (hungAt - began) / (2 * every) + 2, `${probes} probes in ${Math.round(hungAt - began)} ms`)
})
