// The published declarations carry the public API only: internal classes are stripped.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const dist = fileURLToPath(new URL('../dist', import.meta.url))

function declarations(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? declarations(join(dir, entry.name)) : entry.name.endsWith('.d.ts') ? [join(dir, entry.name)] : [],
  )
}

test('the .d.ts files publish no internal class (npm test builds first)', () => {
  const files = declarations(dist)
  assert.ok(files.length > 10, 'dist/ has declarations')
  const internal = ['StewardRun', 'Incarnation', 'SupervisorTree', 'RunLifecycle', 'OutputStream', 'Watchdog', 'RestartLog', 'RunLinks', 'Mailbox']
  for (const file of files) {
    const text = readFileSync(file, 'utf8')
    for (const name of internal) assert.doesNotMatch(text, new RegExp(`\\b(class|interface) ${name}\\b`), `${name} in ${file}`)
  }
})
