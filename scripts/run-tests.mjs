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

const filter = process.argv.slice(2)
let files = [...find('src', [], (name) => name.endsWith('.test.ts')), ...find('test', [], (name) => name.endsWith('.test.ts'))].sort()
if (filter.length > 0) files = files.filter((file) => filter.some((f) => file.includes(f)))
if (files.length === 0) {
  console.error('run-tests: no test files found')
  process.exit(1)
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-concurrency=2', '--test-reporter=spec', ...files], { stdio: 'inherit' })
process.exit(result.status ?? 1)
