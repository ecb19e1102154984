// `instances: N` in a `steward up` config: the copies NAME:0 … NAME:N-1 as children of the tree,
// `{instance}` filled in; a reload that changes the app replaces its copies one at a time, each once
// the one before is up; a changed count adds or removes copies. Real `sh` children.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { StewardEvent } from '../observe/events.js'
import { liveChildren } from '../isolation/process-ward.js'
import { waitFor } from '../testing/wait.js'
import { buildConfig } from './config.js'
import { applyReload, ReloadStopped } from './reload.js'
import { UsageError } from './flags.js'
import { rollingRestart, RolloutStopped } from './up-control.js'

const dir = mkdtempSync(join(tmpdir(), 'steward-instances-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const file = join(dir, 'steward.config.json')

/** A copy that says who it is, then sleeps; `up` after `delay` seconds (its first stdout line is its beat). */
function web(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'web', command: 'sh', args: ['-c', 'echo "$1 $X $(basename "$PWD") $STEWARD_INSTANCE"; exec sleep 1000', 'sh', 'arg{instance}'], env: { X: 'x{instance}' }, cwd: 'd{instance}', ...extra }
}

test('instances: validated naming the app; copies NAME:0…N-1 in the groups; a copy name taken by another child is refused', () => {
  for (const bad of [0, 1.5, '2', -1, null]) {
    assert.throws(
      () => buildConfig({ children: [web({ instances: bad })] }, file),
      (error: Error) => error instanceof UsageError && /child 'web': key 'instances' must be an integer of at least 1 \(how many copies of the app run\), got/.test(error.message),
      String(bad),
    )
  }
  assert.throws(() => buildConfig({ children: [web({ instance: 2 })] }, file), /child 'web': unknown key 'instance'; did you mean 'instances'\?/)
  assert.throws(() => buildConfig({ children: [{ name: 'web:1', command: 'true' }, web({ instances: 2 })] }, file), /child 'web': key 'instances' makes a copy named 'web:1', and another child has that name/)
  assert.throws(() => buildConfig({ children: [web({ instances: 2 }), { name: 'web:1', command: 'true' }] }, file), /child 'web:1': key 'name' is not unique/)
  const config = buildConfig({ children: [web({ instances: 3 }), { name: 'db', command: 'true' }] }, file)
  assert.deepEqual([...config.groups], [['web', ['web:0', 'web:1', 'web:2']]])
  assert.deepEqual([...config.specs.keys()], ['web:0', 'web:1', 'web:2', 'db'])
  assert.deepEqual(config.children.map((child) => child.name), ['web:0', 'web:1', 'web:2', 'db'])
  // One copy with the key is still a copy; without it, the app is its own name.
  assert.deepEqual([...buildConfig({ children: [web({ instances: 1 })] }, file).specs.keys()], ['web:0'])
  assert.deepEqual([...buildConfig({ children: [web()] }, file).groups], [])
})

test('each copy gets {instance} in args, env and cwd, and STEWARD_INSTANCE; without instances the text is left as it is', { timeout: 30_000 }, async () => {
  for (const index of [0, 1, 2]) mkdirSync(join(dir, `d${index}`), { recursive: true })
  mkdirSync(join(dir, 'd{instance}'), { recursive: true })
  const said = new Map<string, string>()
  const onEvent = (event: StewardEvent): void => {
    if (event.type === 'line') said.set(event.path, event.line)
  }
  const run = buildConfig({ children: [web({ instances: 3, heartbeat: 'stdout' }), { ...web(), name: 'plain' }] }, file).tree.start({ onEvent })
  try {
    await waitFor('a line from each child', () => said.size === 4, 20_000)
    assert.deepEqual(Object.fromEntries(said), {
      'steward/web:0': 'arg0 x0 d0 0',
      'steward/web:1': 'arg1 x1 d1 1',
      'steward/web:2': 'arg2 x2 d2 2',
      'steward/plain': 'arg{instance} x{instance} d{instance} ',
    })
  } finally {
    await run.stop()
  }
  assert.equal(liveChildren.size, 0)
})

/** `sh` copies of `web`: each prints `up` after `delay` s (its first line: `heartbeat: 'stdout'` makes it the beat), then sleeps. */
function slowWeb(instances: number, delay: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name: 'web', command: 'sh', args: ['-c', `sleep ${delay}; echo up; exec sleep 1000`], heartbeat: 'stdout', timeout: '30s', instances, ...extra }
}

/** Records, per path, the order of `restarting` events and of `up` lines (a copy serving), with the pid that said it. */
function timeline(): { log: string[]; onEvent: (event: StewardEvent) => void } {
  const log: string[] = []
  return {
    log,
    onEvent: (event) => {
      if (event.type === 'restarting') log.push(`restarting ${event.path}`)
      else if (event.type === 'line' && event.line === 'up') log.push(`up ${event.path}`)
      else if (event.type === 'started') log.push(`started ${event.path}`)
    },
  }
}

test('a reload that changes an app with instances replaces its copies one at a time, each once the one before is up; a changed count adds or removes copies', { timeout: 60_000 }, async () => {
  const before = buildConfig({ children: [slowWeb(3, '0.2')] }, file)
  const { log, onEvent } = timeline()
  const run = before.tree.start({ onEvent })
  try {
    await waitFor('three copies up', () => run.status().children.every((child) => child.up), 20_000)
    log.length = 0
    // The args changed: each copy is replaced, the next only once the one before said 'up'.
    const changed = buildConfig({ children: [slowWeb(3, '0.3')] }, file)
    const result = await applyReload(run, before, changed)
    assert.deepEqual(result, { started: [], stopped: [], restarted: ['web:0', 'web:1', 'web:2'], unchanged: [] })
    assert.deepEqual(
      log.filter((entry) => !entry.startsWith('restarting')),
      ['started steward/web:0', 'up steward/web:0', 'started steward/web:1', 'up steward/web:1', 'started steward/web:2', 'up steward/web:2'],
      log.join('\n'),
    )
    // Only the count changed: web:0 and web:1 are left alone, web:2 stopped; then two more.
    log.length = 0
    const fewer = buildConfig({ children: [slowWeb(2, '0.3')] }, file)
    assert.deepEqual(await applyReload(run, changed, fewer), { started: [], stopped: ['web:2'], restarted: [], unchanged: ['web:0', 'web:1'] })
    const more = buildConfig({ children: [slowWeb(4, '0.3')] }, file)
    assert.deepEqual(await applyReload(run, fewer, more), { started: ['web:2', 'web:3'], stopped: [], restarted: [], unchanged: ['web:0', 'web:1'] })
    assert.deepEqual(run.status().children.map((child) => child.name), ['web:0', 'web:1', 'web:2', 'web:3'])
    assert.deepEqual(log, ['started steward/web:2', 'started steward/web:3'])
  } finally {
    await run.stop()
  }
  assert.equal(liveChildren.size, 0)
})

test('a rolling restart (steward restart NAME) and a reload stop at a copy that does not come up, naming it, what was done and what was left', { timeout: 60_000 }, async () => {
  // Copies come up at once (their first line is their beat).
  const marker = join(dir, 'broken')
  const flaky = (instances: number, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    name: 'web',
    command: 'sh',
    // Silent (never up): a restart of copy 1 while the marker exists, or the copy named by BROKEN.
    args: ['-c', `if { [ "$STEWARD_ATTEMPT" != 1 ] && [ -e '${marker}' ] && [ "$STEWARD_INSTANCE" = 1 ]; } || [ "$BROKEN" = "$STEWARD_INSTANCE" ]; then exec sleep 1000; fi; echo up; exec sleep 1000`],
    heartbeat: 'stdout',
    timeout: '30s',
    startTimeout: '1500ms',
    instances,
    ...extra,
  })
  const before = buildConfig({ children: [flaky(3)] }, file)
  const { log, onEvent } = timeline()
  const run = before.tree.start({ onEvent })
  try {
    await waitFor('three copies up', () => run.status().children.every((child) => child.up), 20_000)
    mkdirSync(marker)
    log.length = 0
    const began = performance.now()
    await assert.rejects(rollingRestart(run, 'web', ['web:0', 'web:1', 'web:2']), (error: Error) => {
      assert.ok(error instanceof RolloutStopped)
      assert.match(error.message, /^the rolling restart of 'web' stopped at 'web:1': did not come up: it failed \(hung\): .*1500 ms.*; restarted before it: web:0; not restarted: web:2$/)
      return true
    })
    // Its start deadline (startTimeout) is the rollout's: not sooner.
    assert.ok(performance.now() - began >= 1_500)
    assert.ok(!log.includes('restarting steward/web:2'), log.join('\n'))
    log.length = 0
    // A reload that changes the app stops at the same copy; the next reload compares with what runs.
    const changed = buildConfig({ children: [flaky(3, { env: { BROKEN: '1' } })] }, file)
    await assert.rejects(applyReload(run, before, changed), (error: Error) => {
      assert.ok(error instanceof ReloadStopped)
      assert.match(error.message, /^steward\.config\.json: 'web:1' was replaced and did not come up: .*; the reload stopped there: restarted web:0 before it; not applied: web:2$/)
      assert.deepEqual([...error.entries.keys()], ['web:0', 'web:1', 'web:2'])
      assert.equal(error.entries.get('web:2'), before.entries.get('web:2'))
      assert.equal(error.entries.get('web:1'), changed.entries.get('web:1'))
      return true
    })
    assert.ok(!log.includes('restarting steward/web:2'), log.join('\n'))
  } finally {
    rmSync(marker, { recursive: true, force: true })
    await run.stop()
  }
  assert.equal(liveChildren.size, 0)
})
