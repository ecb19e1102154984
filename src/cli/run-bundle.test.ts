import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { builtBin } from '../testing/cli.js'

// `steward run` requires its bundle (dist/run/run-main.cjs, made by the build) and no compiled
// module of the package beside bin.js: the supervisor's resident memory depends on it (bench:
// cli.run_rss_mb).

const logModules = fileURLToPath(new URL('../../test/fixtures/log-modules.mjs', import.meta.url))
const dist = pathToFileURL(join(builtBin, '../..')).href + '/'

test('steward run loads bin.js and its bundle, no other module of the package', { timeout: 30_000 }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'steward-run-bundle-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const log = join(dir, 'modules')
  const cli = spawn(process.execPath, ['--import', logModules, builtBin, 'run', '--json', '--restart', 'temporary', '--', process.execPath, '-e', ''], {
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
  assert.ok(existsSync(log), 'the hook logged the modules')
  const ours = [...new Set(readFileSync(log, 'utf8').split('\n'))].filter((url) => url.startsWith(dist)).map((url) => url.slice(dist.length))
  assert.deepEqual(ours.sort(), ['cli/bin.js', 'run/run-main.cjs'], 'bin.js and the bundle, nothing else')
})
