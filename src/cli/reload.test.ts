// A reload applies only the difference between two configs to a running tree: real `sleep`
// children, whose pids (from the `spawned` events) show which were started again.
import { after, test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { StewardEvent } from '../observe/events.js'
import { liveChildren } from '../isolation/process-ward.js'
import { buildConfig } from './config.js'
import { applyReload } from './reload.js'
import { UsageError } from './flags.js'

const dir = mkdtempSync(join(tmpdir(), 'steward-reload-'))
after(() => rmSync(dir, { recursive: true, force: true }))
const file = join(dir, 'steward.config.json')

function sleeper(name: string, seconds: number, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { name, command: 'sleep', args: [String(seconds)], ...extra }
}

async function until(what: string, check: () => boolean, within = 20_000): Promise<void> {
  const deadline = performance.now() + within
  while (!check()) {
    if (performance.now() > deadline) throw new Error(`no ${what} within ${within} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

test('reload: an unchanged app keeps its process, a changed one is replaced in place, a removed one stopped, a new one started', { timeout: 60_000 }, async () => {
  const before = buildConfig({ children: [sleeper('a', 1000), sleeper('b', 1001), sleeper('c', 1002)] }, file)
  // Keys in another order are the same entry; b's args changed; c is gone; d is new.
  const changed = buildConfig({ children: [{ args: ['1000'], command: 'sleep', name: 'a' }, sleeper('b', 1003), sleeper('d', 1004)] }, file)
  const spawned = new Map<string, number[]>()
  const run = before.tree.start({
    onEvent: (event: StewardEvent) => {
      if (event.type === 'spawned' && event.pid !== undefined) spawned.set(event.path, [...(spawned.get(event.path) ?? []), event.pid])
    },
  })
  try {
    await until('three children', () => spawned.size === 3)
    const cPid = spawned.get('steward/c')![0]!
    const result = await applyReload(run, before, changed)
    assert.deepEqual(result, { started: ['d'], stopped: ['c'], restarted: ['b'], unchanged: ['a'] })
    await until('b replaced and d started', () => spawned.get('steward/b')?.length === 2 && spawned.has('steward/d'))
    assert.equal(spawned.get('steward/a')!.length, 1, 'a untouched')
    // d after the others, b in its old place; all of them running.
    assert.deepEqual(run.status().children.map((child) => child.name), ['a', 'b', 'd'])
    assert.deepEqual(run.status().children.filter((child) => !['starting', 'idle', 'working'].includes(child.state)), [])
    assert.ok(![...liveChildren].some((child) => child.pid === cPid), "c's process is gone")
    // Reloading the same config again changes nothing.
    assert.deepEqual(await applyReload(run, changed, changed), { started: [], stopped: [], restarted: [], unchanged: ['a', 'b', 'd'] })
  } finally {
    await run.stop()
  }
  assert.equal(liveChildren.size, 0)
})

test('reload: a change of the top-level keys is refused, naming them, and nothing is touched', { timeout: 60_000 }, async () => {
  const before = buildConfig({ maxRestarts: 5, children: [sleeper('a', 1000)] }, file)
  const changed = buildConfig({ maxRestarts: 6, within: '1m', children: [sleeper('a', 1000), sleeper('b', 1001)] }, file)
  const spawned: string[] = []
  const run = before.tree.start({ onEvent: (event: StewardEvent) => void (event.type === 'spawned' && spawned.push(event.path)) })
  try {
    await until('a started', () => spawned.length === 1)
    await assert.rejects(
      applyReload(run, before, changed),
      (error: unknown) => error instanceof UsageError && /the top-level keys 'maxRestarts', 'within' changed: they apply when steward up starts again .*nothing was changed/.test(error.message),
    )
    assert.deepEqual(run.status().children.map((child) => child.name), ['a'])
    assert.deepEqual(spawned, ['steward/a'])
  } finally {
    await run.stop()
  }
})

test('a JS config function counts as changed; the same entry in another key order does not', () => {
  const shouldRestart = (): boolean => true
  const one = buildConfig({ children: [{ ...sleeper('a', 1), shouldRestart }, sleeper('b', 2, { env: { X: '1', Y: '2' } })] }, file)
  const two = buildConfig({ children: [{ ...sleeper('a', 1), shouldRestart }, sleeper('b', 2, { env: { Y: '2', X: '1' } })] }, file)
  assert.notEqual(one.entries.get('a'), two.entries.get('a'))
  assert.equal(one.entries.get('b'), two.entries.get('b'))
})

test("steward up's apps are independent unless the config names a strategy", async () => {
  for (const [config, strategy] of [
    [{ children: [sleeper('a', 1)] }, 'independent'],
    [{ strategy: 'one-for-all', children: [sleeper('a', 1)] }, 'one-for-all'],
  ] as const) {
    const run = buildConfig(config, file).tree.start()
    assert.equal(run.status().strategy, strategy)
    await run.stop()
  }
})
