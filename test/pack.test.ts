// The package ships the dashboard's plain files (copied into dist/ by the build) and resolves the
// steward/metrics and steward/http subpath exports.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'

const run = promisify(execFile)

test('npm pack includes the dashboard, and the subpath exports resolve from the build', async () => {
  const { stdout } = await run('npm', ['pack', '--dry-run', '--json', '--loglevel=silent'], { timeout: 60_000 })
  const [pack] = JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>
  const files = new Set(pack!.files.map((file) => file.path))
  for (const path of ['dist/http/dashboard/index.html', 'dist/http/dashboard/dashboard.js', 'dist/http/dashboard/dashboard.css', 'dist/http/index.js', 'dist/observe/metrics.js']) {
    assert.ok(files.has(path), `${path} is in the package`)
  }
  const http = (await import('steward/http')) as Record<string, unknown>
  const metrics = (await import('steward/metrics')) as Record<string, unknown>
  assert.equal(typeof http.stewardHttp, 'function')
  assert.equal(typeof http.serveHttp, 'function')
  assert.equal(typeof metrics.stewardMetrics, 'function')
  assert.equal(metrics.metricsContentType, 'text/plain; version=0.0.4; charset=utf-8')
})
