import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import type { StewardEvent } from '../observe/events.js'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import { WardStartError } from '../steward/errors.js'
import { steward } from '../steward/steward.js'
import { supervisor } from '../tree/supervisor.js'
import { liveChildren, processWard } from './process-ward.js'
import { liveWorkers, threadWard } from './thread-ward.js'
import { waitFor } from '../testing/wait.js'

// Permanent start errors of thread and process wards: a command that cannot be executed, a module
// that cannot be loaded or lacks its export. The run ends at once with a WardStartError (0 restarts
// of the default 5), and nothing is left behind; a spawn error is never reported as spawned.

const dir = mkdtempSync(join(tmpdir(), 'steward-start-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const fixtures = new URL('../../test/fixtures/thread-wards.mjs', import.meta.url)

/** Starts `ward` under a steward with the default restart limit and returns its outcome and event types. */
async function runOnce(ward: Parameters<typeof steward>[0], name = 'w') {
  const events: StewardEvent[] = []
  const { result: outcome, leaks } = await checkLeaks(() => steward(ward, { name, startTimeout: '10s' }).start({ onEvent: (event) => events.push(event) }).done)
  assert.deepEqual(leaks, noLeaks)
  return { outcome, events, types: events.map((event) => (event.type === 'failed' ? `failed ${event.reason}` : event.type)) }
}

function startError(outcome: Awaited<ReturnType<typeof runOnce>>['outcome']): WardStartError {
  assert.ok(outcome.kind === 'gave-up', JSON.stringify(outcome))
  assert.equal(outcome.restarts, 0)
  assert.equal(outcome.error.reason, 'start')
  assert.ok(outcome.error.cause instanceof WardStartError, String(outcome.error.cause))
  return outcome.error.cause
}

test('processWard: a command not found (ENOENT) ends the run at once, with no restart and no spawned event', { timeout: 30_000 }, async () => {
  const { outcome, types } = await runOnce(processWard('steward-test-no-such-command', ['--port', '1']), 'api')
  assert.deepEqual(types, ['started', 'failed start', 'gave-up'])
  const error = startError(outcome)
  assert.equal(error.command, 'steward-test-no-such-command')
  assert.equal(error.ward, 'api')
  assert.equal((error.cause as NodeJS.ErrnoException).code, 'ENOENT')
  assert.equal(error.message, "ward 'api': cannot start command 'steward-test-no-such-command': not found (ENOENT)")
  assert.equal(liveChildren.size, 0)
})

test('processWard: a file that is not executable (EACCES), and a working directory that does not exist, are start errors too', { timeout: 30_000 }, async () => {
  const script = join(dir, 'not-executable.sh')
  writeFileSync(script, '#!/bin/sh\necho hello\n')
  chmodSync(script, 0o644)
  const denied = startError((await runOnce(processWard(script))).outcome)
  assert.equal((denied.cause as NodeJS.ErrnoException).code, 'EACCES')
  assert.match(denied.message, /cannot start command '.*not-executable\.sh': permission denied \(EACCES\)$/)
  const nowhere = startError((await runOnce(processWard('sh', ['-c', 'true'], { cwd: join(dir, 'missing') }))).outcome)
  assert.match(nowhere.message, /cannot start command 'sh': its working directory .*missing does not exist \(ENOENT\)$/)
  assert.equal(liveChildren.size, 0)
})

test('processWard: shouldRestart returning true still retries a start error, within the limit', { timeout: 30_000 }, async () => {
  const events: string[] = []
  const outcome = await steward(processWard('steward-test-no-such-command'), { maxRestarts: 2, shouldRestart: () => true }).start({ onEvent: (event) => events.push(event.type) }).done
  assert.ok(outcome.kind === 'gave-up' && outcome.error.reason === 'limit' && outcome.restarts === 2)
  assert.equal(events.filter((type) => type === 'restarting').length, 2)
})

test('threadWard: a module that does not exist, does not parse, cannot be loaded as a file type, or lacks the export: a start error, no worker left', { timeout: 60_000 }, async () => {
  const syntax = join(dir, 'syntax.mjs')
  writeFileSync(syntax, 'export default async function (ctx) { ctx.beat( }\n')
  // A file type neither Node nor a loader of the test runner's (tsx, whose hooks reach workers
  // on Node 22 and later, so a .ts file would load) knows.
  const unknownType = join(dir, 'ward.coffee')
  writeFileSync(unknownType, 'export default -> 1\n')
  const missing = pathToFileURL(join(dir, 'missing.mjs'))
  const cases: Array<[string, URL | string, string, RegExp]> = [
    ['missing', missing, 'default', /ERR_MODULE_NOT_FOUND/],
    ['syntax', syntax, 'default', /SyntaxError|Unexpected token|missing \) after argument list/],
    ['file type', unknownType, 'default', /ERR_UNKNOWN_FILE_EXTENSION/],
    ['no export', fixtures, 'nope', /no function export 'nope' \(its function exports: .*cpuHang/],
  ]
  for (const [what, module, exportName, reason] of cases) {
    const { outcome, types, events } = await runOnce(threadWard(module, { export: exportName, stream: false }))
    assert.deepEqual(types, ['started', 'failed start', 'gave-up'], what)
    assert.ok(!events.some((event) => event.type === 'spawned'), `${what}: never reported spawned`)
    const error = startError(outcome)
    assert.equal(error.module, typeof module === 'string' ? pathToFileURL(module).href : module.href, what)
    assert.match(error.message, reason, what)
    assert.match(error.message, /^ward 'w': cannot start module file:/, what)
  }
  assert.equal(liveWorkers.size, 0)
})

test('threadWard: a worker that loaded its module is reported spawned with its threadId; a failure of the ward itself is no start error', { timeout: 30_000 }, async () => {
  const { outcome, events } = await runOnce(threadWard(fixtures, { export: 'rejects', stream: false }))
  const spawned = events.filter((event) => event.type === 'spawned')
  assert.ok(spawned.length >= 2, 'each incarnation reports its worker')
  assert.ok(spawned.every((event) => event.type === 'spawned' && Number.isInteger(event.threadId) && event.pid === undefined))
  assert.ok(events.some((event) => event.type === 'restarting' && event.reason === 'failed'))
  assert.ok(outcome.kind !== 'gave-up' || outcome.error.reason !== 'start')
})

test('in a supervisor, a process child that cannot start is kept in status with its failure; its sibling runs on', { timeout: 30_000 }, async () => {
  const tree = supervisor({ name: 'app' }, [
    { name: 'typo', ward: processWard('steward-test-no-such-command') },
    { name: 'sleeper', ward: processWard('sleep', ['60']), startTimeout: '10s' },
  ]).start()
  await waitFor('the child to give up', () => tree.status().children[0]?.state === 'gave-up', 20_000, 10)
  const status = tree.status()
  assert.deepEqual(
    status.children.map((child) => child.state),
    ['gave-up', 'idle'],
  )
  assert.equal(status.children[0]!.lastFailure?.name, 'WardStartError')
  assert.equal(status.state, 'working')
  await tree.stop()
  assert.equal(liveChildren.size, 0)
})
