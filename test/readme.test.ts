// Every public name is documented: each export of src/index.ts appears in the README.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'

test('the README names every export of the package', () => {
  const index = readFileSync(new URL('../src/index.ts', import.meta.url), 'utf8')
  const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8')
  const names = [...index.matchAll(/export (?:type )?\{([^}]*)\}/g)].flatMap((match) =>
    match[1]!
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name !== ''),
  )
  assert.ok(names.length > 50, `found ${names.length} exports`)
  const missing = names.filter((name) => !new RegExp(`\\b${name}\\b`).test(readme))
  assert.deepEqual(missing, [])
})
