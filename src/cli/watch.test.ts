import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import { defaultWatchIgnore, describeChanges, FileWatcher, ignoredBy, planWatch, type WatchPlan } from './watch.js'
import { UsageError } from './flags.js'

const where = { paths: '--watch', ignore: '--watch-ignore' }

/** A temporary folder with `src/a.js`, `node_modules/m/index.js` and `.git/HEAD`, removed after the test. */
function project(t: TestContext): string {
  const folder = mkdtempSync(join(tmpdir(), 'steward-watch-'))
  t.after(() => rmSync(folder, { recursive: true, force: true }))
  mkdirSync(join(folder, 'src'))
  mkdirSync(join(folder, 'node_modules', 'm'), { recursive: true })
  mkdirSync(join(folder, '.git'))
  writeFileSync(join(folder, 'src', 'a.js'), '1')
  writeFileSync(join(folder, 'node_modules', 'm', 'index.js'), '1')
  writeFileSync(join(folder, '.git', 'HEAD'), 'ref')
  return folder
}

/** A watcher whose calls are kept, and a wait with a deadline for the next one. */
function watching(plan: WatchPlan): { watcher: FileWatcher; calls: (readonly string[])[]; next: (what: string) => Promise<readonly string[]> } {
  const calls: (readonly string[])[] = []
  let wake: (() => void) | undefined
  const watcher = new FileWatcher(plan, (files) => {
    calls.push(files)
    wake?.()
  })
  let taken = 0
  const next = (what: string): Promise<readonly string[]> =>
    new Promise((resolve, reject) => {
      const check = (): boolean => {
        if (calls.length <= taken) return false
        clearTimeout(timer)
        wake = undefined
        resolve(calls[taken++]!)
        return true
      }
      const timer = setTimeout(() => {
        wake = undefined
        reject(new Error(`no change reported for ${what} within 10 s; calls: ${JSON.stringify(calls)}`))
      }, 10_000)
      if (!check()) wake = () => void check()
    })
  return { watcher, calls, next }
}

test('a burst of writes is one change after the quiet time; the next write is another', async (t) => {
  const folder = project(t)
  const { watcher, calls, next } = watching(planWatch(['.'], folder, 150, [], where))
  t.after(() => watcher.close())
  const file = join(folder, 'src', 'a.js')
  for (let index = 0; index < 5; index++) writeFileSync(file, String(index))
  assert.deepEqual(await next('five writes to src/a.js'), ['src/a.js'])
  // Positive control: a later write is its own call, and the burst left nothing for it to carry.
  writeFileSync(join(folder, 'b.js'), 'b')
  assert.deepEqual(await next('a write to b.js'), ['b.js'])
  assert.equal(calls.length, 2)
})

test('a burst longer than the quiet time is still one change while each write comes within it of the last', async (t) => {
  const folder = project(t)
  const { watcher, calls, next } = watching(planWatch(['src'], folder, 400, [], where))
  t.after(() => watcher.close())
  const times: number[] = []
  for (let index = 0; index < 8; index++) {
    if (index > 0) await new Promise((resolve) => setTimeout(resolve, 100))
    writeFileSync(join(folder, 'src', 'a.js'), String(index))
    times.push(performance.now())
  }
  const widest = Math.max(...times.slice(1).map((time, index) => time - times[index]!))
  // Meaningful only when every write came within the quiet time of the one before (a stalled machine may not manage it).
  if (widest < 300) {
    assert.deepEqual(await next('eight writes 100 ms apart over 700 ms'), ['src/a.js'])
    assert.ok(performance.now() - times.at(-1)! >= 400 - 20, 'the change came a quiet time after the last write')
    writeFileSync(join(folder, 'src', 'b.js'), 'b')
    assert.deepEqual(await next('the control write'), ['src/b.js'])
    assert.equal(calls.length, 2)
  }
})

test('changes under node_modules and dot-folders are ignored (a change after them is seen alone)', async (t) => {
  const folder = project(t)
  const { watcher, next } = watching(planWatch(['.'], folder, 100, [], where))
  t.after(() => watcher.close())
  writeFileSync(join(folder, 'node_modules', 'm', 'index.js'), '2')
  writeFileSync(join(folder, 'node_modules', 'new.js'), '2')
  writeFileSync(join(folder, '.git', 'HEAD'), 'other')
  writeFileSync(join(folder, '.env.swp'), 'x')
  writeFileSync(join(folder, 'src', 'a.js'), '2')
  assert.deepEqual(await next('the control write to src/a.js'), ['src/a.js'])
  assert.equal(watcher.folders, 2, 'the root and src: node_modules and .git are never watched')
})

test("an app's ignore patterns add to the defaults", async (t) => {
  const folder = project(t)
  const plan = planWatch(['src'], folder, 100, ['*.log', 'tmp'], where)
  assert.deepEqual(plan.ignore, [...defaultWatchIgnore, '*.log', 'tmp'])
  const { watcher, next } = watching(plan)
  t.after(() => watcher.close())
  writeFileSync(join(folder, 'src', 'out.log'), 'x')
  mkdirSync(join(folder, 'src', 'tmp'))
  writeFileSync(join(folder, 'src', 'a.js'), 'changed')
  assert.deepEqual(await next('the control write'), ['src/a.js'])
})

test('a folder created under a watched one is watched too; one removed is no longer', async (t) => {
  const folder = project(t)
  const { watcher, next } = watching(planWatch(['src'], folder, 100, [], where))
  t.after(() => watcher.close())
  mkdirSync(join(folder, 'src', 'lib'))
  assert.deepEqual(await next('mkdir src/lib'), ['src/lib'])
  assert.equal(watcher.folders, 2)
  writeFileSync(join(folder, 'src', 'lib', 'c.js'), 'c')
  assert.deepEqual(await next('a write in the new folder'), ['src/lib/c.js'])
  rmSync(join(folder, 'src', 'lib'), { recursive: true })
  const removed = await next('rm -r src/lib')
  assert.ok(removed.includes('src/lib'), JSON.stringify(removed))
  assert.equal(watcher.folders, 1)
  // Replaced by another folder of the same name: watched afresh.
  mkdirSync(join(folder, 'lib2'))
  renameSync(join(folder, 'lib2'), join(folder, 'src', 'lib'))
  assert.deepEqual(await next('src/lib moved in'), ['src/lib'])
  writeFileSync(join(folder, 'src', 'lib', 'd.js'), 'd')
  assert.deepEqual(await next('a write in the moved-in folder'), ['src/lib/d.js'])
})

test('a watched file is watched by name: its siblings are not, a save by replacing it is', async (t) => {
  const folder = project(t)
  const { watcher, next } = watching(planWatch(['src/a.js'], folder, 100, [], where))
  t.after(() => watcher.close())
  writeFileSync(join(folder, 'src', 'sibling.js'), 'x')
  writeFileSync(join(folder, 'src', 'a.js'), 'changed')
  assert.deepEqual(await next('a write to the file'), ['src/a.js'])
  // An editor's save: a new file renamed over the old one.
  writeFileSync(join(folder, 'src', 'sibling.js'), 'y')
  writeFileSync(join(folder, 'src', 'a.js.tmp'), 'new')
  renameSync(join(folder, 'src', 'a.js.tmp'), join(folder, 'src', 'a.js'))
  assert.deepEqual(await next('a save by rename'), ['src/a.js'])
})

test('close() leaves nothing behind, a pending change included', async (t) => {
  const folder = project(t)
  const calls: unknown[] = []
  const { leaks } = await checkLeaks(async () => {
    const watcher = new FileWatcher(planWatch(['.', 'src/a.js'], folder, 60_000, [], where), (files) => calls.push(files))
    writeFileSync(join(folder, 'src', 'a.js'), 'changed')
    // The change is pending (the quiet time is a minute) when the watch closes.
    const deadline = Date.now() + 10_000
    while (watcher.pending === 0) {
      assert.ok(Date.now() < deadline, 'the write was not seen within 10 s')
      await new Promise((resolve) => setImmediate(resolve))
    }
    watcher.close()
    assert.equal(watcher.folders, 0)
  })
  assert.deepEqual(leaks, noLeaks)
  assert.deepEqual(calls, [])
})

test('planWatch: a path that names nothing, an empty path, a pattern with a slash', (t) => {
  const folder = project(t)
  assert.throws(() => planWatch(['src', 'nope'], folder, 200, [], { paths: `child 'web': key 'watch'`, ignore: 'x' }), (error: unknown) => error instanceof UsageError && /^child 'web': key 'watch': "nope" names no file or folder \(.*\/nope\)$/.test(error.message))
  assert.throws(() => planWatch([''], folder, 200, [], where), /--watch: a path must not be empty/)
  assert.throws(() => planWatch(['src'], folder, 200, ['a/b'], where), /--watch-ignore: must be a file or folder name/)
  assert.deepEqual(planWatch(['src'], folder, 200, [], where).paths, [join(folder, 'src')])
})

test('ignoredBy: names and * patterns, dots literal', () => {
  const ignored = ignoredBy([...defaultWatchIgnore, '*.log', 'a.b'])
  for (const name of ['node_modules', '.git', '.env', 'x.log', '.log', 'a.b']) assert.ok(ignored(name), name)
  for (const name of ['src', 'node_modules2', 'log', 'axb', 'x.log.js', 'git']) assert.ok(!ignored(name), name)
})

test('describeChanges names three files, then counts', () => {
  assert.equal(describeChanges(['a']), 'a')
  assert.equal(describeChanges(['a', 'b', 'c']), 'a, b, c')
  assert.equal(describeChanges(['a', 'b', 'c', 'd', 'e']), 'a, b, c and 2 more')
})
