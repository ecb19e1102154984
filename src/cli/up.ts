import { basename } from 'node:path'
import type { RunState } from '../observe/status.js'
import { parseArgs } from 'node:util'
import { buildConfig, configNames, findConfig, readConfig, type LoadedConfig } from './config.js'
import { foreground } from './foreground.js'
import { flagError, openLogs, type Io } from './run.js'
import { UsageError } from './flags.js'
import { bindHttp, httpFlags, httpUsage, type HttpPlan } from './http.js'
import { checkSocketPath, defaultSocket, openControl, type ControlServer } from './control.js'
import { reloadFrom, reloadNote, upApp, upTarget, type UpTarget } from './up-control.js'
import { applyReload } from './reload.js'
import { AppWatches } from './up-watch.js'
import type { SupervisorRun } from '../tree/supervisor.js'

export const upUsage = `Usage: steward up [config] [--check] [--json] [--http ADDR] [--socket PATH]

Starts a supervision tree from a config file (default: the first of ${configNames.join(', ')}
in the current folder) and supervises it in the foreground.

  --check               validate the config and exit (0 when valid, 2 when not); nothing is
                        started; a command not found on its PATH is a warning
  --json                one JSON object per line: the library's events, child lines as 'line'
${httpUsage}
  --socket PATH         the control socket that steward status|restart|stop|start|reload|logs
                        use (default: derived from the config file's path, in $XDG_RUNTIME_DIR
                        or the temp folder); another steward running on it: exit 2

The config's logs: { dir, maxSize, keep } also writes each child's stdout and stderr to
DIR/NAME.out.log and DIR/NAME.err.log, rotated by size (default: nothing is written to disk).
A child's watch: ['src'] restarts it when a file under src changes (node_modules and dot-names
ignored); its envFile: '.env' adds that file's KEY=VALUE lines beneath its env.
Under systemd's Type=notify steward sends READY=1, STATUS=, WATCHDOG=1 and STOPPING=1
(steward unit prints the unit).

Signals: SIGHUP reloads the config (as steward reload does). SIGINT and SIGTERM stop the tree
gracefully (a second SIGINT SIGKILLs every child's process group at once); SIGQUIT SIGKILLs them
at once; SIGUSR2 prints the status tree and goes on. However steward itself ends (even SIGKILL),
every child's process group is stopped.

Exit: 1 when the tree gives up (127/126 when it gave up because a command is not found /
cannot be executed), 2 for a bad config, --http on a taken port or a control socket another
steward holds, 130/143 after SIGINT/SIGTERM, 131 after SIGQUIT.`

/** What `steward up`'s command line asks for. */
export interface UpPlan {
  readonly help: boolean
  readonly check: boolean
  readonly json: boolean
  readonly file: string | undefined
  /** `--http` and `--http-token`, checked: where to serve the tree's status, metrics and dashboard. */
  readonly http: HttpPlan | undefined
  /** `--socket`: the control socket's path (default: {@link defaultSocket} of the config file). */
  readonly socket: string | undefined
}

/** Parses `steward up`'s arguments (those after `up`). Throws a {@link UsageError}. */
export function parseUp(argv: readonly string[]): UpPlan {
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: { check: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' }, http: { type: 'string' }, 'http-token': { type: 'string' }, socket: { type: 'string' } },
    })
  } catch (error) {
    throw flagError(error as Error, ['check', 'json', 'help', 'http', 'http-token', 'socket'], 'steward up')
  }
  const { values, positionals } = parsed
  if (positionals.length > 1) throw new UsageError('steward up', `one config file at most, got ${positionals.join(' ')}`)
  const http = httpFlags(values.http, values['http-token'])
  const socket = values.socket === undefined ? undefined : checkSocketPath(values.socket, '--socket')
  return { help: values.help === true, check: values.check === true, json: values.json === true, file: positionals[0], http, socket }
}

/** Finds, reads and validates the config; nothing is started. */
export async function loadConfig(plan: UpPlan, cwd: string): Promise<LoadedConfig> {
  const file = findConfig(plan.file, cwd)
  return buildConfig(await readConfig(file), file)
}

/**
 * Starts a validated config's tree and supervises it in the foreground, controlled through its
 * socket and SIGHUP (reload); returns the exit code. The log folder, the HTTP address and the
 * control socket are checked, bound and opened before any child starts: one that cannot be
 * (a folder not writable, a port taken, a socket another steward holds) is a UsageError, and
 * nothing was started.
 */
export async function upCommand(config: LoadedConfig, io: Io, http?: HttpPlan, socket?: string): Promise<number> {
  const logs = config.logs === undefined ? undefined : openLogs(config.logs, `${basename(config.file)}: key 'logs.dir'`, io.printer)
  let control: ControlServer | undefined
  let run: SupervisorRun | undefined
  let target: UpTarget | undefined
  // A change restarts the app as `steward restart NAME` does (the target's restart: what the operator's is).
  const watches = new AppWatches(io.printer, async (name) => target?.restart(name), (name) => appState(run, target?.config.groups.get(name), name), basename(config.file))
  try {
    const bound = http === undefined ? undefined : await bindHttp(http)
    try {
      control = await openControl(socket ?? defaultSocket(`up:${config.file}`))
      // Watching from before the start: a change while the apps start is not missed.
      watches.update(config.watches)
    } catch (error) {
      await bound?.close()
      throw error
    }
    run = config.tree.start({ onEvent: logs === undefined ? (event) => io.printer.event(event) : (event) => (logs.event(event), io.printer.event(event)) })
    const onReload = (reloading: Promise<unknown>): void => {
      void reloading.then(
        () => watches.update(target?.config.watches, (message) => io.printer.note(`reload: ${message}; that app is not watched`, { error: message })),
        () => undefined,
      )
    }
    const controlled = upTarget(run, config, reloadFrom(config.file), applyReload, (reloading) => (onReload(reloading), void reloadNote(io.printer, reloading)))
    target = controlled
    control.serve(controlled, run, upApp)
    const onHangup = (): void => {
      io.printer.note(`received SIGHUP: reloading ${config.file}`, { signal: 'SIGHUP' })
      // Its outcome is printed by reloadNote.
      controlled.reload().catch(() => undefined)
    }
    return await foreground(run, io.printer, { completedCode: () => 0, signals: io.signals, http: bound, notify: io.notify, onHangup, reload: () => controlled.reload(), apps: controlled.apps })
  } finally {
    watches.close()
    await control?.close()
    await logs?.close()
  }
}

/**
 * An app's state, for its watch: `undefined` before the tree started, once it is ending, or for no
 * such app; an app with `instances` (its copies' names in `copies`) is `stopped` when every copy is.
 */
function appState(run: SupervisorRun | undefined, copies: readonly string[] | undefined, name: string): RunState | undefined {
  if (run === undefined) return undefined
  const tree = run.status()
  if (tree.state !== 'working' && tree.state !== 'idle' && tree.state !== 'waiting' && tree.state !== 'starting') return undefined
  const states = tree.children.filter((child) => (copies === undefined ? child.name === name : copies.includes(child.name))).map((child) => child.state)
  if (states.length === 0) return undefined
  return states.find((state) => state !== 'stopped') ?? 'stopped'
}
