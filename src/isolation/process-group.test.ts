import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { groupAlive, groupMembers, groupRss, hasProc, signalGroup } from './process-group.js'
import { waitFor } from '../testing/wait.js'

const linux = { skip: hasProc ? false : 'needs /proc' }

async function until(condition: () => boolean, what: string): Promise<void> {
  await waitFor(what, condition, 10_000, 10)
  assert.ok(condition(), what)
}

/** A shell in a group of its own; its stdout's first lines are the pids it prints. */
function shell(script: string): { child: ChildProcess; pids: () => number[] } {
  const child = spawn('sh', ['-c', script], { detached: true, stdio: ['ignore', 'pipe', 'ignore'] })
  let out = ''
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()))
  return { child, pids: () => out.split('\n').filter(Boolean).map(Number) }
}

test('groupMembers finds a shell and its children in its group, and nothing once they are killed', { timeout: 20_000, ...linux }, async () => {
  const { child, pids } = shell('sleep 60 & echo $!; sleep 60 & echo $!; wait')
  await until(() => pids().length === 2, 'the shell started two sleeps')
  const pgid = child.pid!
  assert.deepEqual(groupMembers(pgid).sort(), [pgid, ...pids()].sort())
  assert.ok(groupAlive(pgid))
  const rss = groupRss(pgid)
  assert.ok(rss > 3 * 100_000 && rss < 3 * 50_000_000, `rss of three small processes: ${rss}`)
  assert.equal(signalGroup(pgid, 'SIGKILL'), true)
  await until(() => groupMembers(pgid).length === 0, 'the group is empty')
  assert.equal(groupAlive(pgid), false)
  assert.equal(groupRss(pgid), 0)
  await new Promise((resolve) => (child.exitCode === null && child.signalCode === null ? child.once('exit', resolve) : resolve(null)))
})

test('a zombie in the group is not a member: the scan counts only live processes', { timeout: 20_000, ...linux }, async () => {
  // `sleep 0` exits at once; its parent becomes `sleep 60` (exec), which never reaps it: a zombie
  // in the group for as long as its parent lives (as an orphan under a PID 1 that does not reap).
  const { child, pids } = shell('sleep 0 & echo $!; exec sleep 60')
  await until(() => pids().length === 1, 'the shell printed its child')
  const pgid = child.pid!
  const [zombie] = pids()
  const state = (): string | undefined => {
    try {
      const stat = readFileSync(`/proc/${zombie}/stat`, 'latin1')
      return stat.slice(stat.lastIndexOf(')') + 2)[0]
    } catch {
      return undefined
    }
  }
  await until(() => state() === 'Z', 'its child is a zombie')
  assert.deepEqual(groupMembers(pgid), [pgid], 'only the live parent')
  const exited = new Promise((resolve) => child.once('exit', resolve))
  signalGroup(pgid, 'SIGKILL')
  await exited
  // The parent is gone; its zombie child is reparented, and PID 1 may keep it a while.
  await until(() => groupMembers(pgid).length === 0, 'nothing alive is left')
  assert.equal(groupAlive(pgid), false)
})

test("a command name with spaces and parentheses does not shift /proc/<pid>/stat's fields", { timeout: 20_000, ...linux }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'steward-group-'))
  try {
    const odd = join(dir, 'a) R 0 1 (b')
    symlinkSync('/bin/sleep', odd)
    const child = spawn(odd, ['60'], { detached: true, stdio: 'ignore' })
    await until(() => groupMembers(child.pid!).length === 1, 'found by its group')
    assert.deepEqual(groupMembers(child.pid!), [child.pid])
    assert.deepEqual(groupMembers(1), [], 'its odd name names no other group')
    const exited = new Promise((resolve) => child.once('exit', resolve))
    signalGroup(child.pid!, 'SIGKILL')
    await exited
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
