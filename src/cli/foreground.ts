import { liveChildren } from '../isolation/process-ward.js'
import type { Lifecycle, StopReport } from '../steward/run-api.js'
import type { Printer } from './output.js'
import { serveRun, type HttpPlan } from './http.js'
import type { HttpServer } from '../http/server.js'
import { startErrorExitCode } from './exit-code.js'

/** What {@link foreground} needs of the process it runs in (the real `process`, or a test's). */
export interface SignalSource {
  on(signal: 'SIGINT' | 'SIGTERM', listener: (signal: NodeJS.Signals) => void): unknown
  off(signal: 'SIGINT' | 'SIGTERM', listener: (signal: NodeJS.Signals) => void): unknown
}

/**
 * SIGKILLs every child process of a process ward that is still alive: its process group when it
 * leads one, else the child itself. The second SIGINT's "stop now".
 */
export function killEverything(): string[] {
  const killed: string[] = []
  for (const child of liveChildren) {
    if (child.pid === undefined) continue
    try {
      process.kill(-child.pid, 'SIGKILL')
    } catch {
      child.kill('SIGKILL')
    }
    killed.push(String(child.pid))
  }
  return killed
}

/**
 * Runs a started steward or supervisor in the foreground until it settles, and returns the exit
 * code: SIGINT or SIGTERM stops it gracefully (every ward in reverse start order, each within its
 * stop deadline), prints the stop report and gives 130 or 143; a second SIGINT SIGKILLs every
 * child process at once. Otherwise 1 when it gave up, and `completedCode()` when it completed.
 * With `http`, the run's status, metrics, events and dashboard are served while it runs; a server
 * that cannot listen (the port is taken) stops the run and gives 2.
 */
export async function foreground(run: Lifecycle, printer: Printer, completedCode: () => number, signals: SignalSource = process, http?: HttpPlan): Promise<number> {
  let server: HttpServer | undefined
  let stopping: { signal: NodeJS.Signals; report: Promise<StopReport> } | undefined
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping === undefined) {
      printer.note(`received ${signal}: stopping every ward (send SIGINT again to kill them now)`, { signal })
      stopping = { signal, report: run.stop(new Error(`steward received ${signal}`)) }
    } else if (signal === 'SIGINT') {
      const pids = killEverything()
      printer.note(`received SIGINT again: SIGKILL to ${pids.length === 0 ? 'no child left' : pids.join(', ')}`, { signal, killed: pids })
    }
  }
  signals.on('SIGINT', onSignal)
  signals.on('SIGTERM', onSignal)
  try {
    if (http !== undefined) {
      try {
        server = await serveRun(run, http, (line) => printer.note(line.replace(/^steward: /, ''), { http: `${http.host}:${http.port}` }))
      } catch (error) {
        printer.note(`--http ${http.host}:${http.port}: ${(error as Error).message}; stopping`, { error: (error as Error).message })
        await run.stop(error)
        return 2
      }
    }
    const outcome = await run.done
    // A signal may have come after the run settled on its own: what happened first decides.
    if (stopping !== undefined && outcome.kind === 'stopped') {
      const report = await stopping.report
      const code = stopping.signal === 'SIGINT' ? 130 : 143
      printer.report(report, code)
      return code
    }
    // Gave up because a command cannot be started: 127 or 126, as a shell exits (not found, not executable).
    if (outcome.kind === 'gave-up') return startErrorExitCode(outcome.error) ?? 1
    if (outcome.kind === 'completed') return completedCode()
    return 1
  } finally {
    signals.off('SIGINT', onSignal)
    signals.off('SIGTERM', onSignal)
    await server?.close()
  }
}
