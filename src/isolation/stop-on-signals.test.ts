import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { ManualClock } from '../time/manual-clock.js'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import { dead } from '../testing/cli.js'
import { cleanup, noneLeft } from '../testing/process-tree.js'
import { waitFor } from '../testing/wait.js'
import { steward } from '../steward/steward.js'
import type { WardContext } from '../steward/ward.js'
import { lineReader } from './lines.js'
import { endOnSignals, stopOnSignals, type SignalNote } from './stop-on-signals.js'

// stopOnSignals: the process's own end for a library user, over a fake process (signals are
// emitted by the test), then as a real program receives them.

/** A process the test drives: signals are `emit`ted; `exit` is recorded. */
class FakeProcess extends EventEmitter {
  readonly exits: number[] = []
  exit(code: number): void {
    this.exits.push(code)
  }
}

/** A ward that waits until its signal aborts. */
const waits = (ctx: WardContext): Promise<void> => new Promise((resolve) => ctx.signal.addEventListener('abort', () => resolve(), { once: true }))

/** What a run's stop was asked with. */
function started(clock: ManualClock, name: string) {
  return steward(waits, { name }).start({ clock })
}

for (const [signal, code] of [['SIGTERM', 143], ['SIGINT', 130], ['SIGHUP', 129]] as const) {
  test(`${signal} stops every run gracefully; exit ${code}; its listeners are gone after`, async () => {
    const clock = new ManualClock()
    const side = new FakeProcess()
    const notes: SignalNote[] = []
    const { result, leaks } = await checkLeaks(async () => {
      const runs = [started(clock, 'a'), started(clock, 'b')]
      const ended = endOnSignals(runs, { onNote: (note) => notes.push(note) }, side)
      assert.deepEqual(side.eventNames().sort(), ['SIGHUP', 'SIGINT', 'SIGTERM'], 'SIGQUIT and SIGUSR2 keep their default unless asked')
      side.emit(signal, signal)
      const outcomes = await Promise.all(runs.map((run) => run.done))
      assert.deepEqual(outcomes.map((outcome) => outcome.kind), ['stopped', 'stopped'])
      assert.match(String((outcomes[0] as { reason: Error }).reason.message), new RegExp(`received ${signal}`))
      return ended
    })
    assert.deepEqual(leaks, noLeaks)
    assert.equal(result, code)
    assert.deepEqual(side.exits, [code], 'process.exit(code)')
    assert.deepEqual(notes, [
      { type: 'stopping', signal },
      { type: 'stopped', signal, report: { unstopped: [], killed: [] }, code },
    ])
    assert.deepEqual(side.eventNames(), [], 'no listener left')
  })
}

test('a run that gives up is reported, the others are stopped, exit 1; completion alone is 0; exit: false only returns the code', async () => {
  const clock = new ManualClock()
  const side = new FakeProcess()
  const notes: SignalNote[] = []
  const broken = steward(async () => {
    throw new Error('no database')
  }, { name: 'db', maxRestarts: 0 }).start({ clock })
  const other = started(clock, 'api')
  const code = await endOnSignals([broken, other], { exit: false, onNote: (note) => notes.push(note) }, side)
  assert.equal(code, 1)
  assert.deepEqual(side.exits, [], 'exit: false')
  assert.equal((await other.done).kind, 'stopped', 'the other run was stopped')
  assert.equal(notes.length, 1)
  const [note] = notes
  assert.ok(note?.type === 'gave-up' && note.name === 'db')
  assert.match(note.error.message, /gave up on ward 'db'.*last failure: no database/)
  // A signal after that changes nothing: the listeners are gone.
  assert.deepEqual(side.eventNames(), [])

  const done = steward(async () => 'done', { name: 'job', restart: 'transient' }).start({ clock })
  assert.equal(await endOnSignals(done, { exit: false, onNote: (note) => notes.push(note) }, side), 0)
  assert.equal(notes.length, 1, 'nothing to say about a completion')
})

test('a second SIGINT kills the process groups (none here) and the stop goes on; quit and status add SIGQUIT and SIGUSR2', async () => {
  const clock = new ManualClock()
  const side = new FakeProcess()
  const notes: SignalNote[] = []
  // A ward that takes 100 ms (on the clock) to leave after its abort.
  const slow = steward(async (ctx: WardContext) => {
    await waits(ctx)
    await clock.sleep(100)
  }, { name: 'slow' }).start({ clock })
  const ended = endOnSignals(slow, { quit: true, status: true, onNote: (note) => notes.push(note) }, side)
  assert.deepEqual(side.eventNames().sort(), ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR2'])
  side.emit('SIGUSR2', 'SIGUSR2')
  const [status] = notes
  assert.ok(status?.type === 'status')
  assert.equal(status.status[0]?.path, 'slow')
  assert.equal(notes.length, 1, 'and nothing else: it keeps running')
  side.emit('SIGINT', 'SIGINT')
  side.emit('SIGTERM', 'SIGTERM') // a later other signal changes nothing
  side.emit('SIGINT', 'SIGINT')
  side.emit('SIGQUIT', 'SIGQUIT')
  await clock.runUntil(ended)
  assert.deepEqual(
    notes.slice(1).map((note) => note.type),
    ['stopping', 'killed', 'killed', 'stopped'],
  )
  assert.deepEqual(notes[2], { type: 'killed', signal: 'SIGINT', groups: [] })
  assert.equal(await ended, 130, 'the signal that began the stop decides the code')

  const quitting = started(clock, 'q')
  const quit = endOnSignals(quitting, { exit: false, quit: true, onNote: () => {} }, side)
  side.emit('SIGQUIT', 'SIGQUIT')
  assert.equal(await quit, 131)
})

test('stopOnSignals validates its arguments, naming the option', () => {
  const clock = new ManualClock()
  const run = started(clock, 'v')
  assert.throws(() => stopOnSignals({} as never), /stopOnSignals: runs must be a run/)
  assert.throws(() => stopOnSignals([run, 3] as never), /runs must be a run \(or an array of runs\).*got number 3/)
  assert.throws(() => stopOnSignals(run, { exitCode: 1 } as never), /unknown option 'exitCode'; known options: exit, quit, status, onNote/)
  assert.throws(() => stopOnSignals(run, { exit: 'no' } as never), /option 'exit' must be a boolean/)
  assert.throws(() => stopOnSignals(run, { onNote: 'stderr' } as never), /option 'onNote' must be a function/)
  void run.stop()
})

// As a real program: `stopOnSignals(run)` with Node's own process.

const program = fileURLToPath(new URL('../../test/fixtures/stop-on-signals.mjs', import.meta.url))
const linuxOnly = { skip: process.platform === 'linux' ? false : 'reads /proc' }

function startProgram(t: { after(fn: () => void): void }, mode: string) {
  const child = spawn(process.execPath, [program, mode], { stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  child.stdout.on('data', lineReader((line) => lines.push(line)))
  child.stderr.on('data', lineReader((line) => lines.push(line)))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  const leftovers = cleanup(t)
  leftovers.add(child.pid!)
  const pids = (): number[] => lines.flatMap((line) => (/^pids? ([\d ]+)$/.exec(line)?.[1]?.split(' ').map(Number) ?? []))
  const track = setInterval(() => leftovers.add(...pids()), 20)
  t.after(() => clearInterval(track))
  return { child, lines, exited, pids }
}

test('a program with stopOnSignals: SIGTERM stops its child gracefully, exit 143; a second SIGINT kills a deaf group at once, 130', { timeout: 60_000, ...linuxOnly }, async (t) => {
  const polite = startProgram(t, 'polite')
  await waitFor('the child', () => polite.pids().length === 3, 20_000)
  polite.child.kill('SIGTERM')
  assert.deepEqual(await polite.exited, { code: 143, signal: null })
  assert.ok(polite.lines.includes('steward: received SIGTERM: stopping (send SIGINT again to kill the child processes now)'), polite.lines.join('\n'))
  assert.ok(polite.pids().every(dead))

  const deaf = startProgram(t, 'deaf')
  await waitFor('the child', () => deaf.pids().length === 3, 20_000)
  deaf.child.kill('SIGINT')
  await waitFor('the stopping note', () => deaf.lines.some((line) => line.startsWith('steward: received SIGINT: stopping')), 10_000)
  deaf.child.kill('SIGINT')
  const since = performance.now()
  const exit = await Promise.race([deaf.exited, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 15_000))])
  assert.deepEqual(exit, { code: 130, signal: null }, 'at once, not after its 60 s killAfter')
  assert.ok(deaf.lines.some((line) => /^steward: received SIGINT: SIGKILL to process groups \d+$/.test(line)), deaf.lines.join('\n'))
  await noneLeft(deaf.pids(), since, 'the second SIGINT')
})

test('a program with stopOnSignals whose run gives up says why on stderr and exits 1; one that completes exits 0', { timeout: 60_000 }, async (t) => {
  const broken = startProgram(t, 'gives-up')
  assert.deepEqual(await broken.exited, { code: 1, signal: null })
  assert.ok(
    broken.lines.some((line) => /^steward: app gave up: steward gave up on ward 'app': .*last failure: sh exited with code 3$/.test(line)),
    broken.lines.join('\n'),
  )
  const complete = startProgram(t, 'completes')
  assert.deepEqual(await complete.exited, { code: 0, signal: null })
  assert.deepEqual(complete.lines, [])
})
