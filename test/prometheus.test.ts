// A real Prometheus (Debian's package; scripts/test-deps.sh installs it) scrapes /metrics on
// loopback, with its own temporary config and data directory: after a ward is made to hang, its
// query API returns steward_restarts_total{reason="hung"} for that ward's path.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../src/testing/net.js'
import { supervisor, type WardContext } from '../src/index.js'
import { serveHttp } from '../src/http/index.js'

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

async function until<T>(read: () => Promise<T>, ok: (value: T) => boolean, ms: number, what: string): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    const value = await read().catch(() => undefined)
    if (value !== undefined && ok(value)) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; last: ${JSON.stringify(value)}`)
    await sleep(100)
  }
}

interface QueryResult {
  status: string
  data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> }
}

test('Prometheus scrapes steward_restarts_total{reason="hung"} for a ward that hung', { timeout: 90_000 }, async () => {
  let hang = false
  const run = supervisor({ name: 'shop', maxRestarts: 10, within: '1m' }, [
    {
      name: 'poller',
      timeout: 300,
      ward: async (ctx: WardContext) => {
        while (!ctx.signal.aborted) {
          if (!hang) ctx.beat()
          await sleep(50)
        }
      },
    },
    { name: 'mailer', ward: async (ctx: WardContext) => ctx.idle(new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }))) },
  ]).start()
  const server = await serveHttp(run, { port: 0 })
  const dir = mkdtempSync(join(tmpdir(), 'steward-prometheus-'))
  const promPort = await freePort()
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      '  scrape_interval: 200ms',
      '  scrape_timeout: 150ms',
      'scrape_configs:',
      '  - job_name: steward',
      `    static_configs: [{ targets: ['127.0.0.1:${server.port}'] }]`,
      '',
    ].join('\n'),
  )
  let log = ''
  const prometheus = spawn(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${promPort}`, '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  prometheus.stdout.setEncoding('utf8').on('data', (chunk: string) => (log += chunk))
  prometheus.stderr.setEncoding('utf8').on('data', (chunk: string) => (log += chunk))
  const exited = new Promise<void>((resolve) => prometheus.on('exit', () => resolve()))
  const api = `http://127.0.0.1:${promPort}`
  try {
    await until(() => fetch(`${api}/-/ready`).then((r) => r.status), (status) => status === 200, 30_000, `prometheus to be ready (log: ${log})`)
    // The target is up before the hang (so the restart is a change Prometheus sees).
    await until(
      () => fetch(`${api}/api/v1/query?query=${encodeURIComponent('steward_up{path="shop/poller"}')}`).then((r) => r.json() as Promise<QueryResult>),
      (body) => body.data.result.length === 1,
      30_000,
      'a first scrape',
    )
    hang = true
    const query = encodeURIComponent('steward_restarts_total{reason="hung"}')
    const body = await until(
      () => fetch(`${api}/api/v1/query?query=${query}`).then((r) => r.json() as Promise<QueryResult>),
      (b) => b.data.result.length > 0,
      30_000,
      'the hung restart in Prometheus',
    )
    assert.equal(body.status, 'success')
    const series = body.data.result.map((r) => r.metric)
    assert.deepEqual(
      series.map((m) => [m.__name__, m.path, m.reason, m.job]),
      [['steward_restarts_total', 'shop/poller', 'hung', 'steward']],
    )
    assert.ok(Number(body.data.result[0]!.value[1]) >= 1)
  } finally {
    prometheus.kill('SIGTERM')
    await exited
    await server.close()
    await run.stop()
    rmSync(dir, { recursive: true, force: true })
  }
})
