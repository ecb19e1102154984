import { endOnSignals, statusLines, type ProcessSide, type SignalNote } from '../isolation/stop-on-signals.js'
import type { Lifecycle } from '../steward/run-api.js'
import type { Printer } from './output.js'
import { serveRun, type HttpPlan } from './http.js'
import type { HttpServer } from '../http/server.js'
import { startErrorExitCode } from './exit-code.js'

/** What {@link foreground} needs of the process it runs in (the real `process`, or a test's). */
export type SignalSource = Omit<ProcessSide, 'exit'>

/**
 * Runs a started steward or supervisor in the foreground until it settles, and returns the exit
 * code, with the library's {@link endOnSignals} (what `stopOnSignals` is): SIGINT, SIGTERM or
 * SIGHUP stops it gracefully (every ward in reverse start order, each within its stop deadline),
 * prints the stop report and gives 130, 143 or 129; a second SIGINT, or SIGQUIT at any time,
 * SIGKILLs every child's process group at once (SIGQUIT gives 131 when it began the stop);
 * SIGUSR2 prints the status tree and keeps running. Otherwise 1 when it gave up, and
 * `completedCode()` when it completed. With `http`, the run's status, metrics, events and
 * dashboard are served while it runs; a server that cannot listen (the port is taken) stops the
 * run and gives 2. With `onHangup` (`steward up`: reload the config), SIGHUP calls it instead.
 */
export async function foreground(run: Lifecycle, printer: Printer, completedCode: () => number, signals: SignalSource = process, http?: HttpPlan, onHangup?: () => void): Promise<number> {
  const ended = endOnSignals(run, { exit: false, quit: true, status: true, onNote: (note) => print(printer, note) }, { on: signals.on.bind(signals), off: signals.off.bind(signals), exit: noop }, onHangup)
  let server: HttpServer | undefined
  try {
    if (http !== undefined) {
      try {
        server = await serveRun(run, http, (line) => printer.note(line.replace(/^steward: /, ''), { http: `${http.host}:${http.port}` }))
      } catch (error) {
        printer.note(`--http ${http.host}:${http.port}: ${(error as Error).message}; stopping`, { error: (error as Error).message })
        await run.stop(error)
        await ended
        return 2
      }
    }
    const code = await ended
    const outcome = await run.done
    if (outcome.kind === 'completed' && code === 0) return completedCode()
    // Gave up because a command cannot be started: 127 or 126, as a shell exits (not found, not executable).
    if (outcome.kind === 'gave-up' && code === 1) return startErrorExitCode(outcome.error) ?? 1
    return code
  } finally {
    await server?.close()
  }
}

/** A note of the signal helper as the CLI prints it (a give-up was already printed as its event). */
function print(printer: Printer, note: SignalNote): void {
  switch (note.type) {
    case 'stopping':
      printer.note(`received ${note.signal}: stopping every ward (send SIGINT again to kill them now)`, { signal: note.signal })
      break
    case 'killed': {
      const killed = note.groups.map(String)
      const again = note.signal === 'SIGINT' ? 'SIGINT again' : note.signal
      printer.note(`received ${again}: SIGKILL to ${killed.length === 0 ? 'no child left' : killed.join(', ')}`, { signal: note.signal, killed })
      break
    }
    case 'status':
      // One note per run of the tree, or, in JSON, one note with the trees as they are.
      if (printer.json) printer.note('status', { signal: note.signal, status: note.status })
      else for (const line of note.status.flatMap((status) => statusLines(status))) printer.note(`status: ${line}`, {})
      break
    case 'stopped':
      printer.report(note.report, note.code)
      break
    case 'gave-up':
      break
  }
}

function noop(): void {}
