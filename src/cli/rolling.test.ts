// A rolling restart keeps a service answering: four copies of a small HTTP server (`instances: 4`,
// each on the port `{instance}` names, ready when its HTTP probe answers) behind a round-robin
// proxy, a client loop counting failed requests while `steward restart web` (the real CLI, through
// the control socket) and then `POST /apps/web/restart` restart the copies. Zero failures, every pid
// changed, and the copies restarted one at a time: each old copy was still serving until its
// predecessor's replacement was listening.
//
// The proxy (src/testing/round-robin.ts) passes a connection on to the next copy only as nginx's
// default `proxy_next_upstream error` does for a request not answered yet: a copy that refuses the
// connection (nothing listens: a copy between its old and its new process), or that resets or
// closes it before sending any byte (the kernel resets connections still in a listening socket's
// queue when the server closes it; no server can prevent that). Nothing else: a request with no
// copy to take it, or cut off once answering began, counts as failed. Both pass-ons are counted
// and reported.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { isEvent, runCli, startCli, type CliLine, type RunningCli } from '../testing/cli.js'
import { freePort, freePortBlock } from '../testing/net.js'
import { loadLoop, roundRobinProxy } from '../testing/round-robin.js'
import { waitFor } from '../testing/wait.js'

const server = fileURLToPath(new URL('../../test/fixtures/instance-server.mjs', import.meta.url))
const copies = ['web:0', 'web:1', 'web:2', 'web:3']

const steward = runCli

interface App {
  readonly name: string
  readonly up: boolean
  readonly pid: number | null
}

async function apps(dir: string, env: NodeJS.ProcessEnv): Promise<App[]> {
  const done = await steward(['status', '--json'], dir, env)
  assert.equal(done.code, 0, `status: ${done.stderr}`)
  return (JSON.parse(done.stdout) as { apps: App[] }).apps
}

function post(port: number, path: string, token: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, method: 'POST', agent: false, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' } }, (res) => {
      let body = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (body += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }))
    })
    req.on('error', reject)
    req.end('{}')
  })
}

/** The wall-clock times (ms) of one rollout, from steward's JSON lines after `from`. */
function rollout(cli: RunningCli, from: number): { restarting: number[]; listening: number[]; stopping: number[] } {
  const lines = cli.lines.slice(from).filter((line): line is CliLine & { json: Record<string, unknown> } => line.json !== undefined)
  const at = (copy: string, pick: (json: Record<string, unknown>) => number | undefined): number => {
    const found = lines.map((line) => (line.json.path === `steward/${copy}` ? pick(line.json) : undefined)).find((value) => value !== undefined)
    assert.ok(found !== undefined, `no such line of ${copy}`)
    return found
  }
  const said = (word: string) => (json: Record<string, unknown>) => (json.type === 'line' && String(json.line).startsWith(`${word} `) ? Number(String(json.line).split(' ')[1]) : undefined)
  return {
    restarting: copies.map((copy) => at(copy, (json) => (json.type === 'restarting' && json.reason === 'manual' ? Date.parse(String(json.time)) : undefined))),
    listening: copies.map((copy) => at(copy, said('listening'))),
    stopping: copies.map((copy) => at(copy, said('stopping'))),
  }
}

/** Each copy restarted alone: old copy i+1 stopped only after new copy i listened. */
function assertOneAtATime(times: ReturnType<typeof rollout>): void {
  const { restarting, listening, stopping } = times
  const table = copies.map((copy, index) => `${copy}: restarting ${restarting[index]} stopping ${stopping[index]} listening ${listening[index]}`).join('\n')
  for (let index = 0; index < copies.length; index++) {
    assert.ok(restarting[index]! <= stopping[index]! && stopping[index]! <= listening[index]!, `${copies[index]} stopped, then its new process listened\n${table}`)
    if (index > 0) assert.ok(listening[index - 1]! <= stopping[index]!, `${copies[index]} was taken down only after ${copies[index - 1]}'s new process listened\n${table}`)
  }
}

test('steward restart web and POST /apps/web/restart restart 4 instances behind a round-robin proxy one at a time: zero failed requests, every pid changed', { timeout: 120_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), '.sr-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const env = { ...process.env, NO_COLOR: '1', XDG_RUNTIME_DIR: dir }
  const base = await freePortBlock(4)
  const prefix = String(base / 10)
  const ports = copies.map((_, index) => base + index)
  writeFileSync(
    join(dir, 'steward.config.json'),
    JSON.stringify({
      children: [
        {
          name: 'web',
          instances: 4,
          command: process.execPath,
          args: [server, `${prefix}{instance}`],
          // Up when it answers HTTP: the probe of each copy, on its own port, every 100 ms.
          heartbeat: `http:http://127.0.0.1:${prefix}{instance}/`,
          timeout: '3s',
          pulseInterval: '100ms',
          startTimeout: '20s',
        },
      ],
    }),
  )
  const httpPort = await freePort()
  const token = 'rolling-test-token'
  const cli = startCli(['up', '--json', '--http', `127.0.0.1:${httpPort}`, '--http-token', token], { cwd: dir, env })
  t.after(() => cli.kill())
  const proxy = await roundRobinProxy(ports)
  t.after(() => proxy.close())
  await waitFor('four copies up', () => cli.lines.filter((line) => line.json?.type === 'line' && String(line.json.line).startsWith('listening ')).length >= 4, 30_000)
  let before: App[] = []
  const deadline = performance.now() + 30_000
  for (;;) {
    before = await apps(dir, env)
    if (before.length === 4 && before.every((app) => app.up)) break
    assert.ok(performance.now() < deadline, `every copy up in steward status within 30 s: ${JSON.stringify(before)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  assert.deepEqual(before.map((app) => app.name), copies)

  for (const how of ['steward restart web', 'POST /apps/web/restart'] as const) {
    const load = loadLoop(proxy.port, { concurrency: 4 })
    await waitFor('the load answered', () => load.ok >= 100, 30_000)
    const from = cli.lines.length
    const began = performance.now()
    if (how === 'steward restart web') {
      const done = await steward(['restart', 'web'], dir, env)
      assert.equal(done.code, 0, done.stderr)
      assert.equal(done.stdout.trim(), 'restarted web')
    } else {
      const answer = await post(httpPort, '/apps/web/restart', token)
      assert.equal(answer.status, 200, answer.body)
      assert.deepEqual(JSON.parse(answer.body), { ok: true, app: 'web', action: 'restart' })
    }
    const took = performance.now() - began
    // Requests go on after the rollout: every new copy serves.
    const okAtEnd = load.ok
    await waitFor('more answers after the rollout', () => load.ok >= okAtEnd + 100, 30_000)
    const report = await load.stop()
    assert.deepEqual(report.failed, [], `${how}: failed requests (the proxy lost: ${proxy.lost.slice(0, 5).join('; ') || 'none'}${proxy.lost.length > 5 ? ` and ${proxy.lost.length - 5} more` : ''})`)
    const after = await apps(dir, env)
    assert.deepEqual(after.map((app) => app.name), copies)
    assert.ok(after.every((app) => app.up), JSON.stringify(after))
    for (const [index, app] of after.entries()) assert.notEqual(app.pid, before[index]!.pid, `${app.name}'s pid changed (${how})`)
    // The new copies answered through the proxy.
    for (const app of after) assert.ok([...report.answers.keys()].some((body) => body === `${app.name.split(':')[1]} ${app.pid}`), `${app.name} (pid ${app.pid}) answered`)
    assertOneAtATime(rollout(cli, from))
    t.diagnostic(`${how}: ${report.ok} requests answered, ${report.failed.length} failed; so far ${proxy.refused} passed on from a copy refusing, ${proxy.unanswered} from a copy closing unanswered; rollout ${Math.round(took)} ms`)
    before = after
  }
  // The app's name stands for its copies in status and logs; one copy is addressed as NAME:N.
  const table = await steward(['status', 'web'], dir, env)
  assert.equal(table.code, 0, table.stderr)
  assert.deepEqual(table.stdout.trim().split('\n').slice(1).map((row) => row.split(/\s+/)[0]), copies)
  const logs = await steward(['logs', 'web', '-n', '1000'], dir, env)
  assert.equal(logs.code, 0, logs.stderr)
  assert.deepEqual([...new Set(logs.stdout.trim().split('\n').map((line) => line.split(' ')[0]))].sort(), copies.map((copy) => `steward/${copy}`))
  const one = await steward(['restart', 'web:2'], dir, env)
  assert.equal(one.code, 0, one.stderr)
  const afterOne = await apps(dir, env)
  assert.deepEqual(
    afterOne.map((app, index) => app.pid === before[index]!.pid),
    [true, true, false, true],
    'only web:2 has a new pid',
  )
  const unknown = await steward(['restart', 'api'], dir, env)
  assert.equal(unknown.code, 2)
  assert.match(unknown.stderr, /no app 'api' in .*; known: web, web:0, web:1, web:2, web:3/)
  cli.process.kill('SIGTERM')
  assert.equal((await cli.exited).code, 143)
  await cli.waitFor('the stopped event', isEvent('stopped', { path: 'steward' }), 1)
})
