import { readFileSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { allDemoNames, controlCommands, demoNames, realTimeOnlyDemos, type ControlCommand } from './commands.js'
import { httpFace, httpUsage, planHttp } from './http.js'
import { UsageError } from './flags.js'
import { commandPrinter } from './output.js'
import { takeNotifyEnv } from './sd-notify.js'

// Each command's module is imported when that command runs: `steward run` loads no demo, no
// config loader and no control client; the HTTP face's server and dashboard load with --http.

/** `steward --help`. */
export const usage = `steward — heartbeat supervision for long-running Node.js work

Usage:
  steward run [flags] -- <command> [args…]   supervise one command (steward run --help)
  steward up [config] [--check] [--json]     supervise a tree from steward.config.js (steward up --help)
  steward unit [config]                      print a systemd unit for the tree (steward unit --help)
  steward status [NAME…] [--json]            a running steward's apps: state, pid, uptime, restarts, CPU, memory
  steward restart|stop|start NAME…           act on apps of a running steward up
  steward reload                             re-read its config; apply only what changed (as SIGHUP)
  steward logs [-f] [-n N] [NAME…]           recent lines of its apps, then follow
  steward demo <${demoNames.join('|')}|all> [--virtual] [--json] [--speed N] [--http ADDR]
  steward demo cluster [--redis URL] [--json]  three nodes on Redis, one killed (steward demo cluster --help)
  steward --help | --version

demo    replays the seed's programs (Concurrency in Go, "healing goroutines")
        under steward and prints their timelines (all = s1..s4); tree shows a
        supervision tree healing a crash, a hang and a cascade; cpu-hang and
        process heal a worker thread and a child process (real time only);
        cluster moves the wards of a killed node to the others on Redis.
  --virtual             run on a manual clock: finishes at once, times in virtual ms
  --json                the library's events, one JSON object per line: scenario, type, ward,
                        path, at (ms), attempt, ...
  --speed N             run real time N times faster (default 1)
${httpUsage}
                        (demo tree only; serves the final state after the demo until interrupted)

The control commands find a steward up by its config (-c FILE, default: the one in the current
folder) or --socket PATH; each takes --json and --help (steward status --help).

SIGINT and SIGTERM stop the demo gracefully (exit 130 / 143).`

/** Runs the command line; returns the exit code. */
export async function main(argv: readonly string[], write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Promise<number> {
  if (argv[0] === 'run') return (await import('./run-main.js')).runMain(argv.slice(1), write)
  if (argv[0] === 'up') return up(argv.slice(1), write)
  if (argv[0] === 'unit') return (await import('./unit.js')).unitMain(argv.slice(1), write)
  if ((controlCommands as readonly string[]).includes(argv[0]!)) return (await import('./ctl.js')).controlCommand(argv[0] as ControlCommand, argv.slice(1), write)
  if (argv[0] === 'demo' && argv[1] === 'cluster') return (await import('./demo-cluster.js')).clusterDemo(argv.slice(2), write)
  let parsed
  try {
    parsed = parseArgs({
      args: [...argv],
      allowPositionals: true,
      options: {
        virtual: { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        speed: { type: 'string', default: '1' },
        http: { type: 'string' },
        'http-token': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
        version: { type: 'boolean', short: 'v', default: false },
      },
    })
  } catch (error) {
    process.stderr.write(`steward: ${(error as Error).message}\n\n${usage}\n`)
    return 2
  }
  const { values, positionals } = parsed
  if (values.help) {
    write(usage)
    return 0
  }
  if (values.version) {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
    write(pkg.version)
    return 0
  }
  const [command, ...rest] = positionals
  if (command !== 'demo') {
    process.stderr.write(command === undefined ? `${usage}\n` : `steward: unknown command '${command}'\n\n${usage}\n`)
    return 2
  }
  const names = rest.length === 0 ? ['all'] : rest
  const ids: string[] = []
  for (const name of names) {
    if (name === 'all') ids.push(...allDemoNames)
    else if ((demoNames as readonly string[]).includes(name)) ids.push(name)
    else {
      process.stderr.write(`steward demo: unknown scenario '${name}'; choose from ${demoNames.join(', ')}, all\n`)
      return 2
    }
  }
  if (values.virtual) {
    const real = ids.filter((id) => realTimeOnlyDemos.includes(id))
    if (real.length > 0) {
      process.stderr.write(`steward demo: --virtual is not available for ${real.join(', ')}: they run real threads or processes\n`)
      return 2
    }
  }
  const speed = Number(values.speed)
  if (!(speed > 0) || !Number.isFinite(speed)) {
    process.stderr.write(`steward demo: --speed must be a positive number, got '${values.speed}'\n`)
    return 2
  }
  let http
  try {
    http = planHttp({ http: values.http, httpToken: values['http-token'] })
    if (http !== undefined && (values.virtual || ids.length !== 1 || ids[0] !== 'tree')) throw new Error('--http serves one real-time run: use it with `steward demo tree` (without --virtual)')
  } catch (error) {
    process.stderr.write(`steward demo: ${(error as Error).message}\n`)
    return 2
  }
  const controller = new AbortController()
  let exitCode = 0
  const onSignal = (signal: NodeJS.Signals): void => {
    exitCode = signal === 'SIGINT' ? 130 : 143
    controller.abort(new Error(`received ${signal}`))
  }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    const face = httpFace(http, write, (error) => {
      process.stderr.write(`steward demo: --http: ${error.message}\n`)
      exitCode = 1
      controller.abort(error)
    })
    try {
      const { runDemos } = await import('./demo.js')
      await runDemos(ids, { virtual: values.virtual, json: values.json, speed, signal: controller.signal, write, ...(face.started && { started: face.started }) })
      await face.hold(controller.signal)
    } finally {
      await face.close()
    }
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
  return exitCode
}

/**
 * `steward up`: everything is parsed and validated first (a mistake exits 2 with a message naming
 * the flag, or the child and key, before anything starts), then supervised in the foreground.
 */
async function up(argv: readonly string[], write: (line: string) => void): Promise<number> {
  // Before the children's environment is made from steward's: they must not inherit it.
  const notify = takeNotifyEnv(process.env)
  try {
    const { loadConfig, parseUp, upCommand, upUsage } = await import('./up.js')
    const plan = parseUp(argv)
    if (plan.help) {
      write(upUsage)
      return 0
    }
    const config = await loadConfig(plan, process.cwd())
    if (plan.check) {
      const children = config.children.map((child) => `${child.name} (${child.kind})`).join(', ')
      // Valid, but a command not on PATH will not start: said, not refused (it may be installed before `up`).
      if (plan.json) write(JSON.stringify({ type: 'check', file: config.file, valid: true, children: config.children, warnings: config.warnings }))
      else {
        for (const warning of config.warnings) write(`${config.file}: warning: ${warning}`)
        write(`${config.file}: valid; children in start order: ${children}`)
      }
      return 0
    }
    return await upCommand(config, { printer: commandPrinter(plan.json, write), notify }, plan.http, plan.socket)
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    // A UsageError of the command itself already starts with `steward up:` (not twice).
    process.stderr.write(`${error.where === 'steward up' ? error.message : `steward up: ${error.message}`}\n`)
    return 2
  }
}
