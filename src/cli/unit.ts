import { realpathSync } from 'node:fs'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { toMs } from '../time/duration.js'
import { buildConfig, configNames, findConfig, readConfig } from './config.js'
import { parseDuration, UsageError } from './flags.js'
import { flagError } from './run.js'

export const unitUsage = `Usage: steward unit [config] [--name NAME] [--user USER] [--watchdog D]

Prints a systemd service unit that runs \`steward up\` on the config, validated first (default:
the first of ${configNames.join(', ')} in the current folder).
Save it as /etc/systemd/system/NAME.service, then:
  systemctl daemon-reload && systemctl enable --now NAME

  --name NAME     the service's name in its Description and the header (default: the config's
                  name, or steward)
  --user USER     run as this user (User=; default: the service manager's, root for a system unit)
  --watchdog D    WatchdogSec=: systemd restarts steward when its own event loop has not pinged
                  for D (default 30s; 0 for none)`

/** What `steward unit`'s command line asks for. */
export interface UnitPlan {
  readonly help: boolean
  readonly file: string | undefined
  readonly name: string | undefined
  readonly user: string | undefined
  /** `WatchdogSec=` in ms; 0 for none. */
  readonly watchdog: number
}

const unitFlags = { name: { type: 'string' }, user: { type: 'string' }, watchdog: { type: 'string' }, help: { type: 'boolean', short: 'h' } } as const

/** Parses `steward unit`'s arguments (those after `unit`). Throws a {@link UsageError}. */
export function parseUnit(argv: readonly string[]): UnitPlan {
  let parsed
  try {
    parsed = parseArgs({ args: [...argv], allowPositionals: true, options: unitFlags, strict: true })
  } catch (error) {
    throw flagError(error as Error, Object.keys(unitFlags), 'steward unit')
  }
  const { values, positionals } = parsed
  if (positionals.length > 1) throw new UsageError('steward unit', `one config file at most, got ${positionals.join(' ')}`)
  for (const flag of ['name', 'user'] as const) {
    const value = values[flag]
    if (value !== undefined && !/^[^\s%$"'\\]+$/.test(value)) throw new UsageError(`--${flag}`, `must be a non-empty word without spaces, quotes, '%', '$' or '\\', got ${JSON.stringify(value)}`)
  }
  const watchdog = values.watchdog === undefined ? 30_000 : parseDuration(values.watchdog, '--watchdog', { zero: true })
  if (watchdog !== 0 && watchdog < 1_000) throw new UsageError('--watchdog', `must be 0 (none) or at least 1s, got ${JSON.stringify(values.watchdog)}`)
  return { help: values.help === true, file: positionals[0], name: values.name, user: values.user, watchdog }
}

/** The margin `TimeoutStopSec=` adds to the children's stop deadlines: steward's own end and the guardian's. */
const stopMarginMs = 10_000

/**
 * How long a stop of the config's tree can take: its children are stopped one after the other in
 * reverse start order, each within its `stopTimeout` (default 5s), after which it is abandoned;
 * an app with `instances: N` is N children.
 */
export function stopDeadline(config: { readonly children: readonly Record<string, unknown>[] }): number {
  return config.children.reduce((sum, child) => sum + toMs((child.stopTimeout as number | string | undefined) ?? 5_000, 'stopTimeout') * (typeof child.instances === 'number' ? child.instances : 1), 0)
}

/**
 * One word of `ExecStart=`: as it is when it is plain, otherwise double-quoted with `\` and `"`
 * escaped; `%` (a specifier) doubled and `$` (a variable) doubled in either case.
 */
export function execWord(word: string): string {
  const escaped = word.replace(/%/g, '%%').replace(/\$/g, '$$$$')
  if (/^[A-Za-z0-9_@+=:,./-]+$/.test(word)) return escaped
  return `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`
}

/**
 * The unit text for a validated config file (absolute path), run by `node` (`process.execPath`)
 * and steward's executable (`bin`), both absolute.
 */
export function unitText(options: { readonly file: string; readonly name: string; readonly user: string | undefined; readonly watchdog: number; readonly stopMs: number; readonly node: string; readonly bin: string }): string {
  const { file, name, user, watchdog, stopMs, node, bin } = options
  const stopSeconds = Math.ceil((stopMs + stopMarginMs) / 1_000)
  const specifiers = (text: string): string => text.replace(/%/g, '%%')
  return [
    `# A systemd service for ${specifiers(file)}, printed by steward unit.`,
    `# Save as /etc/systemd/system/${name}.service, then: systemctl daemon-reload && systemctl enable --now ${name}`,
    '[Unit]',
    `Description=${name}: steward up ${specifiers(file)}`,
    'After=network.target',
    '',
    '[Service]',
    '# steward says READY=1 once every app is up, STATUS= lines and, with WatchdogSec=, WATCHDOG=1;',
    '# it sends them with systemd-notify, another process than the main one: NotifyAccess=all.',
    'Type=notify',
    'NotifyAccess=all',
    `ExecStart=${[node, bin, 'up', file].map(execWord).join(' ')}`,
    `WorkingDirectory=${specifiers(dirname(file))}`,
    '# SIGTERM to steward alone, which stops the apps in reverse start order, each within its own',
    '# deadline; whatever is left after TimeoutStopSec= is SIGKILLed (the whole cgroup).',
    'KillMode=mixed',
    `# The children's stop deadlines one after the other (${Math.ceil(stopMs / 1_000)} s), and ${stopMarginMs / 1_000} s for steward itself.`,
    `TimeoutStopSec=${stopSeconds}`,
    '# steward exits 143 after SIGTERM (130 after SIGINT): a stop asked for, not a failure.',
    'SuccessExitStatus=130 143',
    ...(watchdog === 0
      ? []
      : ['# steward pings from its own event loop every half of it: a frozen steward is killed and restarted.', `WatchdogSec=${watchdog % 1_000 === 0 ? watchdog / 1_000 : `${watchdog}ms`}`]),
    '# When steward gives up (exit 1) or is killed; a stop asked for is no failure.',
    'Restart=on-failure',
    ...(user === undefined ? [] : [`User=${user}`]),
    '',
    '[Install]',
    'WantedBy=multi-user.target',
  ].join('\n')
}

/** steward's executable beside this file (`dist/cli/bin.cjs`), through any symlink. */
function steward(): string {
  const bin = fileURLToPath(new URL('./bin.cjs', import.meta.url))
  try {
    return realpathSync(bin)
  } catch {
    return bin
  }
}

/** `steward unit`'s command line: the unit on stdout and 0, or 2 and why on stderr. */
export async function unitMain(argv: readonly string[], write: (line: string) => void, cwd: string = process.cwd()): Promise<number> {
  try {
    return await unitCommand(parseUnit(argv), cwd, write)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    process.stderr.write(`steward unit: ${error.message}\n`)
    return 2
  }
}

/** `steward unit`: prints the unit of a valid config; returns the exit code (a UsageError is the caller's: 2). */
export async function unitCommand(plan: UnitPlan, cwd: string, write: (line: string) => void): Promise<number> {
  if (plan.help) {
    write(unitUsage)
    return 0
  }
  const file = findConfig(plan.file, cwd)
  const raw = await readConfig(file)
  const config = buildConfig(raw, file)
  const named = (raw as { name?: unknown }).name
  const name = plan.name ?? (typeof named === 'string' && /^[^\s%$"'\\]+$/.test(named) ? named : 'steward')
  const bin = steward()
  write(unitText({ file: config.file, name, user: plan.user, watchdog: plan.watchdog, stopMs: stopDeadline(raw as { children: Record<string, unknown>[] }), node: process.execPath, bin }))
  return 0
}
