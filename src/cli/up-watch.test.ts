import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { RunState } from '../observe/status.js'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import { UsageError } from './flags.js'
import { Printer } from './output.js'
import { AppWatches } from './up-watch.js'
import { planWatch, type WatchPlan } from './watch.js'

const where = { paths: 'watch', ignore: 'watchIgnore' }

function setUp(t: { after(fn: () => void): void }): { dir: string; notes: Record<string, unknown>[]; restarts: string[]; states: Map<string, RunState>; watches: AppWatches; plan: (folder: string, delay?: number) => WatchPlan } {
  const dir = mkdtempSync(join(tmpdir(), 'steward-up-watch-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  for (const app of ['web', 'api']) mkdirSync(join(dir, app))
  const notes: Record<string, unknown>[] = []
  const restarts: string[] = []
  const states = new Map<string, RunState>([
    ['web', 'working'],
    ['api', 'working'],
  ])
  const printer = new Printer({ json: true, colour: false, write: (line) => notes.push(JSON.parse(line) as Record<string, unknown>) })
  const watches = new AppWatches(printer, async (name) => void restarts.push(name), (name) => states.get(name), 'steward.config.json')
  t.after(() => watches.close())
  return { dir, notes, restarts, states, watches, plan: (folder, delay = 50) => planWatch(['.'], join(dir, folder), delay, [], where) }
}

/** Waits (10 s at most) until `check()` holds. */
async function until(what: string, check: () => boolean): Promise<void> {
  const deadline = Date.now() + 10_000
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within 10 s: ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

test("a change restarts its app through the operator's restart, with a note naming the files; a stopped app is not restarted", async (t) => {
  const { dir, notes, restarts, states, watches, plan } = setUp(t)
  watches.update(new Map([['web', plan('web')], ['api', plan('api')]]))
  assert.equal(watches.size, 2)
  writeFileSync(join(dir, 'web', 'a.js'), '1')
  await until('web restarted', () => restarts.length === 1)
  assert.deepEqual(restarts, ['web'])
  assert.equal(notes.at(-1)!.message, 'web: restarting (file changed: a.js)')
  assert.deepEqual(notes.at(-1)!.files, ['a.js'])
  states.set('web', 'stopped')
  writeFileSync(join(dir, 'web', 'a.js'), '2')
  await until('the note on a stopped app', () => notes.length === 2)
  assert.equal(notes[1]!.watch, 'stopped')
  // Positive control: the other app still restarts, and web was not restarted meanwhile.
  writeFileSync(join(dir, 'api', 'b.js'), '1')
  await until('api restarted', () => restarts.length === 2)
  assert.deepEqual(restarts, ['web', 'api'])
})

test('a change once the tree is ending (no state) does nothing', async (t) => {
  const { dir, notes, restarts, states, watches, plan } = setUp(t)
  watches.update(new Map([['web', plan('web')], ['api', plan('api')]]))
  states.delete('web')
  writeFileSync(join(dir, 'web', 'a.js'), '1')
  writeFileSync(join(dir, 'api', 'b.js'), '1')
  await until('api restarted', () => restarts.length === 1)
  assert.deepEqual(restarts, ['api'])
  assert.equal(notes.length, 1)
})

test('update() after a reload: an unchanged plan keeps its watch, a changed one is replaced, a removed one closed', async (t) => {
  const { dir, restarts, watches, plan } = setUp(t)
  watches.update(new Map([['web', plan('web')], ['api', plan('api')]]))
  watches.update(new Map([['web', plan('web')]]))
  assert.equal(watches.size, 1)
  // A changed plan (another folder) watches the new folder, not the old one.
  mkdirSync(join(dir, 'web2'))
  watches.update(new Map([['web', plan('web2')]]))
  writeFileSync(join(dir, 'web', 'old.js'), '1')
  writeFileSync(join(dir, 'api', 'old.js'), '1')
  writeFileSync(join(dir, 'web2', 'new.js'), '1')
  await until('web restarted', () => restarts.length === 1)
  assert.deepEqual(restarts, ['web'])
  watches.update(undefined)
  assert.equal(watches.size, 0)
})

test('a watch that cannot be opened: a UsageError naming the file, app and key at start (those opened are closed), a report on reload', async (t) => {
  const { dir, watches, plan } = setUp(t)
  const gone = plan('api')
  rmSync(join(dir, 'api'), { recursive: true })
  const { leaks } = await checkLeaks(async () => {
    assert.throws(
      () => watches.update(new Map([['web', plan('web')], ['api', gone]])),
      (error: unknown) => error instanceof UsageError && /^steward\.config\.json: child 'api': key 'watch': .*ENOENT.*api/.test(error.message),
    )
    assert.equal(watches.size, 0, "web's watch, opened first, is closed again")
  })
  assert.deepEqual(leaks, noLeaks)
  const reports: string[] = []
  watches.update(new Map([['web', plan('web')], ['api', gone]]), (message) => reports.push(message))
  assert.equal(watches.size, 1)
  assert.match(reports[0]!, /child 'api': key 'watch': .*ENOENT/)
})
