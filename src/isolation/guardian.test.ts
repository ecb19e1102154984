import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort } from '../testing/net.js'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import { dead, descendants } from '../testing/cli.js'
import { cleanup, commandOf, noneLeft } from '../testing/process-tree.js'
import { waitFor } from '../testing/wait.js'
import { lineReader } from './lines.js'
import { steward } from '../steward/steward.js'
import { fixed } from '../policy/backoff.js'
import { processWard } from './process-ward.js'
import { dismissGuardian, guardianPid, guardianTimes } from './guardian.js'

// The guardian: whatever ends the process holding process wards, no process of their groups
// outlives it by more than about a second.

const holderScript = fileURLToPath(new URL('../../test/fixtures/holder.mjs', import.meta.url))
const linuxOnly = { skip: process.platform === 'linux' ? false : 'reads /proc' }

interface Holder {
  readonly holder: ReturnType<typeof spawn>
  readonly tree: () => number[]
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  readonly stderr: string[]
  /** Where the `flush` child writes "flushed" when it leaves on SIGTERM. */
  readonly flushFile: string
}

/**
 * The fixture app, up, with its whole tree (the guardian among it), in a process group of its own
 * (as a shell's job is), and its `flush` child frozen with SIGSTOP.
 */
async function startHolder(t: { after(fn: () => void): void }): Promise<Holder> {
  const dir = mkdtempSync(join(tmpdir(), 'steward-holder-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const flushFile = join(dir, 'flushed')
  const holder = spawn(process.execPath, [holderScript, String(await freePort()), String(await freePort()), flushFile], { stdio: ['pipe', 'pipe', 'pipe'], detached: true })
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => holder.once('exit', (code, signal) => resolve({ code, signal })))
  // Whatever fails, nothing of this holder is left for the next test (or keeps this file running).
  const leftovers = cleanup(t)
  leftovers.add(holder.pid!)
  const track = setInterval(() => leftovers.add(...descendants(holder.pid!)), 50)
  t.after(() => clearInterval(track))
  const stdout: string[] = []
  const stderr: string[] = []
  holder.stdout.on('data', lineReader((line) => stdout.push(line)))
  holder.stderr.on('data', lineReader((line) => stderr.push(line)))
  await waitFor('ready holder', () => stdout.includes('ready'), 30_000).catch((error: Error) => {
    throw new Error(`${error.message}; stderr:\n${stderr.join('\n')}`)
  })
  // Seven children (ipc: 2 shells + 2 sleeps; stdout: a sleep; http, tcp: a sleep; exec, none: 2 sleeps; flush) and the guardian.
  await waitFor('whole tree', () => descendants(holder.pid!).filter((pid) => !dead(pid)).length >= 19, 10_000)
  // The guardian names itself once it runs: on a busy machine the tree can be whole before that.
  const live = (): number[] => descendants(holder.pid!).filter((pid) => !dead(pid))
  await waitFor('a guardian named steward-guardian in the tree', () => live().some((pid) => commandOf(pid) === 'steward-guardian'), 10_000).catch((error: Error) => {
    throw new Error(`${error.message}; the tree: ${live().map(commandOf).join(', ')}`)
  })
  const tree = live()
  const flushPid = (): number => (existsSync(`${flushFile}.pid`) ? Number(readFileSync(`${flushFile}.pid`, 'utf8')) : 0)
  await waitFor('flush child', () => flushPid() > 1, 10_000)
  process.kill(flushPid(), 'SIGSTOP')
  return { holder, tree: () => tree, exited, stderr, flushFile }
}

const endings: Array<[string, (holder: ReturnType<typeof spawn>) => void, (exit: { code: number | null; signal: NodeJS.Signals | null }, stderr: string[]) => void]> = [
  ['SIGKILL', (holder) => holder.kill('SIGKILL'), (exit) => assert.equal(exit.signal, 'SIGKILL')],
  ['an uncaught exception', (holder) => holder.stdin!.write('throw\n'), (exit, stderr) => {
    assert.equal(exit.code, 1)
    assert.match(stderr.join('\n'), /boom: an uncaught exception/)
  }],
  ['SIGTERM (no handler)', (holder) => holder.kill('SIGTERM'), (exit) => assert.equal(exit.signal, 'SIGTERM')],
  // A terminal closed, or Ctrl-C: the signal goes to the job's whole process group.
  ['SIGHUP to its process group (no handler)', (holder) => process.kill(-holder.pid!, 'SIGHUP'), (exit) => assert.equal(exit.signal, 'SIGHUP')],
  ['SIGINT to its process group (no handler)', (holder) => process.kill(-holder.pid!, 'SIGINT'), (exit) => assert.equal(exit.signal, 'SIGINT')],
]

for (const [ending, kill, check] of endings) {
  test(`a Node app with process wards of every heartbeat kind ends by ${ending}: within 2 s no process of its tree is alive, and a frozen child left on its SIGTERM`, { timeout: 60_000, ...linuxOnly }, async (t) => {
    const { holder, tree, exited, stderr, flushFile } = await startHolder(t)
    const since = performance.now()
    kill(holder)
    check(await exited, stderr)
    await noneLeft(tree(), since, "the holder's end")
    assert.equal(readFileSync(flushFile, 'utf8'), 'flushed\n', 'the frozen child was woken (SIGCONT) and acted on its SIGTERM')
  })
}

test('a guardian that is killed is replaced, and the replacement knows every group', { timeout: 60_000, ...linuxOnly }, async (t) => {
  const { holder, tree, exited } = await startHolder(t)
  const first = tree().find((pid) => commandOf(pid) === 'steward-guardian')!
  const replacement = (): number | undefined => descendants(holder.pid!).find((pid) => pid !== first && !dead(pid) && commandOf(pid) === 'steward-guardian')
  process.kill(first, 'SIGKILL')
  await waitFor('new guardian', () => replacement() !== undefined, 10_000)
  const second = replacement()!
  const since = performance.now()
  holder.kill('SIGKILL')
  assert.equal((await exited).signal, 'SIGKILL')
  await noneLeft([...tree().filter((pid) => pid !== first), second], since, "the holder's end")
})

test('the guardian is this process\'s, not a run\'s: no leak; it leaves once idle, and a crash loop reuses it', { timeout: 30_000, ...linuxOnly }, async (t) => {
  const idleMs = guardianTimes.idleMs
  t.after(() => (guardianTimes.idleMs = idleMs))
  await dismissGuardian()
  assert.equal(guardianPid(), undefined)
  // Three children that exit 1 at once, restarted after a 200 ms backoff (no group registered
  // meanwhile): one guardian for all of them.
  guardianTimes.idleMs = 60_000
  const seen = new Set<number | undefined>()
  const { result: outcome, leaks } = await checkLeaks(() => {
    const run = steward(processWard('sh', ['-c', 'exit 1'], { onSpawn: () => seen.add(guardianPid()) }), { name: 'crash', maxRestarts: 2, backoff: fixed('200ms') }).start()
    return run.done
  })
  assert.deepEqual(leaks, noLeaks, 'the guardian (process, pipe, timer) is not counted as the run\'s')
  assert.equal(outcome.kind, 'gave-up')
  const guardian = guardianPid()
  assert.ok(guardian !== undefined && !dead(guardian), 'it stays while idle')
  assert.deepEqual([...seen], [guardian], 'one guardian for three children in a row')
  // Idle: it says goodbye after the idle delay (shortened here) and exits.
  guardianTimes.idleMs = 50
  const again = steward(processWard('sh', ['-c', 'exit 0']), { name: 'once', restart: 'transient' }).start()
  assert.equal((await again.done).kind, 'completed')
  assert.equal(guardianPid(), guardian)
  await waitFor('guardian gone', () => guardianPid() === undefined && dead(guardian), 10_000)
})
