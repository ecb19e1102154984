import { basename } from 'node:path'
import { parseArgs } from 'node:util'
import { findConfig } from './config.js'
import { checkSocketPath, defaultSocket, request, type AppStatus, type ControlRequest } from './control.js'
import { UsageError } from './flags.js'
import { flagError, runSocketKey } from './run.js'

import type { ControlCommand } from './commands.js'

/** Exit code when no steward listens on the socket (as `systemctl status` gives for a unit not running). */
export const notRunningCode = 3

const where = `  -c, --config FILE  the config of the steward up to talk to (default: the first of
                     steward.config.js, .mjs, .json in the current folder)
  --name NAME        talk to the steward run of this --name (or command) started in the
                     current folder instead
  --socket PATH      the control socket itself (as given to steward up/run --socket)
  --json             the answer as JSON
  -h, --help         this help`

const exits = `Exit: 0 when done, 1 when the action failed, 2 for bad usage (an unknown app, an invalid
config), 3 when no steward is running on the socket.`

const usages: Record<ControlCommand, string> = {
  status: `Usage: steward status [NAME…] [flags]

Each app of a running steward (or the NAMEs): its state, pid, uptime, restarts, CPU, memory, open
files and last failure with its reason (or its failing probe).

${where}

${exits}`,
  restart: `Usage: steward restart NAME… [flags]

Restarts each app in turn (an app in a tree follows its supervisor's strategy: one-for-all
restarts its siblings too); answers once each is started again. An app with instances is
restarted one copy at a time, each once the one before is up again (a rolling restart; a copy
that does not come up stops it: exit 1); NAME:N restarts one copy.

${where}

${exits}`,
  stop: `Usage: steward stop NAME… [flags]

Stops each app (gracefully, within its stop deadline); it stays stopped until steward start.

${where}

${exits}`,
  start: `Usage: steward start NAME… [flags]

Starts each stopped (or given-up) app again.

${where}

${exits}`,
  reload: `Usage: steward reload [flags]

Reads and validates the config file again, then applies only the difference: new apps are
started, removed apps stopped, changed apps restarted, the others left alone. An invalid config
changes nothing: the reason is printed and the exit code is 2. SIGHUP to steward up does the same.

${where}

${exits}`,
  logs: `Usage: steward logs [NAME…] [-f] [-n N] [flags]

The last lines of each app (or the NAMEs), from memory (${'1000'} per app), as path | line
(path ! line from stderr); with -f, then each new line until Ctrl-C.

  -f, --follow       go on with new lines until Ctrl-C (or the steward ends)
  -n, --lines N      lines per app first (default 10; 0 for only new ones)
${where}

Exit: 0 when done (Ctrl-C ends -f with 0), 2 for bad usage, 3 when no steward is running.`,
}

/** What a control command's line asks for. */
export interface ControlPlan {
  readonly help: boolean
  readonly json: boolean
  readonly socket: string
  /** What the socket belongs to, for the message when nothing listens there. */
  readonly what: string
  readonly names: readonly string[]
  readonly follow: boolean
  readonly lines: number
}

/** Parses a control command's arguments (those after the command). Throws a UsageError. */
export function parseControl(command: ControlCommand, argv: readonly string[], cwd: string, env: NodeJS.ProcessEnv = process.env): ControlPlan {
  const options = {
    json: { type: 'boolean' },
    socket: { type: 'string' },
    config: { type: 'string', short: 'c' },
    name: { type: 'string' },
    help: { type: 'boolean', short: 'h' },
    ...(command === 'logs' && { follow: { type: 'boolean' as const, short: 'f' }, lines: { type: 'string' as const, short: 'n' } }),
  } as const
  let values: Record<string, string | boolean | undefined>
  let positionals: string[]
  try {
    const parsed = parseArgs({ args: [...argv], options, allowPositionals: true, strict: true })
    values = parsed.values
    positionals = parsed.positionals
  } catch (error) {
    throw flagError(error as Error, Object.keys(options), `steward ${command}`)
  }
  const help = values.help === true
  const names = positionals
  if (!help && (command === 'restart' || command === 'stop' || command === 'start') && names.length === 0) throw new UsageError(`steward ${command}`, `give the apps to ${command}: steward ${command} NAME… (steward status lists them)`)
  if (!help && command === 'reload' && names.length > 0) throw new UsageError('steward reload', `reloads the whole config and takes no app names, got ${names.join(' ')}`)
  const given = [values.socket, values.config, values.name].filter((value) => value !== undefined).length
  if (given > 1) throw new UsageError(`steward ${command}`, 'give one of --socket, --config and --name')
  let lines = 10
  if (typeof values.lines === 'string') {
    if (!/^\d+$/.test(values.lines.trim()) || Number(values.lines) > 1000) throw new UsageError('--lines', `must be an integer from 0 to 1000, got ${JSON.stringify(values.lines)}`)
    lines = Number(values.lines)
  }
  const base = { help, json: values.json === true, names, follow: values.follow === true, lines }
  if (help) return { ...base, socket: '', what: '' }
  if (typeof values.socket === 'string') return { ...base, socket: checkSocketPath(values.socket, '--socket'), what: values.socket }
  if (typeof values.name === 'string') {
    if (values.name === '') throw new UsageError('--name', 'must not be empty')
    return { ...base, socket: defaultSocket(runSocketKey(cwd, values.name), env), what: `steward run --name ${values.name} in ${cwd}` }
  }
  let file: string
  try {
    file = findConfig(typeof values.config === 'string' ? values.config : undefined, cwd)
  } catch (error) {
    throw new UsageError(typeof values.config === 'string' ? '--config' : `steward ${command}`, `${(error as UsageError).message.replace(/^steward up: /, '')}; give -c FILE, --name NAME or --socket PATH`)
  }
  return { ...base, socket: defaultSocket(`up:${file}`, env), what: basename(file) }
}

/** Runs a control command; returns its exit code. */
export async function controlCommand(command: ControlCommand, argv: readonly string[], write: (line: string) => void, cwd: string = process.cwd()): Promise<number> {
  let plan: ControlPlan
  try {
    plan = parseControl(command, argv, cwd)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`steward ${command}: ${error.message}\n`)
    return 2
  }
  if (plan.help) {
    write(usages[command])
    return 0
  }
  const message: ControlRequest =
    command === 'status'
      ? { command, names: plan.names }
      : command === 'reload'
        ? { command }
        : command === 'logs'
          ? { command, names: plan.names, lines: plan.lines, follow: plan.follow }
          : { command, names: plan.names }
  const controller = new AbortController()
  const onSignal = (): void => controller.abort()
  if (plan.follow) {
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
  }
  let answers: Record<string, unknown>[]
  try {
    answers = await request(plan.socket, message, {
      signal: controller.signal,
      ...(command === 'status' && { timeout: 10_000 }),
      // Lines as they come (logs -f runs until the client stops it).
      onLine: (line) => {
        if (line.type === 'line') write(plan.json ? JSON.stringify(line) : `${String(line.path)} ${line.stream === 'stderr' ? '!' : '|'} ${String(line.line)}`)
      },
    })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT' || code === 'ECONNREFUSED') {
      process.stderr.write(`steward ${command}: no steward is running for ${plan.what} (socket ${plan.socket})\n`)
      return notRunningCode
    }
    process.stderr.write(`steward ${command}: ${(error as Error).message} (socket ${plan.socket})\n`)
    return 1
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  if (command === 'logs') {
    const failed = answers.find((answer) => answer.ok === false)
    if (failed !== undefined) return refused(command, failed, plan.json, write)
    if (plan.follow && !controller.signal.aborted) process.stderr.write(`steward logs: the steward ended\n`)
    return 0
  }
  const answer = answers.at(-1)
  if (answer === undefined) {
    process.stderr.write(`steward ${command}: the steward closed the connection without an answer (it may be stopping)\n`)
    return 1
  }
  if (answer.ok !== true) return refused(command, answer, plan.json, write)
  if (plan.json) write(JSON.stringify(answer))
  else if (command === 'status') for (const line of statusTable(answer.apps as AppStatus[])) write(line)
  else if (command === 'reload') write(reloadLine(answer as unknown as Record<'started' | 'stopped' | 'restarted' | 'unchanged', string[]>))
  else write(`${command === 'stop' ? 'stopped' : command === 'start' ? 'started' : 'restarted'} ${plan.names.join(', ')}`)
  return 0
}

function refused(command: ControlCommand, answer: Record<string, unknown>, json: boolean, write: (line: string) => void): number {
  process.stderr.write(`steward ${command}: ${String(answer.error)}\n`)
  if (json) write(JSON.stringify(answer))
  return answer.code === 'failed' ? 1 : 2
}

function reloadLine(result: Record<'started' | 'stopped' | 'restarted' | 'unchanged', readonly string[]>): string {
  const parts = (['started', 'stopped', 'restarted', 'unchanged'] as const).filter((key) => result[key].length > 0).map((key) => `${key} ${result[key].join(', ')}`)
  return `reloaded: ${parts.length === 0 ? 'no apps' : parts.join('; ')}`
}

/** A person's table of apps: aligned columns, `-` where a value is not known. */
export function statusTable(apps: readonly AppStatus[]): string[] {
  const rows = apps.map((app) => [
    app.name,
    app.state === 'working' && !app.up ? 'starting' : app.state,
    app.pid === null ? '-' : String(app.pid),
    app.uptime === null ? '-' : duration(app.uptime),
    String(app.restarts),
    app.cpu === null ? '-' : `${app.cpu.toFixed(1)}s`,
    app.rss === null ? '-' : bytes(app.rss),
    app.fds === null || app.fds === undefined ? '-' : String(app.fds),
    [...(app.probeFailure === null ? [] : [`probe: ${app.probeFailure}`]), ...(app.lastFailure === null ? [] : [app.lastFailure.message])].join('; ') || '-',
  ])
  const header = ['NAME', 'STATE', 'PID', 'UPTIME', 'RESTARTS', 'CPU', 'MEM', 'FDS', 'LAST FAILURE']
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)))
  return [header, ...rows].map((row) =>
    row
      .map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!)))
      .join('  ')
      .trimEnd(),
  )
}

/** `12s`, `4m 3s`, `2h 5m`, `3d 4h`. */
export function duration(ms: number): string {
  const seconds = Math.floor(ms / 1000)
  if (seconds < 60) return `${seconds}s`
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m ${seconds % 60}s`
  if (seconds < 86_400) return `${Math.floor(seconds / 3600)}h ${Math.floor((seconds % 3600) / 60)}m`
  return `${Math.floor(seconds / 86_400)}d ${Math.floor((seconds % 86_400) / 3600)}h`
}

/** `812K`, `45.3M`, `1.2G` (powers of 1024, as `--max-memory` reads them). */
export function bytes(count: number): string {
  if (count < 1024 * 1024) return `${Math.round(count / 1024)}K`
  if (count < 1024 ** 3) return `${(count / 1024 ** 2).toFixed(1)}M`
  return `${(count / 1024 ** 3).toFixed(1)}G`
}
