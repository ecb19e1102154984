// Runs every *.test.ts under src/ (and test/) with Node's test runner, TypeScript loaded by tsx.
// Thread wards run their worker side from dist/ (a worker does not get tsx's loader on Node 20),
// so a build older than the sources is rebuilt first: the tests never run stale code.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync, existsSync } from 'node:fs'
import { join } from 'node:path'

function find(dir, out, accept) {
  if (!existsSync(dir)) return out
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) find(path, out, accept)
    else if (accept(name, path)) out.push(path)
  }
  return out
}

const sources = find('src', [], (name, path) => name.endsWith('.ts') && !name.endsWith('.test.ts') && !path.startsWith(join('src', 'testing')))
const newestSource = Math.max(...sources.map((path) => statSync(path).mtimeMs))
const built = join('dist', 'isolation', 'thread-runner.js')
if (!existsSync(built) || statSync(built).mtimeMs < newestSource) {
  console.error('run-tests: dist/ is older than src/; building first')
  const build = spawnSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' })
  if (build.status !== 0) process.exit(build.status ?? 1)
}

const filter = process.argv.slice(2)
let files = [...find('src', [], (name) => name.endsWith('.test.ts')), ...find('test', [], (name) => name.endsWith('.test.ts'))].sort()
if (filter.length > 0) files = files.filter((file) => filter.some((f) => file.includes(f)))
if (files.length === 0) {
  console.error('run-tests: no test files found')
  process.exit(1)
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], { stdio: 'inherit' })
process.exit(result.status ?? 1)
