// The examples in examples/ and the README's quick start must run as written.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'

const run = promisify(execFile)

async function example(file: string, ...args: string[]): Promise<string[]> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', file, ...args], { timeout: 60_000 })
  return stdout.trimEnd().split('\n')
}

test('examples/quick-start.ts resumes after the results already received', async () => {
  assert.deepEqual(await example('examples/quick-start.ts'), [
    'fetch done',
    'parse done',
    '  (restart 1: failed)',
    '  (restart 2: failed)',
    'index done',
    'store done',
    'notify done',
    'outcome: completed after 2 restarts',
  ])
})

test('examples/queue-consumer.ts waits for input, is healed once and stopped by its caller at once', async () => {
  const started = performance.now()
  assert.deepEqual(await example('examples/queue-consumer.ts'), [
    "attempt 1: handled 'hello'",
    "attempt 1: stuck on 'poison'",
    "steward: 'consumer' hung; restarting",
    "attempt 2: handled 'world'",
    'outcome: stopped',
    'unstopped: 0',
  ])
  // The caller aborts at 600 ms; a wait nobody cancelled would hold the stop for stopTimeout (5 s).
  const elapsed = performance.now() - started
  assert.ok(elapsed < 5_000, `took ${Math.round(elapsed)} ms`)
})

test('examples/walk-poison.ts delivers every good result once and dead-letters the poison input', async () => {
  assert.deepEqual(await example('examples/walk-poison.ts'), [
    'shipped #1',
    'shipped #2',
    'checkpoint: 2',
    'dead letter at 2: #3 (corrupt) (cannot parse #3 (corrupt))',
    'shipped #4',
    'shipped #5',
  ])
})

test('examples/tree.ts heals a rest-for-one tree: the connection drops, then the writer', async () => {
  assert.deepEqual(await example('examples/tree.ts'), [
    '0 ms: connection 1 up',
    '0 ms: reader on connection 1',
    '0 ms: writer on connection 1',
    '100 ms: client/connection failed: connection reset by peer',
    '100 ms: connection 2 up',
    '100 ms: reader on connection 2',
    '100 ms: writer on connection 2',
    '150 ms: client/writer failed: write failed',
    '150 ms: writer on connection 2',
    '[["connection","idle"],["reader","idle"],["writer","idle"]]',
    '1000 ms: connection 2 closed',
    'stopped; unstopped: []',
  ])
})

test('examples/seed-scenarios.ts prints the seed timelines', async () => {
  const lines = await example('examples/seed-scenarios.ts', '--virtual')
  assert.ok(lines.includes('   9.000s  steward: stopped'))
  assert.ok(lines.includes('   1.000s  ward: skipping -1, it failed here before (dead letter)'))
})

test("the README's quick start is examples/quick-start.ts", () => {
  const readme = readFileSync('README.md', 'utf8')
  const block = /<!-- quick-start -->\n```ts\n([\s\S]*?)```/.exec(readme)
  assert.ok(block, 'README has a quick-start block')
  const code = readFileSync('examples/quick-start.ts', 'utf8')
  assert.equal(block[1], code.slice(code.indexOf('import')))
})

test('examples/otel-metrics.ts turns the diagnostics_channel events into OpenTelemetry metrics', async () => {
  const lines = await example('examples/otel-metrics.ts')
  assert.equal(lines.length, 5, lines.join('\n'))
  assert.deepEqual(lines.slice(0, 2), [
    'steward.restarts 1 {"steward.path":"importer","steward.reason":"failed"}',
    'steward.restarts 1 {"steward.path":"importer","steward.reason":"failed"}',
  ])
  assert.match(lines[2]!, /^steward\.hang\.lateness \d+(\.\d+)? \{"steward\.path":"importer"\}$/)
  assert.deepEqual(lines.slice(3), ['steward.restarts 1 {"steward.path":"importer","steward.reason":"hung"}', 'outcome: completed after 3 restarts'])
})
