import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { groupAlive, groupMembers, groupRss, hasProc, signalGroup } from './process-group.js'

const linux = { skip: hasProc ? false : 'needs /proc' }

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 10))
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

test('an orphaned grandchild that died is a zombie, not a member (PID 1 may not reap it)', { timeout: 20_000, ...linux }, async () => {
  // The shell exits at once; its sleep is orphaned, still in the group.
  const { child, pids } = shell('sleep 60 & echo $!')
  await until(() => pids().length === 1 && child.exitCode !== null, 'the shell printed its child and exited')
  const pgid = child.pid!
  const [orphan] = pids()
  assert.deepEqual(groupMembers(pgid), [orphan])
  process.kill(orphan!, 'SIGKILL')
  await until(() => groupMembers(pgid).length === 0, 'a killed orphan is not a member, zombie or reaped')
  assert.equal(groupAlive(pgid), false)
  assert.equal(signalGroup(pgid, 'SIGKILL') || true, true, 'signalling a group of zombies (or none) does not throw')
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
