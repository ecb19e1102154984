// The control routes: POST /apps/NAME/restart|stop|start and POST /reload change a running tree,
// so they always need the token, refuse a foreign Origin and need a JSON content type.
import { test } from 'node:test'
import { request } from 'node:http'
import assert from 'node:assert/strict'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import { supervisor } from '../tree/supervisor.js'
import type { WardContext } from '../steward/ward.js'
import type { StewardEvent } from '../observe/events.js'
import type { WardStatus } from '../observe/status.js'
import { serveHttp } from './server.js'
import { stewardHttp } from './handler.js'
import { aborted } from '../testing/wait.js'

const idles = async (ctx: WardContext): Promise<void> => ctx.idle(aborted(ctx.signal))

/** A POST without keep-alive (node:http: undici's pool would outlive the leak check). */
function post(url: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'POST', headers, agent: false }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.setTimeout(10_000, () => req.destroy(new Error(`POST ${url}: no complete answer within 10 s`)))
    req.end('{}')
  })
}

function child(status: WardStatus, name: string): WardStatus {
  return status.children.find((each) => each.name === name)!
}

test('without a configured token every control route answers 403 saying how to set one, even on loopback; nothing changes', async () => {
  const { leaks } = await checkLeaks(async () => {
    const run = supervisor({ name: 'tree' }, [{ name: 'a', ward: idles }]).start()
    const server = await serveHttp(run, { port: 0, reload: async () => ({}) })
    try {
      for (const path of ['/apps/a/restart', '/apps/a/stop', '/apps/a/start', '/reload']) {
        const res = await post(`${server.url}${path}`, { 'content-type': 'application/json' })
        assert.equal(res.status, 403, path)
        assert.match(res.body, /--http-token TOKEN or STEWARD_HTTP_TOKEN/, path)
      }
      assert.equal(child(run.status(), 'a').attempt, 1)
      assert.equal(child(run.status(), 'a').state !== 'stopped', true)
    } finally {
      await server.close()
      await run.stop()
    }
  })
  assert.deepEqual(leaks, noLeaks)
})

test('with a token: 401 without it, 403 for a foreign Origin, 415 without JSON; then restart, stop and start one app, its sibling untouched', { timeout: 30_000 }, async () => {
  const { leaks } = await checkLeaks(async () => {
    const reasons: string[] = []
    const run = supervisor({ name: 'tree' }, [
      { name: 'a', ward: idles },
      { name: 'b', ward: idles },
    ]).start({ onEvent: (event: StewardEvent) => void (event.type === 'restarting' && reasons.push(`${event.path} ${event.reason}`)) })
    const server = await serveHttp(run, { port: 0, token: 's3cret' })
    const url = `${server.url}/apps/a/restart`
    const good = { authorization: 'Bearer s3cret', 'content-type': 'application/json' }
    try {
      for (const headers of [{ 'content-type': 'application/json' }, { ...good, authorization: 'Bearer wrong' }, { ...good, authorization: 's3cret' }]) {
        assert.equal((await post(url, headers)).status, 401, JSON.stringify(headers))
      }
      for (const origin of ['http://evil.example', 'null', `http://127.0.0.1:1`]) {
        const res = await post(url, { ...good, origin })
        assert.equal(res.status, 403, origin)
        assert.match(res.body, /cross-origin request refused/)
      }
      for (const type of [undefined, 'application/x-www-form-urlencoded', 'text/plain', 'multipart/form-data']) {
        const headers: Record<string, string> = { authorization: good.authorization }
        if (type !== undefined) headers['content-type'] = type
        assert.equal((await post(url, headers)).status, 415, String(type))
      }
      assert.equal(child(run.status(), 'a').attempt, 1, 'no refused request restarted it')
      assert.deepEqual(reasons, [])

      // The page's own origin (same host and port) may post.
      const restarted = await post(url, { ...good, origin: server.url, 'content-type': 'application/json; charset=utf-8' })
      assert.equal(restarted.status, 200, restarted.body)
      assert.deepEqual(JSON.parse(restarted.body), { ok: true, app: 'a', action: 'restart' })
      assert.equal(child(run.status(), 'a').attempt, 2)
      assert.equal(child(run.status(), 'b').attempt, 1)
      assert.deepEqual(reasons, ['tree/a manual'])

      const stopped = await post(`${server.url}/apps/b/stop`, good)
      assert.equal(stopped.status, 200, stopped.body)
      assert.deepEqual((JSON.parse(stopped.body) as { report: unknown }).report, { unstopped: [], killed: [] })
      assert.equal(child(run.status(), 'b').state, 'stopped')
      const started = await post(`${server.url}/apps/b/start`, good)
      assert.equal(started.status, 200, started.body)
      assert.notEqual(child(run.status(), 'b').state, 'stopped')

      const unknown = await post(`${server.url}/apps/c/restart`, good)
      assert.equal(unknown.status, 404)
      assert.match(unknown.body, /no child 'c' \(its children: a, b\)/)
      assert.equal((await post(`${server.url}/reload`, good)).status, 404, 'no reload hook: no route')
      assert.equal((await post(`${server.url}/apps/a/kill`, good)).status, 404)
    } finally {
      await server.close()
      await run.stop()
    }
  })
  assert.deepEqual(leaks, noLeaks)
})

test('POST /reload calls the hook: its result is the answer, its rejection a 400 with the reason', async () => {
  const run = supervisor({ name: 'tree' }, [{ name: 'a', ward: idles }]).start()
  let fail = false
  const server = await serveHttp(run, {
    port: 0,
    token: 't',
    reload: async () => {
      if (fail) throw new Error('steward.config.json: child a: unknown key')
      return { started: [], stopped: [], restarted: ['a'], unchanged: [] }
    },
  })
  const good = { authorization: 'Bearer t', 'content-type': 'application/json' }
  try {
    const ok = await post(`${server.url}/reload`, good)
    assert.equal(ok.status, 200)
    assert.deepEqual(JSON.parse(ok.body), { started: [], stopped: [], restarted: ['a'], unchanged: [] })
    fail = true
    const bad = await post(`${server.url}/reload`, good)
    assert.equal(bad.status, 400)
    assert.match(bad.body, /unknown key/)
    assert.equal((await post(`${server.url}/reload`, { ...good, origin: 'https://evil.example' })).status, 403)
  } finally {
    await server.close()
    await run.stop()
  }
})

test("the 'apps' option: POST /apps/NAME/… act on it instead of the run's methods (steward up's apps with instances); a bad one is refused naming it", async () => {
  const run = supervisor({ name: 'tree' }, [{ name: 'a', ward: idles }]).start()
  const calls: string[] = []
  const apps = {
    restartChild: async (name: string) => void calls.push(`restart ${name}`),
    stopChild: async (name: string) => (calls.push(`stop ${name}`), { unstopped: [], killed: [] }),
    startChild: async (name: string) => {
      if (name === 'nope') throw Object.assign(new Error(`no app '${name}'`), { code: 'ERR_STEWARD_NO_CHILD' })
      calls.push(`start ${name}`)
    },
  }
  assert.throws(() => stewardHttp(run, { apps: { restartChild: () => Promise.resolve() } as never }), /stewardHttp: option 'apps' must have restartChild, stopChild and startChild methods/)
  const server = await serveHttp(run, { port: 0, token: 't', apps })
  try {
    const headers = { authorization: 'Bearer t', 'content-type': 'application/json' }
    assert.equal((await post(`${server.url}/apps/web/restart`, headers)).status, 200)
    assert.equal((await post(`${server.url}/apps/web/stop`, headers)).status, 200)
    assert.equal((await post(`${server.url}/apps/web/start`, headers)).status, 200)
    assert.equal((await post(`${server.url}/apps/nope/start`, headers)).status, 404)
    assert.deepEqual(calls, ['restart web', 'stop web', 'start web'])
    assert.equal(child(run.status(), 'a').attempt, 1, "the run's own child untouched")
  } finally {
    await server.close()
    await run.stop()
  }
})
