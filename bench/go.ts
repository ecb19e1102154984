// The seed's own Go code as a peer, when Go is installed: its steward + doWorkFn ward through
// bridge/take (values/s), and the RSS of 10,000 steward/ward pairs.
import { execFile, execFileSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import type { Figures } from './figure.js'

const run = promisify(execFile)

export async function measure(): Promise<Figures> {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore' })
  } catch {
    process.stderr.write('skipped peer.go_seed_pipeline.values_per_s and peer.go_seed_pair.bytes: go is not installed (apt-get install golang-go)\n')
    return {}
  }
  const source = fileURLToPath(new URL('./go/seed.go', import.meta.url))
  const binary = join(mkdtempSync(join(tmpdir(), 'steward-bench-')), 'seed')
  await run('go', ['build', '-o', binary, source], { env: { ...process.env, GO111MODULE: 'off', GOCACHE: join(tmpdir(), 'steward-go-cache') } })
  const { stdout } = await run(binary, [], { timeout: 120_000 })
  const result = JSON.parse(stdout) as { pipelineValuesPerSecond: number; pairBytes: number }
  return {
    'peer.go_seed_pipeline.values_per_s': { value: result.pipelineValuesPerSecond, unit: 'values/s' },
    'peer.go_seed_pair.bytes': { value: result.pairBytes, unit: 'bytes' },
  }
}
