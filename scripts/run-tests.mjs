// Runs every *.test.ts under src/ (and test/) with Node's test runner, TypeScript loaded by tsx, two
// files at a time (one per core: the default on 2 cores is one, and the suite waits mostly on real
// processes and servers).
// Thread wards run their worker side from dist/ (a worker does not get tsx's loader on Node 20),
// so a build made from other sources than the ones here is rebuilt first: the tests never run
// stale code. The sources are compared by content (a restored file may keep an old mtime).
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { builtFromSources } from './source-hash.mjs'

function find(dir, out, accept) {
  if (!existsSync(dir)) return out
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) find(path, out, accept)
    else if (accept(name)) out.push(path)
  }
  return out
}

if (!builtFromSources()) {
  console.error('run-tests: dist/ was not built from these sources; building first')
  const build = spawnSync('npm', ['run', 'build'], { stdio: 'inherit' })
  if (build.status !== 0) process.exit(build.status ?? 1)
}

// Test files whose subject does not change with the Node version: the browser page (Chromium),
// Prometheus and its rules, the package as npm packs and installs it, the declarations and types
// as tsc reads them, the README. `--node-dependent` leaves them out: CI runs them once, on the
// machine's Node, and everything else again on Node 22 and 24 (the whole suite three times took
// 15 minutes on a busy 2-core machine).
const versionIndependent = [
  'test/dashboard.test.ts',
  'test/dashboard-operate.test.ts',
  'test/ops.test.ts',
  'test/prometheus.test.ts',
  'test/pack.test.ts',
  'test/install.test.ts',
  'test/declarations.test.ts',
  'test/types.test.ts',
  'test/readme.test.ts',
  'test/doc-tables.test.ts',
]
const args = process.argv.slice(2)
const nodeDependent = args.includes('--node-dependent')
const filter = args.filter((arg) => arg !== '--node-dependent')
let files = [...find('src', [], (name) => name.endsWith('.test.ts')), ...find('test', [], (name) => name.endsWith('.test.ts'))].sort()
if (filter.length > 0) files = files.filter((file) => filter.some((f) => file.includes(f)))
if (nodeDependent) {
  const missing = versionIndependent.filter((file) => !existsSync(file))
  if (missing.length > 0) {
    console.error(`run-tests: --node-dependent names test files that do not exist: ${missing.join(', ')}`)
    process.exit(1)
  }
  files = files.filter((file) => !versionIndependent.includes(file.split('\\').join('/')))
  console.error(`run-tests: ${versionIndependent.length} files that do not depend on Node's version left out (they run on the machine's Node)`)
}
if (files.length === 0) {
  console.error('run-tests: no test files found')
  process.exit(1)
}
// Every move of a run's state is checked against its table (src/steward/run-states.ts): a wrong one throws.
const env = { ...process.env, STEWARD_CHECK_STATES: '1' }
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files], { stdio: 'inherit', env })
process.exit(result.status ?? 1)
