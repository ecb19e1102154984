import { AsyncResource } from 'node:async_hooks'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import type { Socket } from 'node:net'
import { fileURLToPath } from 'node:url'

// The holder's side of the guardian (the guardian itself is guardian-process.ts): one small
// process per steward process that stops the process groups of its process wards when this
// process dies without saying goodbye — SIGKILL, the OOM killer, an uncaught exception, a
// signal's default action. A process ward registers its child's group right after the spawn and
// releases it once the group is empty; nothing happens per beat.
//
// The guardian is this process's infrastructure, not a run's resource: everything it makes (the
// process, its pipe, the idle timer, their callbacks) is made in an async scope of its own,
// created when this module loads, so a leak check (src/testing/leaks.ts) of the run that spawned
// the first child does not count it. Its child process and pipe are unref'd: it never keeps this
// process alive.

/** No process groups on Windows: no guardian there. */
const supported = process.platform !== 'win32'

/**
 * `idleMs`: how long the guardian stays after the last group was released before the holder says
 * goodbye (10 s). A crash loop (a child that dies, a backoff, a new child) reuses one guardian
 * instead of starting one per restart, as long as its backoff stays under this; a program that ran
 * a child once does not keep a spare process for long. Tests shorten it. @internal
 */
export const guardianTimes = { idleMs: 10_000 }

/** A guardian that dies is replaced at once, but no sooner than this after its own start (no tight loop). */
const RESTART_AFTER_MS = 1_000

const scope = new AsyncResource('steward.guardian')
/** The groups to stop if this process dies: pgid → the ward's killSignal. */
const groups = new Map<number, NodeJS.Signals>()
/** Guardian processes not yet exited (the current one, and one leaving after a goodbye). */
const running = new Set<ChildProcess>()
const exitWaiters = new Set<() => void>()

let guardian: { readonly child: ChildProcess; readonly at: number } | undefined
let idleTimer: NodeJS.Timeout | undefined
let entry: string | undefined

/** The guardian's entry: the built file beside this one, or the build's when run from source (the tests, under tsx). */
function entryFile(): string {
  if (entry !== undefined) return entry
  const besideThis = new URL('./guardian-process.js', import.meta.url)
  entry = fileURLToPath(existsSync(fileURLToPath(besideThis)) ? besideThis : new URL('../../dist/isolation/guardian-process.js', import.meta.url))
  return entry
}

function send(line: string): void {
  if (guardian === undefined) return
  const stdin = guardian.child.stdin
  if (stdin !== null && stdin.writable) stdin.write(line)
}

function start(): void {
  const env = { ...process.env }
  delete env.NODE_OPTIONS // a loader or preload of this process has nothing to do in the guardian
  const child = spawn(process.execPath, [entryFile()], {
    // A session of its own: a terminal's SIGINT or SIGHUP to this process's group must not reach it.
    detached: true,
    stdio: ['pipe', 'ignore', 'ignore'],
    env,
    windowsHide: true,
  })
  const current = { child, at: Date.now() }
  guardian = current
  running.add(child)
  child.unref()
  ;(child.stdin as Socket | null)?.unref()
  child.stdin?.on('error', noop) // EPIPE: it died; its exit says so
  const gone = (): void => {
    if (!running.delete(child)) return
    if (running.size === 0) for (const wake of [...exitWaiters]) wake()
    if (guardian !== current) return // it left after a goodbye
    guardian = undefined
    // Killed (or it could not start): another, with the groups registered now, at once — or when
    // a second has passed since this one started (no tight loop) or a registration comes first.
    if (groups.size === 0) return
    const wait = RESTART_AFTER_MS - (Date.now() - current.at)
    if (wait <= 0) start()
    else setTimeout(restart, wait).unref()
  }
  child.once('exit', gone)
  child.once('error', gone) // could not be spawned: no exit follows
  let lines = ''
  for (const [pgid, signal] of groups) lines += `+${pgid} ${signal}\n`
  if (lines !== '') send(lines)
}

function restart(): void {
  if (guardian === undefined && groups.size > 0) start()
}

function goodbye(): void {
  idleTimer = undefined
  if (guardian === undefined || groups.size > 0) return
  const { child } = guardian
  guardian = undefined
  child.stdin?.end('bye\n')
}

/**
 * Registers process group `pgid` with the guardian (started now if none runs): if this process
 * dies without a goodbye, the group gets `signal`, SIGCONT, and SIGKILL after a short grace.
 * A no-op on Windows. @internal
 */
export function guardGroup(pgid: number, signal: NodeJS.Signals): void {
  if (!supported) return
  scope.runInAsyncScope(() => {
    if (idleTimer !== undefined) {
      clearTimeout(idleTimer)
      idleTimer = undefined
    }
    groups.set(pgid, signal)
    if (guardian === undefined) start()
    else send(`+${pgid} ${signal}\n`)
  })
}

/** Releases process group `pgid` (it is empty); the guardian leaves `guardianTimes.idleMs` after the last one. @internal */
export function releaseGroup(pgid: number): void {
  if (!groups.delete(pgid)) return
  scope.runInAsyncScope(() => {
    send(`-${pgid}\n`)
    if (groups.size === 0 && guardian !== undefined && idleTimer === undefined) {
      idleTimer = setTimeout(goodbye, guardianTimes.idleMs)
      idleTimer.unref()
    }
  })
}

/** The running guardian's pid, if one runs (tests). @internal */
export function guardianPid(): number | undefined {
  return guardian?.child.pid
}

/**
 * For tests that check no process is left: says goodbye now instead of after the idle delay and
 * resolves once no guardian process of this process is alive. Throws while a group is registered
 * (a process ward still holds a child). @internal
 */
export function dismissGuardian(): Promise<void> {
  if (groups.size > 0) throw new Error(`the guardian still guards ${groups.size} process group(s): ${[...groups.keys()].join(', ')}`)
  return scope.runInAsyncScope(() => {
    if (idleTimer !== undefined) clearTimeout(idleTimer)
    goodbye()
    if (running.size === 0) return Promise.resolve()
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        exitWaiters.delete(wake)
        resolve()
      }
      exitWaiters.add(wake)
    })
  })
}

function noop(): void {}
