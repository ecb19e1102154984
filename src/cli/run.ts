import { constants } from 'node:os'
import { basename, resolve } from 'node:path'
import { GaveUpError, MemoryLimitError, WardHungError, WardIdleTimeoutError, WardStalledError } from '../steward/errors.js'
import { parseArgs } from 'node:util'
import { processWard, type ProcessHeartbeat, type ProcessWardOptions } from '../isolation/process-ward.js'
import type { Backoff } from '../policy/backoff.js'
import type { RestartType, StewardOptions } from '../steward/options.js'
import { steward } from '../steward/steward.js'
import { suggestKey } from '../steward/validate.js'
import { foreground, type SignalSource } from './foreground.js'
import { Printer } from './output.js'
import type { NotifyTarget } from './sd-notify.js'
import { bindHttp, httpFlags, httpUsage, type HttpPlan } from './http.js'
import { cliBackoff, restartDefaults } from './defaults.js'
import { LogFiles, logLimits, prepareLogDir, type LogPlan } from './log-files.js'
import { parseBackoffRange, parseCount, parseDuration, parseEnvPair, parseProbe, parseSignal, parseSize, UsageError } from './flags.js'
import { checkSocketPath, ControlServer, defaultSocket, openControl, runTarget } from './control.js'
import { StewardRun } from '../steward/run.js'
import type { Run } from '../steward/run-api.js'
import { envFileVars } from './env-file.js'
import { defaultWatchDelay, describeChanges, FileWatcher, planWatch, type WatchPlan } from './watch.js'

export const runUsage = `Usage: steward run [flags] -- <command> [args…]

Runs one command in the foreground under a steward: restarts it when it exits with an error, when
its heartbeat stops (--probe) and, with --restart permanent, when it exits at all.

  --timeout D           heartbeat deadline (default 10s)
  --start-timeout D     deadline of the first beat (default: --timeout)
  --probe P             ipc | stdout | http:URL | tcp:[HOST:]PORT | exec:'CMD ARGS' | none (default none)
  --every D             probe interval for http, tcp and exec (default: --timeout / 2)
  --probe-timeout D     exec probe's own deadline, killed after it (default: --every)
  --restart R           permanent | transient | temporary (default permanent)
  --max-restarts N      give up after more than N restarts within --within (default Infinity:
                        never; the backoff slows a crash loop instead)
  --within D            the window of --max-restarts (default 1m; Infinity)
  --backoff MIN..MAX    wait MIN before a restart, doubling up to MAX, ±20 % jitter kept
                        inside MIN..MAX (default 100ms..30s)
  --backoff-reset D     start the backoff over from MIN after the child ran D (default 10s;
                        Infinity: never)
  --kill-signal S       signal that asks the child to stop (default SIGTERM)
  --kill-after D        SIGKILL after this long (default 5s)
  --stop-timeout D      how long a stop waits for the ward to settle (default 5s + --kill-after)
  --max-memory SIZE     restart above this RSS (512M, 1G, bytes)
  --max-line-length SIZE  longer child lines come in pieces of at most SIZE (default 64K)
  --progress-timeout D  restart when IPC progress does not change for D (default none)
  --idle-timeout D      restart a --probe none child alive for D (default none)
  --env K=V             add to the child's environment (repeatable; wins over --env-file)
  --env-file PATH       add the KEY=VALUE lines of PATH to the child's environment, read before
                        anything starts (repeatable, a later file wins; no shell expansion)
  --watch PATH          restart the child when a file under PATH changes (repeatable; a file or
                        a folder; node_modules and dot-names like .git are ignored)
  --watch-delay D       the quiet time after a change before the restart (default 200ms)
  --watch-ignore NAME   also ignore files and folders of this name under --watch; * matches any
                        characters ('*.log'; repeatable)
  --cwd DIR             the child's working directory (default: the current one)
  --name NAME           the ward's name in output (default: the command's base name)
  --shell               run the command through /bin/sh (arguments are then shell syntax)
  --json                one JSON object per line: the library's events, child lines as 'line'
  --log-dir DIR         also write the child's stdout and stderr to DIR/NAME.out.log and
                        DIR/NAME.err.log, each line with its time and pid (default: no files)
  --log-max-size SIZE   rotate a log file before it grows over SIZE (default 10M)
  --log-keep N          rotated files kept per stream, NAME.out.log.1 … .N (default 5)
  --socket PATH         the control socket for steward status|logs (default: derived from the
                        current folder and --name; when another steward holds the default, this
                        run goes without one; a PATH given and held by another steward: exit 2)
${httpUsage}

Signals: SIGINT, SIGTERM and SIGHUP stop the child gracefully (a second SIGINT SIGKILLs its
process group at once); SIGQUIT SIGKILLs it at once; SIGUSR2 prints the status and goes on.
However steward itself ends (even SIGKILL), the child's process group is stopped.

Exit: the child's code when it completes, 1 when steward gives up, 2 for bad usage,
127 when the command is not found and 126 when it cannot be executed (not restarted),
130/143/129 after SIGINT/SIGTERM/SIGHUP, 131 after SIGQUIT.`

const runFlags = {
  http: { type: 'string' },
  'http-token': { type: 'string' },
  timeout: { type: 'string' },
  'start-timeout': { type: 'string' },
  probe: { type: 'string' },
  every: { type: 'string' },
  'probe-timeout': { type: 'string' },
  restart: { type: 'string' },
  'max-restarts': { type: 'string' },
  within: { type: 'string' },
  backoff: { type: 'string' },
  'backoff-reset': { type: 'string' },
  'kill-signal': { type: 'string' },
  'kill-after': { type: 'string' },
  'stop-timeout': { type: 'string' },
  'max-memory': { type: 'string' },
  'max-line-length': { type: 'string' },
  'progress-timeout': { type: 'string' },
  'idle-timeout': { type: 'string' },
  env: { type: 'string', multiple: true },
  'env-file': { type: 'string', multiple: true },
  watch: { type: 'string', multiple: true },
  'watch-delay': { type: 'string' },
  'watch-ignore': { type: 'string', multiple: true },
  cwd: { type: 'string' },
  name: { type: 'string' },
  shell: { type: 'boolean' },
  json: { type: 'boolean' },
  'log-dir': { type: 'string' },
  'log-max-size': { type: 'string' },
  'log-keep': { type: 'string' },
  socket: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const

/**
 * parseArgs's error as a UsageError naming the flag, with the closest known flag for an unknown
 * one (`--timout` → `--timeout`). @internal
 */
export function flagError(error: Error, flags: readonly string[], command: string): UsageError {
  const flag = /'(-[^' ]+)/.exec(error.message)?.[1]
  if (flag === undefined) return new UsageError(command, error.message)
  if (error.message.startsWith('Unknown option')) {
    const suggestion = suggestKey(flag.replace(/^-+/, ''), flags)
    return new UsageError(flag, `unknown flag${suggestion === undefined ? '' : `; did you mean --${suggestion}?`} (steward ${command.split(' ')[1]} --help lists them)`)
  }
  return new UsageError(flag, error.message.split('. ')[0]!)
}

/** What `steward run`'s command line asks for, validated; nothing is started by parsing it. */
export interface RunPlan {
  readonly help: boolean
  readonly json: boolean
  readonly command: string
  readonly args: readonly string[]
  readonly ward: ProcessWardOptions
  readonly steward: StewardOptions
  /** `--max-memory` in bytes: processWard's `maxMemory`. */
  readonly maxMemory: number | undefined
  /** `--http` and `--http-token`, checked: where to serve the status, metrics and dashboard. */
  readonly http: HttpPlan | undefined
  /** `--log-dir` (absolute), `--log-max-size`, `--log-keep`: the child's log files, or none. */
  readonly logs?: LogPlan | undefined
  /** `--socket`: the control socket's path; `undefined`: the default of {@link runSocketKey}. */
  readonly socket: string | undefined
  /** `--watch`, `--watch-delay`, `--watch-ignore` (paths relative to the current folder, checked): restart the child on a change. */
  readonly watch?: WatchPlan | undefined
}

/** The key of `steward run`'s default control socket: the folder it runs in and its name. */
export function runSocketKey(cwd: string, name: string): string {
  return `run:${cwd}\0${name}`
}

const restartTypes: readonly RestartType[] = ['permanent', 'transient', 'temporary']

/** Parses and validates `steward run`'s arguments (those after `run`). Throws a {@link UsageError}. */
export function parseRun(argv: readonly string[]): RunPlan {
  const split = argv.indexOf('--')
  if (split === -1 && !argv.includes('--help') && !argv.includes('-h')) {
    throw new UsageError('steward run', `put the command after '--': steward run [flags] -- <command> [args…]`)
  }
  const flagArgs = split === -1 ? argv : argv.slice(0, split)
  const commandArgs = split === -1 ? [] : argv.slice(split + 1)
  let values
  let positionals
  try {
    ;({ values, positionals } = parseArgs({ args: [...flagArgs], options: runFlags, allowPositionals: true, strict: true }))
  } catch (error) {
    throw flagError(error as Error, Object.keys(runFlags), 'steward run')
  }
  const nothing = { help: true, json: false, command: '', args: [], ward: {}, steward: {}, maxMemory: undefined, http: undefined, socket: undefined }
  if (values.help === true) return nothing
  if (positionals.length > 0) throw new UsageError('steward run', `put the command after '--': steward run [flags] -- ${positionals.join(' ')}`)
  const [command, ...args] = commandArgs
  if (command === undefined || command === '') throw new UsageError('steward run', `no command: steward run [flags] -- <command> [args…]`)
  const http = httpFlags(values.http, values['http-token'])

  const duration = (flag: keyof typeof runFlags, rules: { zero?: boolean; infinite?: boolean } = { zero: false }): number | undefined => {
    const value = values[flag]
    return typeof value === 'string' ? parseDuration(value, `--${flag}`, rules) : undefined
  }
  const timeout = duration('timeout')
  const every = duration('every')
  const probeTimeout = duration('probe-timeout')
  const probeText = values.probe ?? 'none'
  if (probeTimeout !== undefined && !probeText.startsWith('exec:')) throw new UsageError('--probe-timeout', `applies to an exec probe only (--probe exec:'CMD ARGS'), not ${JSON.stringify(probeText)}`)
  const heartbeat: ProcessHeartbeat = parseProbe(probeText, '--probe', every, probeTimeout)
  if (every !== undefined && typeof heartbeat === 'string') throw new UsageError('--every', `applies to http, tcp and exec probes, not --probe ${probeText}`)
  const restart = values.restart ?? 'permanent'
  if (!restartTypes.includes(restart as RestartType)) throw new UsageError('--restart', `must be one of ${restartTypes.join(', ')}, got ${JSON.stringify(restart)}`)
  const maxRestarts = values['max-restarts'] === undefined ? undefined : parseCount(values['max-restarts'], '--max-restarts')
  const within = duration('within', { zero: false, infinite: true })
  const backoffReset = duration('backoff-reset', { zero: false, infinite: true }) ?? restartDefaults.backoff.resetAfter
  const backoff: Backoff = cliBackoff({ ...(values.backoff === undefined ? restartDefaults.backoff : parseBackoffRange(values.backoff, '--backoff')), resetAfter: backoffReset })
  const killSignal = values['kill-signal'] === undefined ? undefined : parseSignal(values['kill-signal'], '--kill-signal')
  const killAfter = duration('kill-after', {})
  const stopTimeout = duration('stop-timeout', {})
  const maxMemory = values['max-memory'] === undefined ? undefined : parseSize(values['max-memory'], '--max-memory')
  const maxLineLength = values['max-line-length'] === undefined ? undefined : parseSize(values['max-line-length'], '--max-line-length')
  if (maxLineLength !== undefined && maxLineLength < 4) throw new UsageError('--max-line-length', `must be at least 4 bytes (one UTF-8 character), got ${JSON.stringify(values['max-line-length'])}`)
  const progressTimeout = duration('progress-timeout')
  const idleTimeout = duration('idle-timeout')
  if (progressTimeout !== undefined && heartbeat !== 'ipc') throw new UsageError('--progress-timeout', `needs --probe ipc: progress comes with the child's IPC beats`)
  if (idleTimeout !== undefined && heartbeat !== 'none') throw new UsageError('--idle-timeout', `applies to --probe none (a child without a heartbeat waits until it exits)`)
  // Beneath --env, above steward's own environment: the file is this command's, the shell's is not.
  const env: Record<string, string | undefined> = { ...process.env }
  for (const file of values['env-file'] ?? []) Object.assign(env, envFileVars(file, process.cwd(), '--env-file'))
  for (const pair of values.env ?? []) {
    const [key, value] = parseEnvPair(pair, '--env')
    env[key] = value
  }
  if (values.cwd === '') throw new UsageError('--cwd', 'must not be empty')
  if (values.name === '') throw new UsageError('--name', 'must not be empty')
  const startTimeout = duration('start-timeout')
  const logDir = values['log-dir']
  if (logDir === undefined) {
    const without = values['log-max-size'] !== undefined ? '--log-max-size' : values['log-keep'] !== undefined ? '--log-keep' : undefined
    if (without !== undefined) throw new UsageError(without, 'applies to log files: give --log-dir DIR too')
  } else if (logDir === '') throw new UsageError('--log-dir', 'must not be empty')
  const logs: LogPlan | undefined = logDir === undefined ? undefined : { dir: resolve(logDir), ...logLimits(values['log-max-size'], values['log-keep'], { maxSize: '--log-max-size', keep: '--log-keep' }) }
  if (every !== undefined && every >= (timeout ?? 10_000)) {
    throw new UsageError('--every', `(${every} ms) must be below --timeout (${timeout ?? 10_000} ms), or one slow answer is a hang`)
  }
  const ward: ProcessWardOptions = {
    heartbeat,
    env,
    ...(values.cwd === undefined ? {} : { cwd: values.cwd }),
    ...(values.shell === true ? { shell: true } : {}),
    ...(killSignal === undefined ? {} : { killSignal }),
    ...(killAfter === undefined ? {} : { killAfter }),
    ...(maxLineLength === undefined ? {} : { maxLineLength }),
  }
  const stewardOptions: StewardOptions = {
    name: values.name ?? basename(command),
    restart: restart as RestartType,
    // The ward ends only after its child exited: a stop waits for SIGKILL after kill-after.
    stopTimeout: stopTimeout ?? 5_000 + (killAfter ?? 5_000),
    ...(timeout === undefined ? {} : { timeout }),
    ...(startTimeout === undefined ? {} : { startTimeout }),
    // The defaults `steward up` shares (./defaults.ts): a crash loop is slowed, not abandoned.
    maxRestarts: maxRestarts ?? restartDefaults.maxRestarts,
    within: within ?? restartDefaults.within,
    backoff,
    ...(progressTimeout === undefined ? {} : { progressTimeout }),
    ...(idleTimeout === undefined ? {} : { idleTimeout }),
  }
  const socket = values.socket === undefined ? undefined : checkSocketPath(values.socket, '--socket')
  const watchDelay = duration('watch-delay')
  if (values.watch === undefined) {
    const without = watchDelay !== undefined ? '--watch-delay' : values['watch-ignore'] !== undefined ? '--watch-ignore' : undefined
    if (without !== undefined) throw new UsageError(without, 'applies to watch mode: give --watch PATH too')
  }
  const watch = values.watch === undefined ? undefined : planWatch(values.watch, process.cwd(), watchDelay ?? defaultWatchDelay, values['watch-ignore'] ?? [], { paths: '--watch', ignore: '--watch-ignore' })
  return { help: false, json: values.json === true, command, args, ward, steward: stewardOptions, maxMemory, http, logs, socket, watch }
}

/** What `steward run` writes to and listens on. */
export interface Io {
  readonly printer: Printer
  readonly signals?: SignalSource
  /** systemd's `NOTIFY_SOCKET` and watchdog, taken from the environment before anything started. */
  readonly notify?: NotifyTarget | undefined
}

/**
 * Builds the steward of a plan (the library validates its options again: a mistake there is a
 * UsageError naming the flag), starts it, and runs it in the foreground. Returns the exit code.
 */
export async function runCommand(plan: RunPlan, io: Io): Promise<number> {
  /** How the last child ended: its exit code, or the signal that killed it. */
  let lastExit: { code: number | null; signal: NodeJS.Signals | null } = { code: 0, signal: null }
  let supervised
  try {
    const ward = processWard(plan.command, plan.args, {
      ...plan.ward,
      ...(plan.maxMemory === undefined ? {} : { maxMemory: plan.maxMemory }),
      onSpawn: (child) => child.once('exit', (code, signal) => (lastExit = { code, signal })),
    })
    supervised = steward(ward, plan.steward)
  } catch (error) {
    throw new UsageError('steward run', (error as Error).message)
  }
  // Checked and bound before the child starts: a folder that cannot be written, a taken port or
  // a control socket another steward holds is a usage error, and nothing was started.
  const logs = plan.logs === undefined ? undefined : openLogs(plan.logs, '--log-dir', io.printer)
  let control: ControlServer | undefined
  let watcher: FileWatcher | undefined
  let run: Run<unknown> | undefined
  try {
    const http = plan.http === undefined ? undefined : await bindHttp(plan.http)
    try {
      control = await runControl(plan)
      // Watching from before the start: a change while the child starts is not missed.
      if (plan.watch !== undefined) watcher = openWatch(plan.watch, '--watch', io.printer, (files) => run !== undefined && watchRestart(run, plan.steward.name!, files, io.printer))
    } catch (error) {
      await http?.close()
      throw error
    }
    run = supervised.start({ onEvent: logs === undefined ? (event) => io.printer.event(event) : (event) => (logs.event(event), io.printer.event(event)) })
    control?.serve(runTarget(run, [plan.command, ...plan.args].join(' ')), run, (path) => path.split('/')[0]!)
    return await foreground(run, io.printer, {
      completedCode: () => lastExit.code ?? 1,
      signals: io.signals,
      http,
      gaveUpCode: (error) => childExitCode(error, lastExit),
      notify: io.notify,
    })
  } finally {
    watcher?.close()
    await control?.close()
    await logs?.close()
  }
}

/**
 * Starts watching a plan; a folder that cannot be watched at all (the kernel's inotify limit,
 * say) is a {@link UsageError} naming `where`, one that fails later a note. @internal
 */
export function openWatch(plan: WatchPlan, where: string, printer: Printer, onChange: (files: readonly string[]) => void): FileWatcher {
  try {
    return new FileWatcher(plan, onChange, (message) => printer.note(`watch: ${message}`, { error: message }))
  } catch (error) {
    throw new UsageError(where, (error as Error).message)
  }
}

/**
 * `steward run --watch`'s restart: the child is retired and started again at once, as an
 * operator's restart of an app of `steward up` is (the `restarting` event's reason is `manual`),
 * after a note saying which files changed. A change while the child is already being replaced
 * (in its backoff) only says so, and one while it retires says nothing: the child that starts
 * next sees the files as they are.
 */
function watchRestart(run: Run<unknown>, name: string, files: readonly string[], printer: Printer): void {
  const what = describeChanges(files)
  const state = run.status().state
  // Retiring (for a restart, or the run's stop: the child that starts next, if any, sees the files as they are): nothing to say.
  if (state === 'stopping') return
  if (state === 'backoff' || state === 'restarting') {
    printer.note(`${name}: file changed: ${what}; it is already restarting (${state})`, { app: name, files, watch: state })
    return
  }
  if (!(run instanceof StewardRun) || (state !== 'working' && state !== 'idle' && state !== 'waiting')) return
  printer.note(`${name}: restarting (file changed: ${what})`, { app: name, files, watch: 'restart' })
  // The library's own restart of one run, as a supervisor does for its child.
  void run.retireFor('manual', 0).then(() => run.relaunch())
}

/**
 * The exit code of a temporary child that failed on its own (it exited non-zero, or a signal
 * killed it: 128 + the signal's number, as a shell gives it), which `steward run` passes through
 * as tini and dumb-init do; `undefined` for any other give-up (the restart limit, a hang, a stall,
 * the memory limit: steward ended it, exit 1).
 */
function childExitCode(error: GaveUpError, exit: { code: number | null; signal: NodeJS.Signals | null }): number | undefined {
  if (error.reason !== 'temporary') return undefined
  const cause = error.cause
  if (cause instanceof WardHungError || cause instanceof WardStalledError || cause instanceof WardIdleTimeoutError || cause instanceof MemoryLimitError) return undefined
  if (exit.code !== null && exit.code !== 0) return exit.code
  if (exit.signal !== null) return 128 + (constants.signals[exit.signal] ?? 0)
  return undefined
}

/**
 * The log files of a plan, their folder created and checked first (a {@link UsageError} naming
 * `where` when it cannot be written); a file that fails later is a note, not a stop.
 */
export function openLogs(plan: LogPlan, where: string, printer: Printer): LogFiles {
  prepareLogDir(plan.dir, where)
  return new LogFiles(plan, (message) => printer.note(`logs: ${message}`, { error: message }))
}

/**
 * `steward run`'s control socket: `--socket`'s (held by another steward: a UsageError), or the
 * default one, which a run goes without (saying so) when another steward of the same name in the
 * same folder holds it.
 */
async function runControl(plan: RunPlan): Promise<ControlServer | undefined> {
  if (plan.socket !== undefined) return openControl(plan.socket)
  try {
    return await ControlServer.open(defaultSocket(runSocketKey(process.cwd(), plan.steward.name!)))
  } catch (error) {
    // On stderr: a second run of one command in one folder is common (scripts, tests) and its output stays as it was.
    process.stderr.write(`steward run: no control socket for this run: ${(error as Error).message}\n`)
    return undefined
  }
}
