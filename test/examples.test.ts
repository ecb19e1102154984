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

/** Runs a user's node:test file as a user would; the runner's own context is not passed on. */
async function userTests(file: string): Promise<string[]> {
  const env = { ...process.env }
  delete env.NODE_TEST_CONTEXT
  const { stdout } = await run(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=tap', file], { timeout: 60_000, env })
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
  // The stop ended the wait for the next message at once ('unstopped: 0'), and its signal cancelled
  // the queue's own wait (nothing left waiting on it).
  assert.deepEqual(await example('examples/queue-consumer.ts'), [
    "attempt 1: handled 'hello'",
    "attempt 1: stuck on 'poison'",
    "steward: 'consumer' hung; restarting",
    "attempt 2: handled 'world'",
    'outcome: stopped',
    'unstopped: 0',
    'left waiting on the queue: 0',
  ])
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

test('examples/thread-warm-spare.ts: a frozen worker is terminated and its work resumed on the warm spare', async () => {
  assert.deepEqual(await example('examples/thread-warm-spare.ts'), [
    'job 0 = 0 (attempt 1)',
    'job 1 = 1 (attempt 1)',
    'job 2 = 4 (attempt 1)',
    'attempt 1 hung (no beat for 1000 ms); restarting',
    'job 3 = 9 (attempt 2, on a worker loaded before the hang was seen: true)',
    'job 4 = 16 (attempt 2, on a worker loaded before the hang was seen: true)',
    'job 5 = 25 (attempt 2, on a worker loaded before the hang was seen: true)',
    'outcome: completed after 1 restart(s)',
  ])
})

test('examples/process-ipc.ts: a child that stops beating over IPC is killed and replaced, resuming after the last line', async () => {
  assert.deepEqual(await example('examples/process-ipc.ts'), [
    'alpha from process attempt 1',
    'bravo from process attempt 1',
    'charlie from process attempt 1',
    'attempt 1 stopped beating; killing it',
    'delta from process attempt 2',
    'echo from process attempt 2',
    'outcome: completed after 1 restart(s)',
  ])
})

test('examples/backoff-jitter.ts: exponential delays, jittered by the injected random source, capped at 1 s', async () => {
  assert.deepEqual(await example('examples/backoff-jitter.ts'), [
    '0 ms: attempt 1',
    '  restart 1 in 100 ms',
    '100 ms: attempt 2',
    '  restart 2 in 100 ms',
    '200 ms: attempt 3',
    '  restart 3 in 600 ms',
    '800 ms: attempt 4',
    '  restart 4 in 600 ms',
    '1400 ms: attempt 5',
    '  restart 5 in 1000 ms',
    '2400 ms: attempt 6',
    'outcome: completed (connected)',
  ])
})

test('examples/deadlines.ts: a livelock is stalled at progressTimeout; an idle wait is healthy until idleTimeout', async () => {
  assert.deepEqual(await example('examples/deadlines.ts'), [
    '800 ms: spinner attempt 1 stalled at 3',
    '800 ms: spinner restarting (stalled)',
    '1100 ms: spinner done on attempt 2',
    '5100 ms: consumer still waiting after 4000 ms: idle',
    '6100 ms: consumer attempt 1 idle for 5000 ms',
    '6100 ms: consumer restarting (idle)',
    '11100 ms: consumer attempt 2 idle for 5000 ms',
    '11100 ms: consumer outcome: gave-up',
  ])
})

test('examples/sentinels.ts: DoNotRestart drops one ward, TerminateTree stops the whole tree', async () => {
  assert.deepEqual(await example('examples/sentinels.ts'), [
    'loader attempt 1',
    'loader outcome: stopped, restarts 0, reason: DoNotRestart: config.yaml: missing "queue"',
    '0 ms: poller gives up for good',
    '0 ms: server up',
    '500 ms: children: server, license',
    '1000 ms: license expired',
    '1000 ms: server stopped',
    'app outcome: stopped, reason: TerminateTree: license expired',
  ])
})

test("examples/poller.test.ts: a user's own ward tested with ManualClock and node:test passes", async () => {
  const lines = await userTests('examples/poller.test.ts')
  assert.ok(lines.includes('# tests 3'), lines.join('\n'))
  assert.ok(lines.includes('# pass 3'), lines.join('\n'))
  assert.ok(lines.includes('# fail 0'), lines.join('\n'))
})

test("the README's quick start is examples/quick-start.ts", () => {
  const readme = readFileSync('README.md', 'utf8')
  const block = /<!-- quick-start -->\n```ts\n([\s\S]*?)```/.exec(readme)
  assert.ok(block, 'README has a quick-start block')
  const code = readFileSync('examples/quick-start.ts', 'utf8')
  assert.equal(block[1], code.slice(code.indexOf('import')))
})

test('examples/cluster.ts: three nodes share 12 wards; the wards of the node killed with SIGKILL move to the others with their resume points', { timeout: 90_000 }, async () => {
  const lines = await example('examples/cluster.ts')
  const head = /^12 wards running \(a: (\d+), b: (\d+), c: (\d+)\); killing node ([abc]) with SIGKILL$/.exec(lines[0]!)
  assert.ok(head !== null, lines[0])
  const victim = head[4]!
  const held = Number(head[1 + 'abc'.indexOf(victim)])
  const moves = lines.slice(1, -1)
  assert.equal(moves.length, held, lines.join('\n'))
  for (const line of moves) {
    const move = new RegExp(`^ward-\\d+ moved from ${victim} to ([abc]), resuming at (\\d+)$`).exec(line)
    assert.ok(move !== null && move[1] !== victim && Number(move[2]) > 0, line)
  }
  assert.equal(lines.at(-1), `every ward of ${victim} runs again on the other nodes`)
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
