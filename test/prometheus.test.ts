// A real Prometheus (Debian's package; scripts/test-deps.sh installs it) scrapes /metrics on
// loopback, with its own temporary config and data directory: after a ward is made to hang, its
// query API returns steward_restarts_total{reason="hung"} for that ward's path; after a ward's
// FIRST restart, increase(steward_restarts_total[1m]) sees it (the series was exported at 0 before).
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
    // Every ward that can hang has the series from its start, at 0: the one that hung is above it.
    const query = encodeURIComponent('steward_restarts_total{reason="hung"} > 0')
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

/** A Prometheus scraping `target` (host:port) every `interval`, on a free loopback port with a temporary directory. */
async function startPrometheus(target: string, interval: string): Promise<{ api: string; log: () => string; close: () => Promise<void> }> {
  const dir = mkdtempSync(join(tmpdir(), 'steward-prometheus-'))
  const port = await freePort()
  writeFileSync(
    join(dir, 'prometheus.yml'),
    ['global:', `  scrape_interval: ${interval}`, `  scrape_timeout: ${interval}`, 'scrape_configs:', '  - job_name: steward', `    static_configs: [{ targets: ['${target}'] }]`, ''].join('\n'),
  )
  let log = ''
  const prometheus = spawn(
    'prometheus',
    [`--config.file=${join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--log.level=warn'],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  )
  prometheus.stdout.setEncoding('utf8').on('data', (chunk: string) => (log += chunk))
  prometheus.stderr.setEncoding('utf8').on('data', (chunk: string) => (log += chunk))
  const exited = new Promise<void>((resolve) => prometheus.on('exit', () => resolve()))
  return {
    api: `http://127.0.0.1:${port}`,
    log: () => log,
    close: async () => {
      prometheus.kill('SIGTERM')
      await exited
      rmSync(dir, { recursive: true, force: true })
    },
  }
}

const query = (api: string, promql: string): Promise<QueryResult> => fetch(`${api}/api/v1/query?query=${encodeURIComponent(promql)}`).then((r) => r.json() as Promise<QueryResult>)

test("increase(steward_restarts_total[1m]) in Prometheus sees a ward's FIRST restart", { timeout: 120_000 }, async () => {
  let fail = false
  const run = supervisor({ name: 'shop', maxRestarts: 10, within: '1m' }, [
    {
      name: 'worker',
      ward: async (ctx: WardContext) => {
        while (!ctx.signal.aborted) {
          if (fail) {
            fail = false
            throw new Error('the first failure')
          }
          ctx.beat()
          await sleep(50)
        }
      },
    },
  ]).start()
  const server = await serveHttp(run, { port: 0 })
  const prometheus = await startPrometheus(`127.0.0.1:${server.port}`, '1s')
  const { api } = prometheus
  try {
    await until(() => fetch(`${api}/-/ready`).then((r) => r.status), (status) => status === 200, 30_000, `prometheus to be ready (log: ${prometheus.log()})`)
    // Two scrapes of the zero series before the restart (the first sample of a series is no increase).
    await until(
      () => query(api, 'count_over_time(steward_restarts_total{path="shop/worker",reason="failed"}[1m])'),
      (body) => body.data.result.length === 1 && Number(body.data.result[0]!.value[1]) >= 2,
      30_000,
      'two scrapes of steward_restarts_total{path="shop/worker",reason="failed"} at 0',
    )
    const before = await query(api, 'steward_restarts_total{path="shop/worker",reason="failed"}')
    assert.equal(before.data.result[0]!.value[1], '0', 'exported at 0 before any restart')
    fail = true
    const body = await until(
      () => query(api, 'sum(increase(steward_restarts_total{path="shop/worker"}[1m]))'),
      (b) => b.data.result.length === 1 && Number(b.data.result[0]!.value[1]) >= 1,
      30_000,
      'increase(steward_restarts_total[1m]) >= 1 after the first restart',
    )
    assert.equal(body.status, 'success')
    assert.equal(run.status().children[0]!.restarts, 1, 'it was the first restart')
    // The alert expression of ops/prometheus/steward-rules.yml would fire on it.
    const alert = await query(api, 'increase(steward_restarts_total[5m]) > 0')
    assert.deepEqual(
      alert.data.result.map((r) => [r.metric.path, r.metric.reason]),
      [['shop/worker', 'failed']],
    )
  } finally {
    await prometheus.close()
    await server.close()
    await run.stop()
  }
})
