import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { builtBin } from '../testing/cli.js'

// `steward run` requires its bundle (dist/run/run-main.cjs, made by the build) and no compiled
// module of the package beside bin.cjs: the supervisor's resident memory depends on it (bench:
// cli.run_rss_mb).

const logModules = fileURLToPath(new URL('../../test/fixtures/log-modules.mjs', import.meta.url))
const dist = pathToFileURL(join(builtBin, '../..')).href + '/'

test('steward run loads bin.cjs and its bundle, no other module of the package', { timeout: 30_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'steward-run-bundle-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const log = join(dir, 'modules')
  const cli = spawn(process.execPath, ['--import', logModules, builtBin, 'run', '--json', '--restart', 'temporary', '--', process.execPath, '-e', 'setTimeout(() => {}, 300)'], {
    env: { ...process.env, STEWARD_TEST_MODULE_LOG: log },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  t.after(() => cli.kill('SIGKILL'))
  let stdout = ''
  let stderr = ''
  cli.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  cli.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const code = await new Promise<number | null>((resolve) => cli.once('close', resolve))
  assert.equal(code, 0, `steward run ended: ${stdout}${stderr}`)
  assert.match(stdout, /"type":"completed"/, 'the child ran under it')
  // The bundle's clock stands in for Node's performance (scripts/bundle-run.mjs): milliseconds since
  // the process started, never going back.
  const events = stdout.trim().split('\n').map((line) => JSON.parse(line) as { type: string; at: number })
  const at = events.map((event) => event.at)
  assert.ok(at.every((t, i) => Number.isFinite(t) && t > 0 && t < 30_000 && (i === 0 || t >= at[i - 1]!)), `event times in ms since the start: ${at.join(', ')}`)
  const ran = events.find((event) => event.type === 'completed')!.at - events.find((event) => event.type === 'started')!.at
  assert.ok(ran >= 250, `the child's 300 ms, on the bundle's clock: ${ran} ms`)
  assert.ok(existsSync(log), 'the hook logged the modules')
  const ours = [...new Set(readFileSync(log, 'utf8').split('\n'))].filter((url) => url.startsWith(dist)).map((url) => url.slice(dist.length))
  assert.deepEqual(ours.sort(), ['cli/bin.cjs', 'run/run-main.cjs'], 'bin.cjs and the bundle, nothing else')
})
