import { test } from 'node:test'
import { request } from 'node:http'
import assert from 'node:assert/strict'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import { openSse } from '../testing/sse.js'
import { steward } from '../steward/steward.js'
import { supervisor } from '../tree/supervisor.js'
import type { WardContext } from '../steward/ward.js'
import type { StewardEvent } from '../observe/events.js'
import { serveHttp } from './server.js'
import { stewardHttp } from './handler.js'
import { bearerMatches } from './auth.js'
import { isLoopback } from './loopback.js'
import { EventRing } from './event-ring.js'
import { aborted } from '../testing/wait.js'

/** A ward that idles until `crash()` makes its current incarnation throw. */
function crashable() {
  let fail: ((error: Error) => void) | undefined
  const ward = async (ctx: WardContext): Promise<void> => {
    await ctx.idle(
      new Promise<void>((resolve, reject) => {
        const onAbort = (): void => resolve()
        fail = (error) => {
          ctx.signal.removeEventListener('abort', onAbort)
          reject(error)
        }
        ctx.signal.addEventListener('abort', onAbort, { once: true })
      }),
    )
  }
  return { ward, crash: (message = 'crashed') => fail?.(new Error(message)) }
}

/** A request without keep-alive (node:http, not fetch: undici's pool would outlive the leak check). */
function get(url: string, headers: Record<string, string> = {}, method = 'GET'): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, type: res.headers['content-type'] ?? '', body }))
    })
    req.on('error', reject)
    req.setTimeout(5_000, () => req.destroy(new Error(`${method} ${url}: no complete answer within 5 s`)))
    req.end()
  })
}

/** Reads until `ok` holds and answers that value; rejects after `ms` ms naming `what` and the last value read. */
async function poll<T>(what: string, read: () => Promise<T>, ok: (value: T) => boolean, ms = 10_000): Promise<T> {
  const deadline = performance.now() + ms
  for (;;) {
    const value = await read()
    if (ok(value)) return value
    if (performance.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}; last read: ${JSON.stringify(value)}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

test('/healthz is 200 while the tree heals and 503 with the failing path once it gives up', async () => {
  const { leaks } = await checkLeaks(async () => {
    const worker = crashable()
    const run = supervisor({ name: 'app', maxRestarts: 1, within: '1m' }, [{ name: 'worker', ward: worker.ward }]).start()
    const server = await serveHttp(run, { port: 0 })
    try {
      await poll('/readyz 200', () => get(`${server.url}/readyz`), (r) => r.status === 200)
      worker.crash()
      const healing = await poll('the second attempt in /status', () => get(`${server.url}/status`), (r) => (JSON.parse(r.body) as { restarts: number; children: Array<{ attempt: number }> }).children[0]!.attempt === 2)
      assert.equal((JSON.parse(healing.body) as { children: Array<{ attempt: number }> }).children[0]!.attempt, 2)
      assert.equal((await get(`${server.url}/healthz`)).status, 200)
      worker.crash()
      const health = await poll('/healthz not 200', () => get(`${server.url}/healthz`), (r) => r.status !== 200)
      assert.equal(health.status, 503)
      assert.deepEqual(JSON.parse(health.body), { status: 'gave-up', failing: ['app'] })
    } finally {
      await server.close()
      await run.stop()
    }
  })
  assert.deepEqual(leaks, noLeaks)
})

test('/readyz is 503 before the first beat and 200 after it', async () => {
  let beat: (() => void) | undefined
  const run = steward(
    async (ctx: WardContext) => {
      await new Promise<void>((resolve) => (beat = resolve))
      ctx.beat()
      await ctx.idle(aborted(ctx.signal))
    },
    { name: 'slow', timeout: '1m' },
  ).start()
  const server = await serveHttp(run, { port: 0 })
  try {
    await poll('a beat', async () => beat, (b) => b !== undefined)
    const before = await get(`${server.url}/readyz`)
    assert.equal(before.status, 503)
    assert.deepEqual(JSON.parse(before.body), { status: 'not-ready', waiting: ['slow'] })
    beat!()
    const after = await poll('/readyz 200', () => get(`${server.url}/readyz`), (r) => r.status === 200)
    assert.equal(after.status, 200)
  } finally {
    await server.close()
    await run.stop()
  }
})

test('a non-loopback bind without a token is refused before binding; loopback names are recognised', async () => {
  const run = steward(async (ctx: WardContext) => ctx.idle(aborted(ctx.signal)), { name: 'w' }).start()
  try {
    // Refused before binding: a serveHttp that resolved would be closed at once and fail the test.
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'steward.invalid']) {
      const attempt = serveHttp(run, { host, port: 0 }).then(async (server) => {
        await server.close()
        throw new Error(`serveHttp bound ${host} without a token`)
      })
      await assert.rejects(attempt, /option 'token' is required to bind/, host)
    }
    await assert.rejects(serveHttp(run, { port: 70_000 }), /option 'port'/)
    await assert.rejects(serveHttp(run, { token: '' }), /option 'token' must be a non-empty string/)
    assert.throws(() => stewardHttp(run, { replay: 0 }), /option 'replay'/)
    assert.throws(() => stewardHttp(run, { tokn: 'x' } as never), /unknown option 'tokn'/)
    for (const host of ['127.0.0.1', '127.1.2.3', '::1', '[::1]', 'localhost']) assert.equal(isLoopback(host), true, host)
    for (const host of ['0.0.0.0', '::', '10.0.0.1', '::ffff:10.0.0.1', 'localhost.example']) assert.equal(isLoopback(host), false, host)
  } finally {
    await run.stop()
  }
})

test('with a token, a request without it or with a wrong one gets 401 and no data', async () => {
  const run = supervisor({ name: 'secret-tree' }, [{ name: 'secret-child', ward: async (ctx: WardContext) => ctx.idle(aborted(ctx.signal)) }]).start()
  const server = await serveHttp(run, { port: 0, token: 's3cret' })
  try {
    for (const path of ['/healthz', '/readyz', '/metrics', '/status', '/events']) {
      for (const headers of [{}, { authorization: 'Bearer wrong' }, { authorization: 'Bearer s3cret2' }, { authorization: 's3cret' }, { authorization: 'Bearer ' }]) {
        const res = await get(`${server.url}${path}`, headers)
        assert.equal(res.status, 401, `${path} ${JSON.stringify(headers)}`)
        assert.ok(!res.body.includes('secret'), `${path}: ${res.body}`)
      }
    }
    const ok = await get(`${server.url}/status`, { authorization: 'Bearer s3cret' })
    assert.equal(ok.status, 200)
    assert.equal((JSON.parse(ok.body) as { name: string }).name, 'secret-tree')
    // The dashboard's files carry no data: served without the token.
    const page = await get(`${server.url}/`)
    assert.equal(page.status, 200)
    assert.ok(!page.body.includes('secret-'))
    // The page is told a token is needed, so it asks for it before its first request.
    assert.match(page.body, /<html lang="en" data-token="required">/)
    // The icon too: the page links favicon.svg, a browser asks /favicon.ico on its own; neither is a 404.
    for (const icon of ['/favicon.svg', '/favicon.ico']) {
      const answer = await get(`${server.url}${icon}`)
      assert.deepEqual([answer.status, answer.type], [200, 'image/svg+xml'], icon)
      assert.match(answer.body, /^<svg /)
    }
    assert.equal(bearerMatches('Bearer abc', 'abc'), true)
    assert.equal(bearerMatches('Bearer abd', 'abc'), false)
    assert.equal(bearerMatches(undefined, 'abc'), false)
  } finally {
    await server.close()
    await run.stop()
  }
})

test('/metrics, /status, 404 and 405', { timeout: 15_000 }, async () => {
  const worker = crashable()
  const run = supervisor({ name: 'app' }, [{ name: 'worker', ward: worker.ward }]).start()
  const server = await serveHttp(run, { port: 0 })
  try {
    await poll('/readyz 200', () => get(`${server.url}/readyz`), (r) => r.status === 200)
    worker.crash()
    const metrics = await poll('the failure counted in /metrics', () => get(`${server.url}/metrics`), (r) => r.body.includes('reason="failed"} 1'))
    assert.equal(metrics.type, 'text/plain; version=0.0.4; charset=utf-8')
    assert.match(metrics.body, /^steward_restarts_total\{path="app\/worker",reason="failed"\} 1$/m)
    assert.equal((await get(`${server.url}/nope`)).status, 404)
    assert.equal((await get(`${server.url}/status`, {}, 'POST')).status, 405)
    // HEAD answers at once, without opening an event stream.
    const head = await get(`${server.url}/events`, {}, 'HEAD')
    assert.deepEqual([head.status, head.type, head.body, server.handler.connections], [200, 'text/event-stream; charset=utf-8', '', 0])
    const page = await get(`${server.url}/`)
    assert.match(page.type, /^text\/html/)
    assert.match(page.body, /<html lang="en" data-token="none">/)
    assert.match(page.body, /<script type="module" src="dashboard\.js"><\/script>/)
  } finally {
    await server.close()
    await run.stop()
  }
})

test('SSE: a client that reconnects with Last-Event-ID receives exactly the events it missed', async () => {
  const { leaks } = await checkLeaks(async () => {
    const worker = crashable()
    const all: StewardEvent[] = []
    const run = supervisor({ name: 'app', maxRestarts: 100, within: '1m' }, [{ name: 'worker', ward: worker.ward }]).start({ onEvent: (e) => all.push(e) })
    const server = await serveHttp(run, { port: 0, statusInterval: 50 })
    try {
      const first = await openSse(`${server.url}/events`, { 'last-event-id': '0' })
      await first.until((m) => m.event === 'started')
      worker.crash('one')
      await first.until((m) => m.event === 'started' && (JSON.parse(m.data) as StewardEvent).attempt === 2)
      const seen = first.messages.filter((m) => m.id !== undefined)
      const lastId = seen.at(-1)!.id!
      first.close()
      await first.closed
      await poll('no open connection', async () => server.handler.connections, (n) => n === 0)
      // Missed while disconnected: two more crashes.
      worker.crash('two')
      await poll('three starts', async () => all.filter((e) => e.type === 'started').length, (n) => n >= 3)
      worker.crash('three')
      await poll('four starts', async () => all.filter((e) => e.type === 'started').length, (n) => n >= 4)
      const again = await openSse(`${server.url}/events`, { 'last-event-id': lastId })
      await again.until((m) => m.event === 'status')
      await again.until((m) => m.event === 'started' && (JSON.parse(m.data) as StewardEvent).attempt === 4)
      const replayed = again.messages.filter((m) => m.id !== undefined)
      // Ids continue one by one, and the events are exactly those after the ones seen, in order.
      assert.deepEqual(
        replayed.map((m) => Number(m.id)),
        replayed.map((_, i) => Number(lastId) + 1 + i),
      )
      // Each event as the run emitted it, plus `wall`, the server's time of day when it was pushed.
      const received = [...seen, ...replayed].map((m) => JSON.parse(m.data) as StewardEvent & { wall: number })
      for (const event of received) assert.ok(Math.abs(event.wall - Date.now()) < 60_000)
      assert.deepEqual(received.map(({ wall: _, ...event }) => event), JSON.parse(JSON.stringify(all)) as unknown)
      assert.ok(!again.messages.some((m) => m.event === 'gap'))
      // The status tree arrives every statusInterval.
      await again.until((m) => again.messages.filter((x) => x.event === 'status').length >= 3 && m.event === 'status')
      again.close()
      await again.closed
    } finally {
      await server.close()
      await run.stop()
    }
  })
  assert.deepEqual(leaks, noLeaks)
})

test('the event ring replays what it holds and says when older events are gone', () => {
  const ring = new EventRing(3)
  const event = (attempt: number): StewardEvent => ({ type: 'started', ward: 'w', path: 'w', at: 0, attempt, resume: undefined })
  for (let i = 1; i <= 5; i++) ring.push(event(i), i * 10)
  assert.deepEqual(ring.after(3), { events: [{ id: 4, event: event(4), wall: 40 }, { id: 5, event: event(5), wall: 50 }], complete: true })
  assert.deepEqual(ring.after(2).complete, true)
  assert.deepEqual(ring.after(1), { events: [3, 4, 5].map((id) => ({ id, event: event(id), wall: id * 10 })), complete: false })
  assert.deepEqual(ring.after(5), { events: [], complete: true })
  assert.equal(ring.lastId, 5)
})

test("the event ring keeps child output lines beside the events: a chatty child never pushes a restart out of the replay", () => {
  const ring = new EventRing(3, 2)
  const event = (attempt: number): StewardEvent => ({ type: 'started', ward: 'w', path: 'w', at: 0, attempt, resume: undefined })
  const line = (text: string): StewardEvent => ({ type: 'line', ward: 'w', path: 'w', at: 0, attempt: 1, stream: 'stdout', line: text })
  ring.push(event(1), 1)
  for (let i = 2; i <= 4; i++) ring.push(line(`l${i}`), i)
  ring.push(event(5), 5)
  ring.push(line('l6'), 6)
  // The lines' ring kept the last two (4 and 6); the event 1 is still there, in id order with them.
  assert.deepEqual(
    ring.after(0).events.map((n) => n.id),
    [1, 4, 5, 6],
  )
  assert.equal(ring.after(0).complete, true, 'lines dropped from their own ring are no gap')
  assert.deepEqual(
    ring.after(4).events.map((n) => n.id),
    [5, 6],
  )
  ring.push(event(7), 7)
  ring.push(event(8), 8)
  assert.deepEqual(
    ring.after(0).events.map((n) => n.id),
    [4, 5, 6, 7, 8],
  )
  assert.equal(ring.after(0).complete, false, 'event 1 is gone')
  assert.equal(ring.after(1).complete, true)
  assert.equal(ring.lastId, 8)
})

test('SSE: a client that missed more than the ring holds is told (gap), and close() ends every stream', async () => {
  const worker = crashable()
  const run = supervisor({ name: 'app', maxRestarts: 100, within: '1m' }, [{ name: 'worker', ward: worker.ward }]).start()
  const server = await serveHttp(run, { port: 0, replay: 2 })
  try {
    const first = await openSse(`${server.url}/events`, { 'last-event-id': '0' })
    await first.until((m) => m.event === 'started')
    for (let attempt = 2; attempt <= 4; attempt++) {
      worker.crash()
      await first.until((m) => m.event === 'started' && (JSON.parse(m.data) as StewardEvent).attempt === attempt)
    }
    // Ids 1 and 2 are long gone from a ring of two.
    const late = await openSse(`${server.url}/events`, { 'last-event-id': '1' })
    const gap = await late.until((m) => m.event === 'gap')
    const replayed = late.messages.filter((m) => m.id !== undefined)
    assert.equal(replayed.length, 2)
    assert.deepEqual(JSON.parse(gap.data), { after: 1, oldest: Number(replayed[0]!.id) })
    assert.ok(late.messages.indexOf(gap) < late.messages.indexOf(replayed[0]!))
    assert.equal(server.handler.connections, 2)
    server.handler.close()
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      Promise.all([first.closed, late.closed]),
      new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('close() left an event stream open')), 5_000))),
    ])
    clearTimeout(timer)
    assert.equal(server.handler.connections, 0)
  } finally {
    await server.close()
    await run.stop()
  }
})
