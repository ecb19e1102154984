// Runs every *.test.ts under src/ (and test/) with Node's test runner, TypeScript loaded by tsx.
import { spawnSync } from 'node:child_process'
import { readdirSync, statSync, existsSync } from 'node:fs'
import { join } from 'node:path'

function find(dir, out) {
  if (!existsSync(dir)) return out
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) find(path, out)
    else if (name.endsWith('.test.ts')) out.push(path)
  }
  return out
}

const filter = process.argv.slice(2)
let files = [...find('src', []), ...find('test', [])].sort()
if (filter.length > 0) files = files.filter((file) => filter.some((f) => file.includes(f)))
if (files.length === 0) {
  console.error('run-tests: no test files found')
  process.exit(1)
}
const result = spawnSync(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', ...files], { stdio: 'inherit' })
process.exit(result.status ?? 1)
