import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { assertJsonLines, dead, isEvent, startCli } from '../testing/cli.js'

// `steward run` with what processWard gives it: process groups and the memory watchdog.

const child = fileURLToPath(new URL('../../test/fixtures/child.mjs', import.meta.url))
const linuxOnly = { skip: process.platform === 'linux' ? false : 'reads /proc' }

test('run: a child whose grandchildren ignore SIGTERM — after SIGTERM to steward (143), no process of its group is left', { timeout: 30_000, ...linuxOnly }, async (t) => {
  const cli = startCli(['run', '--json', '--probe', 'ipc', '--kill-after', '300ms', '--', process.execPath, child, 'tree', '2', 'deaf'])
  t.after(() => cli.kill())
  const grandchildren = (): number[] =>
    cli.lines.flatMap((line) => {
      const match = line.json?.type === 'line' ? /^grandchild (\d+)$/.exec(String(line.json.line)) : null
      return match === null ? [] : [Number(match[1])]
    })
  await cli.waitFor('four grandchildren', () => grandchildren().length === 4)
  assert.ok(grandchildren().every((pid) => !dead(pid)), 'they run before the stop')
  cli.process.kill('SIGTERM')
  const { code } = await cli.exited
  assert.equal(code, 143)
  assert.deepEqual(
    grandchildren().filter((pid) => !dead(pid)),
    [],
    'no grandchild outlives steward run',
  )
  const report = cli.events().find((event) => event.type === 'stop-report')
  assert.equal((report?.killed as string[] | undefined)?.length, 1, 'the group needed SIGKILL, and the report says so')
  assertJsonLines(cli)
})

test('run --max-memory: a child that grows past the limit is restarted with reason memory', { timeout: 30_000, ...linuxOnly }, async (t) => {
  // The first child grows by 20 MB every 50 ms; the second beats three times and exits 0.
  const cli = startCli(['run', '--json', '--probe', 'ipc', '--timeout', '10s', '--restart', 'transient', '--max-memory', '200M', '--', process.execPath, child, 'hog'])
  t.after(() => cli.kill())
  const failed = await cli.waitFor('the failure', isEvent('failed'))
  assert.equal(failed.json!.reason, 'memory')
  await cli.waitFor('the restart', isEvent('restarting', { reason: 'memory' }))
  const { code } = await cli.exited
  assert.equal(code, 0, "the second child's exit code")
  assert.ok(cli.events().some((event) => event.type === 'completed'))
  assertJsonLines(cli)
})
