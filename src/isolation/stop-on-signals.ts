import { constants } from 'node:os'
import type { WardStatus } from '../observe/status.js'
import type { Lifecycle, Outcome, StopReport } from '../steward/run-api.js'
import { errorInfo, type ErrorInfo } from '../steward/errors.js'
import { describe } from '../time/duration.js'
import { liveChildren } from './process-ward.js'

/**
 * What {@link stopOnSignals} tells as the process ends; by default each is written to stderr.
 * - `stopping`: the first SIGINT, SIGTERM or SIGHUP: every run is being stopped gracefully;
 * - `killed`: a second SIGINT (or SIGQUIT with `quit`): SIGKILL was sent to these process groups
 *   (each a process ward's child's pid, its group's id);
 * - `status`: SIGUSR2 (with `status`): the status tree of each run; the process keeps running;
 * - `gave-up`: a run gave up (its error names the last failure); the others are stopped, exit 1;
 * - `stopped`: the runs stopped after a signal, with what did not stop in time and what needed
 *   SIGKILL (the runs' own SIGKILLs, then `process group PGID` for each group a `killed` note
 *   named), and the exit code (1 when a run gave up meanwhile).
 */
export type SignalNote =
  | { readonly type: 'stopping'; readonly signal: NodeJS.Signals }
  | { readonly type: 'killed'; readonly signal: NodeJS.Signals; readonly groups: readonly number[] }
  | { readonly type: 'status'; readonly signal: NodeJS.Signals; readonly status: readonly WardStatus[] }
  | { readonly type: 'gave-up'; readonly name: string; readonly error: ErrorInfo }
  | { readonly type: 'stopped'; readonly signal: NodeJS.Signals; readonly report: StopReport; readonly code: number }

/** Options of {@link stopOnSignals}. */
export interface StopOnSignalsOptions {
  /**
   * End the process with `process.exit(code)` once every run has settled. `false`: only resolve
   * with the code (a program that ends itself, a test).
   * @default true
   */
  readonly exit?: boolean
  /**
   * Also take SIGQUIT, as "stop now": SIGKILL to every process ward's process group at once, then
   * stop the runs; exit code 131. Without it SIGQUIT keeps Node's default action (the process
   * ends; the guardian then stops the groups).
   * @default false
   */
  readonly quit?: boolean
  /**
   * Also take SIGUSR2, as "show the status": a `status` note with each run's status tree; the
   * process keeps running. Off by default because tools use SIGUSR2 for themselves (nodemon
   * restarts a program with it).
   * @default false
   */
  readonly status?: boolean
  /** Receives each {@link SignalNote} instead of stderr. */
  readonly onNote?: (note: SignalNote) => void
}

/** What the helper needs of the process it runs in (the real `process`, or a test's). @internal */
export interface ProcessSide {
  on(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown
  off(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): unknown
  exit(code: number): void
}

const known = new Set(['exit', 'quit', 'status', 'onNote'])
const stopSignals: readonly NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP']

/**
 * Ends the process with the given runs, as a command-line program should: the first SIGINT,
 * SIGTERM or SIGHUP stops every run gracefully (`stop()`, each ward within its stop deadline) and
 * gives the conventional exit code, 128 + the signal's number (130, 143, 129); a second SIGINT
 * SIGKILLs the process group of every process ward child of this process at once (grandchildren
 * included) and the stop goes on. A run that gives up is reported (its error, with the last
 * failure, on stderr), the other runs are stopped, and the code is 1 (also when a signal arrived
 * while it was giving up); when every run completed
 * (or was stopped by the program itself) it is 0. Once every run has settled, its listeners are
 * removed and the process exits with the code (`process.exit`), or, with `exit: false`, the
 * returned promise resolves with it.
 *
 * The library installs no process signal handlers of its own; this one does, only when called,
 * and removes them when it is done. Call it once per process, for the runs that are the program.
 * With `quit`, SIGQUIT kills every group at once (exit 131); with `status`, SIGUSR2 reports the
 * status trees. `steward run` and `steward up` are built on it.
 *
 * @example
 * const run = steward(processWard('redis-server', ['--port', '6390']), { timeout: '2s' }).start()
 * await stopOnSignals(run) // exits 143 on SIGTERM, 130 on Ctrl-C, 1 if the steward gives up
 */
export function stopOnSignals(runs: Lifecycle | readonly Lifecycle[], options: StopOnSignalsOptions = {}): Promise<number> {
  return endOnSignals(runs, options, {
    on: (signal, listener) => process.on(signal, listener),
    off: (signal, listener) => process.off(signal, listener),
    exit: (code) => process.exit(code),
  })
}

/**
 * {@link stopOnSignals} over any process side (the CLI's tests give their own). Bad arguments
 * throw at once. With `onHangup`, SIGHUP calls it (`steward up` reloads its config) instead of
 * stopping. @internal
 */
export function endOnSignals(runs: Lifecycle | readonly Lifecycle[], options: StopOnSignalsOptions, side: ProcessSide, onHangup?: () => void): Promise<number> {
  const list: readonly Lifecycle[] = Array.isArray(runs) ? runs : [runs as Lifecycle]
  for (const run of list) {
    if (typeof run !== 'object' || run === null || typeof run.stop !== 'function' || !(run.done instanceof Promise)) {
      throw new TypeError(`stopOnSignals: runs must be a run (or an array of runs) as start() returns it, got ${describe(run)}`)
    }
  }
  if (typeof options !== 'object' || options === null) throw new TypeError(`stopOnSignals: options must be an object, got ${describe(options)}`)
  for (const key of Object.keys(options)) {
    if (!known.has(key)) throw new TypeError(`stopOnSignals: unknown option '${key}'; known options: ${[...known].join(', ')}`)
  }
  for (const key of ['exit', 'quit', 'status'] as const) {
    if (options[key] !== undefined && typeof options[key] !== 'boolean') throw new TypeError(`stopOnSignals: option '${key}' must be a boolean, got ${describe(options[key])}`)
  }
  if (options.onNote !== undefined && typeof options.onNote !== 'function') throw new TypeError(`stopOnSignals: option 'onNote' must be a function, got ${describe(options.onNote)}`)
  return ending(list, options, side, onHangup)
}

async function ending(list: readonly Lifecycle[], options: StopOnSignalsOptions, side: ProcessSide, onHangup: (() => void) | undefined): Promise<number> {
  const note = options.onNote ?? writeNote

  /** The signal that began the stop, which decides the code. */
  let first: NodeJS.Signals | undefined
  let gaveUp = false
  /** A run gave up, before or after a signal began the stop. */
  let gaveUpToo = false
  let stopping: Promise<StopReport[]> | undefined
  const stopAll = (reason: unknown): void => {
    stopping ??= Promise.all(list.map((run) => run.stop(reason)))
  }
  /** The process groups a second SIGINT or a SIGQUIT killed, for the stop report. */
  const killedGroups: string[] = []
  const kill = (signal: NodeJS.Signals): void => {
    const groups = killProcessGroups()
    killedGroups.push(...groups.map((pgid) => `process group ${pgid}`))
    note({ type: 'killed', signal, groups })
  }
  const onStop = (signal: NodeJS.Signals): void => {
    if (first === undefined && !gaveUp) {
      first = signal
      note({ type: 'stopping', signal })
      stopAll(new Error(`received ${signal}`))
    } else if (signal === 'SIGINT') kill(signal)
  }
  const onQuit = (signal: NodeJS.Signals): void => {
    kill(signal)
    if (first === undefined && !gaveUp) {
      first = signal
      stopAll(new Error(`received ${signal}`))
    }
  }
  const onStatus = (signal: NodeJS.Signals): void => note({ type: 'status', signal, status: list.map((run) => run.status()) })
  const listening: Array<[NodeJS.Signals, (signal: NodeJS.Signals) => void]> = stopSignals.map((signal) => [signal, signal === 'SIGHUP' && onHangup !== undefined ? () => onHangup() : onStop])
  if (options.quit === true) listening.push(['SIGQUIT', onQuit])
  if (options.status === true) listening.push(['SIGUSR2', onStatus])
  for (const [signal, listener] of listening) side.on(signal, listener)

  let code: number
  try {
    await Promise.all(
      list.map((run) =>
        run.done.then((outcome: Outcome) => {
          if (outcome.kind !== 'gave-up') return
          gaveUpToo = true
          note({ type: 'gave-up', name: run.name, error: errorInfo(outcome.error) })
          if (first !== undefined) return
          // A root that gives up ends the program: the other runs are stopped.
          gaveUp = true
          stopAll(outcome.error)
        }),
      ),
    )
    if (first !== undefined) {
      const reports = await stopping!
      // A run that gave up did so on its own (a stopped run ends 'stopped'), perhaps while the
      // signal's stop waited for it: the give-up decides the code, not the signal.
      code = gaveUpToo ? 1 : 128 + (constants.signals[first] ?? 0)
      note({ type: 'stopped', signal: first, report: { unstopped: reports.flatMap((report) => report.unstopped), killed: [...reports.flatMap((report) => report.killed), ...killedGroups] }, code })
    } else code = gaveUp ? 1 : 0
    await stopping
  } finally {
    for (const [signal, listener] of listening) side.off(signal, listener)
  }
  if (options.exit !== false) side.exit(code)
  return code
}

/**
 * SIGKILLs the process group of every process ward child of this process whose group may still
 * be alive (its child itself where there are no groups) and returns their ids: "stop now".
 * @internal
 */
export function killProcessGroups(): number[] {
  const killed: number[] = []
  for (const child of liveChildren) {
    if (child.pid === undefined) continue
    try {
      process.kill(process.platform === 'win32' ? child.pid : -child.pid, 'SIGKILL')
    } catch {
      child.kill('SIGKILL')
    }
    killed.push(child.pid)
  }
  return killed
}

/** A run's status tree as lines, one per run, indented by depth. @internal */
export function statusLines(status: WardStatus, depth = 0): string[] {
  const parts = [
    status.state,
    `attempt ${status.attempt}`,
    `${status.restarts} restart${status.restarts === 1 ? '' : 's'}`,
    ...(status.up ? ['up'] : []),
    ...(status.lastBeatAgo === null ? [] : [`last beat ${Math.round(status.lastBeatAgo)} ms ago`]),
    ...(status.lastFailure === null ? [] : [`last failure: ${status.lastFailure.message}`]),
  ]
  return [`${'  '.repeat(depth)}${status.path}: ${parts.join(', ')}`, ...status.children.flatMap((child) => statusLines(child, depth + 1))]
}

function writeNote(note: SignalNote): void {
  const lines: string[] = []
  switch (note.type) {
    case 'stopping':
      lines.push(`received ${note.signal}: stopping (send SIGINT again to kill the child processes now)`)
      break
    case 'killed':
      lines.push(`received ${note.signal}: SIGKILL to ${note.groups.length === 0 ? 'no process group left' : `process groups ${note.groups.join(', ')}`}`)
      break
    case 'status':
      lines.push(`status on ${note.signal}:`, ...note.status.flatMap((status) => statusLines(status, 1)))
      break
    case 'gave-up':
      lines.push(`${note.name} gave up: ${note.error.message}`)
      break
    case 'stopped': {
      const { unstopped, killed } = note.report
      lines.push(
        `stopped on ${note.signal}${unstopped.length === 0 ? '' : `; unstopped: ${unstopped.join(', ')}`}${killed.length === 0 ? '' : `; killed with SIGKILL: ${killed.join(', ')}`}; exit ${note.code}`,
      )
      break
    }
  }
  process.stderr.write(lines.map((line) => `steward: ${line}\n`).join(''))
}
