import { endOnSignals, statusLines, type ProcessSide, type SignalNote } from '../isolation/stop-on-signals.js'
import type { Lifecycle } from '../steward/run-api.js'
import type { Printer } from './output.js'
import type { BoundHttp } from './http.js'
import type { Controllable } from '../http/handler.js'
import type { GaveUpError } from '../steward/errors.js'
import { startErrorExitCode } from './exit-code.js'
import { notifySystemd, type NotifyTarget } from './sd-notify.js'

/** What {@link foreground} needs of the process it runs in (the real `process`, or a test's). */
export type SignalSource = Omit<ProcessSide, 'exit'>

/** What {@link foreground} is told besides the run and the printer. */
export interface ForegroundOptions {
  /** The exit code when the run completed. */
  readonly completedCode: () => number
  /** Where signals come from (default: `process`). */
  readonly signals?: SignalSource | undefined
  /** The HTTP face, bound before the run started (`bindHttp`). */
  readonly http?: BoundHttp | undefined
  /** The exit code of a give-up, when it gives one (a temporary child's own code); else 1. */
  readonly gaveUpCode?: ((error: GaveUpError) => number | undefined) | undefined
  /** systemd's notification socket (`takeNotifyEnv`), when steward runs under `Type=notify`. */
  readonly notify?: NotifyTarget | undefined
  /** Called on SIGHUP instead of stopping the run (`steward up`: reload the config). */
  readonly onHangup?: (() => void) | undefined
  /** What the HTTP face's `POST /reload` calls (`steward up`: reload the config); without it, that route is 404. */
  readonly reload?: (() => Promise<unknown>) | undefined
  /** What the HTTP face's `POST /apps/NAME/…` act on (`steward up`: its apps, instances included); default the run's own methods. */
  readonly apps?: Controllable | undefined
}

/**
 * Runs a started steward or supervisor in the foreground until it settles, and returns the exit
 * code, with the library's {@link endOnSignals} (what `stopOnSignals` is): SIGINT, SIGTERM or
 * SIGHUP stops it gracefully (every ward in reverse start order, each within its stop deadline),
 * prints the stop report and gives 130, 143 or 129; a second SIGINT, or SIGQUIT at any time,
 * SIGKILLs every child's process group at once (SIGQUIT gives 131 when it began the stop);
 * SIGUSR2 prints the status tree and keeps running. Otherwise 1 when it gave up, and
 * `completedCode()` when it completed (`gaveUpCode(error)`, when it gives one, for a give-up).
 * With `http` (bound before the run started: a taken port is a usage error, exit 2, before
 * anything starts), the run's status, metrics, events and dashboard are served while it runs.
 * With `notify` (systemd's `NOTIFY_SOCKET`, `takeNotifyEnv`), systemd hears `READY=1`,
 * `STATUS=`, `WATCHDOG=1` and `STOPPING=1` (`notifySystemd`). With `onHangup` (`steward up`:
 * reload the config), SIGHUP calls it instead of stopping the run.
 */
export async function foreground(run: Lifecycle, printer: Printer, options: ForegroundOptions): Promise<number> {
  const { completedCode, signals = process, http, gaveUpCode = () => undefined, notify, onHangup, reload, apps } = options
  const systemd = notify === undefined ? undefined : notifySystemd(run, notify, { onError: (message) => printer.note(`NOTIFY_SOCKET: ${message}; nothing more is sent to systemd`, { error: message }) })
  // Served from the start: the address was bound before the run started (bindHttp).
  if (http !== undefined) {
    http.serve(run, { reload, apps })
    printer.note(`dashboard on ${http.url}/${http.token ? '#token=…' : ''} (metrics on ${http.url}/metrics)`, { http: http.address })
  }
  const onNote = (note: SignalNote): void => {
    if (note.type === 'stopping') systemd?.stopping()
    print(printer, note)
  }
  const ended = endOnSignals(run, { exit: false, quit: true, status: true, onNote }, { on: signals.on.bind(signals), off: signals.off.bind(signals), exit: noop }, onHangup)
  try {
    const code = await ended
    const outcome = await run.done
    if (outcome.kind === 'completed' && code === 0) return completedCode()
    // Gave up because a command cannot be started: 127 or 126, as a shell exits (not found, not
    // executable); a temporary child that exited on its own: its code, as tini and dumb-init do.
    if (outcome.kind === 'gave-up' && code === 1) return startErrorExitCode(outcome.error) ?? gaveUpCode(outcome.error) ?? 1
    return code
  } finally {
    await http?.close()
    await systemd?.close()
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
