import { accessSync, constants, existsSync, readFileSync, statSync } from 'node:fs'
import { basename, delimiter, dirname, isAbsolute, join, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { processWard, type ProcessHeartbeat, type ProcessWardOptions } from '../isolation/process-ward.js'
import { threadWard, type ThreadWardOptions } from '../isolation/thread-ward.js'
import { describe, describeValue, toMs } from '../time/duration.js'
import { isBackoff } from '../policy/backoff.js'
import { childStewardOptionKeys, refuseUnknownKeys, suggestKey, type OptionScope } from '../steward/validate.js'
import { OptionRangeError, OptionTypeError, optionMessage } from '../steward/errors.js'
import { childRefusedKeys, supervisorOptionKeys } from '../tree/validate.js'
import { supervisor, type ChildSpec, type Supervisor, type SupervisorOptions } from '../tree/supervisor.js'
import type { Ward } from '../steward/ward.js'
import { cliBackoff, restartDefaults, type BackoffRange } from './defaults.js'
import { parseBackoffRange, parseDuration, parseProbe, parseSignal, parseSize, UsageError } from './flags.js'
import { logLimits, type LogPlan } from './log-files.js'
import { resolveStewardToSelf } from './self-resolve.js'
import { envFileVars } from './env-file.js'
import { defaultWatchDelay, planWatch, type WatchPlan } from './watch.js'

/** The files `steward up` looks for in the current folder, in this order. */
export const configNames = ['steward.config.js', 'steward.config.mjs', 'steward.config.json'] as const

const processKeys = ['command', 'args', 'heartbeat', 'env', 'envFile', 'cwd', 'shell', 'killSignal', 'killAfter', 'maxMemory', 'maxLineLength'] as const
const threadKeys = ['module', 'export', 'stream', 'terminateAfter', 'sampleEvery', 'warm', 'resourceLimits'] as const
const sharedKeys = ['name', 'restart', ...childStewardOptionKeys] as const
/** Keys of an app that are not the ward's or the steward's: how many copies of it run. */
const copyKeys = ['instances'] as const
/** Watch mode's keys, for both kinds of child; steward up's, not the child's steward options. */
const watchKeys = ['watch', 'watchDelay', 'watchIgnore'] as const
const topKeys = [...supervisorOptionKeys.filter((key) => key !== 'onEvent'), 'logs', 'children'] as const
const logKeys = ['dir', 'maxSize', 'keep'] as const

/** A validated config: the supervisor to start, and what it says, for `--check`. */
export interface LoadedConfig {
  readonly file: string
  readonly tree: Supervisor
  readonly children: readonly { readonly name: string; readonly kind: 'process' | 'thread'; readonly maxMemory: number | undefined }[]
  /** What is valid but will fail when started, for `--check`: a command not found on the child's PATH. */
  readonly warnings: readonly string[]
  /** Each child's spec, by name, in the config's order: what a reload adds or replaces. */
  readonly specs: ReadonlyMap<string, ChildSpec>
  /** Each child's entry as written, in a stable text form (keys sorted; a function never equal to another): what a reload compares. */
  readonly entries: ReadonlyMap<string, string>
  /** The top-level keys but `children`, in the same form. */
  readonly top: string
  /**
   * The apps with `instances`, by name: their copies' names (`web:0` … `web:N-1`), in start order.
   * An app without the key is one child of its own name and is not here.
   */
  readonly groups: ReadonlyMap<string, readonly string[]>
  /** The `logs` key: the children's log files (folder absolute), or none. */
  readonly logs?: LogPlan | undefined
  /** Each app with a `watch` key: what to watch (paths absolute, checked to exist), by name. */
  readonly watches?: ReadonlyMap<string, WatchPlan> | undefined
}

/**
 * `value` as JSON with every object's keys sorted, so two configs that say the same compare equal
 * as text. A function (a JS config's `shouldRestart`, say) is written as a token of its own that
 * no other function shares: a reload cannot tell whether it changed, so it counts as changed.
 */
export function stableText(value: unknown): string {
  let functions = 0
  return JSON.stringify(value, (_key, item: unknown) => {
    if (typeof item === 'function') return `\u0000function ${++functions} ${Math.random()}`
    if (typeof item === 'bigint') return `${item}n`
    if (item === null || typeof item !== 'object' || Array.isArray(item)) return item
    return Object.fromEntries(Object.keys(item).sort().map((key) => [key, (item as Record<string, unknown>)[key]]))
  })
}

/** The config file: `given` (relative to `cwd`), or the first of {@link configNames} in `cwd`. */
export function findConfig(given: string | undefined, cwd: string): string {
  if (given !== undefined) {
    const file = resolve(cwd, given)
    if (!existsSync(file)) throw new UsageError('steward up', `no config file ${JSON.stringify(given)}`)
    return file
  }
  for (const name of configNames) {
    const file = resolve(cwd, name)
    if (existsSync(file)) return file
  }
  throw new UsageError('steward up', `no ${configNames.join(', ')} in ${cwd}; give the config file: steward up <file>`)
}

let loads = 0

/**
 * Reads a config file: JSON, or a module whose default export is the config (or a promise of it).
 * A module is imported afresh each time (a new query string), so that `steward reload` reads
 * the edited file; the modules it imports in turn stay cached. `steward` imported by the module
 * (or by what it imports) is this copy of steward, wherever the file is ({@link resolveStewardToSelf}).
 */
export async function readConfig(file: string): Promise<unknown> {
  const name = basename(file)
  if (file.endsWith('.json')) {
    try {
      return JSON.parse(readFileSync(file, 'utf8')) as unknown
    } catch (error) {
      throw new UsageError(name, `not valid JSON: ${(error as Error).message}`)
    }
  }
  let module: { default?: unknown }
  resolveStewardToSelf()
  try {
    const url = pathToFileURL(file)
    if (loads++ > 0) url.searchParams.set('reload', String(loads))
    module = (await import(url.href)) as { default?: unknown }
  } catch (error) {
    throw new UsageError(name, `could not be loaded: ${(error as Error).message}`)
  }
  if (module.default === undefined) throw new UsageError(name, 'has no default export (export default defineConfig({ children: [...] }))')
  return module.default
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/**
 * Validates a config and builds its supervisor; nothing is started. Every mistake is a
 * {@link UsageError} naming the file, the child and the key: unknown keys (with the closest known
 * one), wrong types, a child without `command` or `module`, two children of one name, and
 * everything `supervisor()`, `processWard()` and `threadWard()` check themselves.
 */
export function buildConfig(config: unknown, file: string): LoadedConfig {
  const name = basename(file)
  const folder = dirname(file)
  const fail = (reason: string): never => {
    throw new UsageError(name, reason)
  }
  if (!isObject(config)) fail(`the config must be an object { children: [...] }, got ${describe(config)}`)
  const top = config as Record<string, unknown>
  /** Unknown keys, by the library's one check (with its did-you-mean), its problem told as a file's key. */
  const known = (object: object, keys: readonly string[], prefix: string): void => {
    const scope: OptionScope = { where: 'supervisor', prefix, child: undefined }
    try {
      refuseUnknownKeys(object, keys, scope, prefix === '' ? undefined : childRefusedKeys)
    } catch (error) {
      const message = asKey(error)
      if (message === undefined) throw error
      fail(prefix === '' ? message : `${prefix}: ${message}`)
    }
  }
  known(top, topKeys, '')
  const children: unknown = top.children
  if (!Array.isArray(children) || children.length === 0) fail(`key 'children' must be a non-empty array of children, got ${describe(children)}`)
  const names = new Set<string>()
  const groups = new Map<string, readonly string[]>()
  const specs: ChildSpec[] = []
  const entries = new Map<string, string>()
  const summary: { name: string; kind: 'process' | 'thread'; maxMemory: number | undefined }[] = []
  const warnings: string[] = []
  const watches = new Map<string, WatchPlan>()
  for (const [index, child] of (children as unknown[]).entries()) {
    if (!isObject(child)) fail(`children[${index}] must be an object, got ${describe(child)}`)
    const entry = child as Record<string, unknown>
    const childName = entry.name
    if (typeof childName !== 'string' || childName === '') fail(`children[${index}]: key 'name' must be a non-empty string, got ${describe(childName)}`)
    const where = `child '${childName as string}'`
    const childFail = (key: string, reason: string): never => fail(`${where}: key '${key}' ${reason}`)
    if (names.has(childName as string)) childFail('name', `is not unique: two children are named '${childName as string}'`)
    names.add(childName as string)
    const isProcess = 'command' in entry
    const isThread = 'module' in entry
    if (isProcess && isThread) childFail('module', `and 'command' exclude each other: a child is a process (command) or a worker thread (module)`)
    if (!isProcess && !isThread) childFail('command', `is missing: a process child needs 'command' (a worker thread child 'module')`)
    // A key of the other kind of child is refused with why (it would otherwise do nothing).
    for (const key of isProcess ? threadKeys : processKeys) {
      if (key === 'module' || key === 'command' || !(key in entry)) continue
      childFail(
        key,
        isProcess
          ? `applies only to a worker-thread child (one with 'module'); this child is a process (it has 'command')`
          : `applies only to a process child (one with 'command'); this child is a worker thread (it has 'module')${key === 'maxMemory' ? ` (limit its memory with 'resourceLimits')` : ''}`,
      )
    }
    known(entry, [...sharedKeys, ...copyKeys, ...watchKeys, ...(isProcess ? processKeys : threadKeys)], where)
    const own = (keys: readonly string[]): Record<string, unknown> => Object.fromEntries(keys.filter((key) => entry[key] !== undefined).map((key) => [key, entry[key]]))
    const instances = entry.instances
    if (instances !== undefined && (typeof instances !== 'number' || !Number.isInteger(instances) || instances < 1)) {
      childFail('instances', `must be an integer of at least 1 (how many copies of the app run), got ${describe(instances)}`)
    }
    // With `instances`, the app is copies NAME:0 … NAME:N-1, `{instance}` their number in args, env, cwd and a heartbeat text.
    const copies = instances === undefined ? [undefined] : Array.from({ length: instances as number }, (_, instance) => instance)
    const copyName = (instance: number | undefined): string => (instance === undefined ? (childName as string) : `${childName as string}:${instance}`)
    for (const instance of copies) {
      if (instance === undefined) continue
      const name = copyName(instance)
      if (names.has(name)) childFail('instances', `makes a copy named '${name}', and another child has that name`)
      names.add(name)
    }
    if (instances !== undefined) groups.set(childName as string, copies.map(copyName))
    const fill = (text: string, instance: number | undefined): string => (instance === undefined ? text : text.replaceAll('{instance}', String(instance)))
    let wards: Ward<unknown>[]
    let maxMemory: number | undefined
    /** The variables of the child's `envFile`, read now: a reload compares them too. */
    let fileVars: Record<string, string> | undefined
    /** What the child's relative paths are relative to: its working directory, or the config's folder. */
    let base = folder
    if (isProcess) {
      const options = own(processKeys)
      const command = options.command
      if (typeof command !== 'string' || command === '') childFail('command', `must be a non-empty string, got ${describe(command)}`)
      const args = options.args ?? []
      if (!Array.isArray(args) || args.some((arg) => typeof arg !== 'string')) childFail('args', `must be an array of strings, got ${describe(args)}`)
      // A probe's text is a copy's own (`http:http://127.0.0.1:300{instance}/`): parsed for each.
      const heartbeats = copies.map((instance): unknown => {
        const given: unknown = options.heartbeat
        if (typeof given !== 'string') return given
        return rethrow(() => parseProbe(fill(given, instance), `${where}: key 'heartbeat'`), name)
      })
      const env = options.env ?? {}
      if (!isObject(env)) childFail('env', `must be an object of strings, got ${describe(env)}`)
      for (const [key, value] of Object.entries(env as Record<string, unknown>)) {
        if (typeof value !== 'string') childFail(`env.${key}`, `must be a string, got ${describeValue(value)}`)
      }
      const cwd = options.cwd ?? '.'
      if (typeof cwd !== 'string' || cwd === '') childFail('cwd', `must be a non-empty string, got ${describe(cwd)}`)
      if (options.shell !== undefined && typeof options.shell !== 'boolean') childFail('shell', `must be a boolean, got ${describe(options.shell)}`)
      let killSignal: NodeJS.Signals | undefined
      if (options.killSignal !== undefined) {
        if (typeof options.killSignal !== 'string') childFail('killSignal', `must be a signal name like 'SIGTERM', got ${describe(options.killSignal)}`)
        killSignal = rethrow(() => parseSignal(options.killSignal as string, `${where}: key 'killSignal'`), name)
      }
      if (options.maxMemory !== undefined) {
        const value = options.maxMemory
        if (typeof value === 'number') {
          if (!Number.isInteger(value) || value <= 0) childFail('maxMemory', `must be a positive number of bytes or a size like '512M', got ${value}`)
          maxMemory = value
        } else if (typeof value === 'string') maxMemory = rethrow(() => parseSize(value, `${where}: key 'maxMemory'`), name)
        else childFail('maxMemory', `must be a number of bytes or a size like '512M', got ${describe(value)}`)
      }
      let maxLineLength: number | undefined
      if (options.maxLineLength !== undefined) {
        const value = options.maxLineLength
        if (typeof value === 'number') maxLineLength = value
        else if (typeof value === 'string') maxLineLength = rethrow(() => parseSize(value, `${where}: key 'maxLineLength'`), name)
        else childFail('maxLineLength', `must be a number of bytes or a size like '64K', got ${describe(value)}`)
      }
      const copyCwd = (instance: number | undefined): string => resolve(folder, fill(cwd as string, instance))
      // An app's relative paths (envFile, watch) are relative to its cwd, its first copy's with instances.
      base = copyCwd(copies[0])
      if (options.envFile !== undefined) {
        const files = typeof options.envFile === 'string' ? [options.envFile] : options.envFile
        if (!Array.isArray(files) || files.length === 0 || files.some((file) => typeof file !== 'string' || file === '')) {
          childFail('envFile', `must be a path (relative to the child's cwd) or a non-empty array of them, got ${describe(options.envFile)}`)
        }
        const vars: Record<string, string> = {}
        for (const file of files as string[]) Object.assign(vars, rethrow(() => envFileVars(file, base, `${where}: key 'envFile'`), name))
        fileVars = vars
      }
      // The env file beneath the child's env, above steward's own environment: the file is this app's, steward's environment is not.
      const copyEnv = (instance: number | undefined): Record<string, string | undefined> => ({
        ...process.env,
        ...fileVars,
        ...(instance === undefined ? {} : { STEWARD_INSTANCE: String(instance) }),
        ...Object.fromEntries(Object.entries(env as Record<string, string>).map(([key, value]) => [key, fill(value, instance)])),
      })
      if (options.shell !== true) {
        const missing = commandMissing(command as string, copyCwd(copies[0]), copyEnv(copies[0]).PATH)
        if (missing !== undefined) warnings.push(`${where}: command '${command as string}' ${missing}; starting it will fail (steward run exits 127 or 126 for such a command)`)
      }
      const wardOptions: ProcessWardOptions = {
        ...(options.shell === undefined ? {} : { shell: options.shell as boolean }),
        ...(killSignal === undefined ? {} : { killSignal }),
        ...(options.killAfter === undefined ? {} : { killAfter: options.killAfter as NonNullable<ProcessWardOptions['killAfter']> }),
        ...(maxMemory === undefined ? {} : { maxMemory }),
        ...(maxLineLength === undefined ? {} : { maxLineLength }),
      }
      wards = copies.map((instance, index) =>
        fromLibrary(
          () =>
            processWard(command as string, (args as string[]).map((arg) => fill(arg, instance)), {
              ...wardOptions,
              ...(heartbeats[index] === undefined ? {} : { heartbeat: heartbeats[index] as ProcessHeartbeat }),
              env: copyEnv(instance),
              cwd: copyCwd(instance),
            }),
          instance === undefined ? where : `${where} (copy ${copyName(instance)})`,
          name,
        ),
      )
    } else {
      const { module, ...options } = own(threadKeys)
      if (typeof module !== 'string' || module === '') childFail('module', `must be a non-empty string (a path relative to ${name}), got ${describe(module)}`)
      const path = isAbsolute(module as string) ? (module as string) : resolve(folder, module as string)
      if (!existsSync(path)) childFail('module', `names no file: ${path}`)
      wards = copies.map(() => fromLibrary(() => threadWard(path, options as ThreadWardOptions), where, name))
    }
    const watch = watchPlan(entry, base, where, name)
    if (watch !== undefined) watches.set(childName as string, watch)
    const stewardOptions = own(sharedKeys)
    // A copy's entry leaves `instances` out: changing the count adds or removes copies, the others
    // stay. A reload compares the env file's variables as they are now, not its name only; not the
    // watch keys, which a reload applies to the running app without restarting it.
    const { watch: _watch, watchDelay: _watchDelay, watchIgnore: _watchIgnore, ...compared } = entry
    const text = stableText({ ...compared, instances: undefined, ...(fileVars === undefined ? {} : { envFile: { files: entry.envFile, vars: fileVars } }) })
    for (const [index, instance] of copies.entries()) {
      specs.push({ ...stewardOptions, name: copyName(instance), ward: wards[index]! })
      entries.set(copyName(instance), text)
      summary.push({ name: copyName(instance), kind: isProcess ? 'process' : 'thread', maxMemory })
    }
  }
  const { children: _children, backoff, logs: logsKey, ...rest } = top
  let logs: LogPlan | undefined
  if (logsKey !== undefined) {
    if (!isObject(logsKey)) fail(`key 'logs' must be an object { dir, maxSize, keep }, got ${describe(logsKey)}`)
    const entry = logsKey as Record<string, unknown>
    for (const key of Object.keys(entry)) {
      if ((logKeys as readonly string[]).includes(key)) continue
      const suggestion = suggestKey(key, logKeys)
      fail(`key 'logs.${key}' is unknown${suggestion === undefined ? '' : `; did you mean 'logs.${suggestion}'?`} (known keys: ${logKeys.join(', ')})`)
    }
    if (typeof entry.dir !== 'string' || entry.dir === '') fail(`key 'logs.dir' must be a non-empty string (a folder, relative to ${name}), got ${describe(entry.dir)}`)
    logs = { dir: resolve(folder, entry.dir as string), ...rethrow(() => logLimits(entry.maxSize, entry.keep, { maxSize: `key 'logs.maxSize'`, keep: `key 'logs.keep'` }), name) }
  }
  // Apps are independent unless the config names a strategy: one that gives up does not stop the others.
  const options: Record<string, unknown> = { name: 'steward', strategy: 'independent', ...rest }
  // The restart defaults `steward run` shares (./defaults.ts), where the config does not say.
  if (rest.decay === undefined) {
    options.maxRestarts = rest.maxRestarts ?? restartDefaults.maxRestarts
    options.within = rest.within ?? restartDefaults.within
  }
  options.backoff = isBackoff(backoff) ? backoff : cliBackoff(configBackoff(backoff, fail))
  const tree = fromLibrary(() => supervisor(options as SupervisorOptions, specs), undefined, name)
  return { file, tree, children: summary, warnings, specs: new Map(specs.map((spec) => [spec.name, spec])), entries, top: stableText({ ...top, children: undefined }), groups, logs, watches }
}

/**
 * A child's `watch`, `watchDelay` and `watchIgnore`, checked (paths relative to `base`, the
 * child's working directory, and existing); `undefined` without `watch`. @internal
 */
export function watchPlan(entry: Record<string, unknown>, base: string, where: string, file: string): WatchPlan | undefined {
  const fail = (key: string, reason: string): never => {
    throw new UsageError(file, `${where}: key '${key}' ${reason}`)
  }
  const { watch, watchDelay, watchIgnore } = entry
  if (watch === undefined) {
    const without = watchDelay !== undefined ? 'watchDelay' : watchIgnore !== undefined ? 'watchIgnore' : undefined
    if (without !== undefined) fail(without, `applies to watch mode: give 'watch' too (the paths to watch)`)
    return undefined
  }
  if (!Array.isArray(watch) || watch.length === 0 || watch.some((path) => typeof path !== 'string')) fail('watch', `must be a non-empty array of paths (relative to the child's cwd), like ['src'], got ${describe(watch)}`)
  if (watchIgnore !== undefined && (!Array.isArray(watchIgnore) || watchIgnore.some((name) => typeof name !== 'string'))) fail('watchIgnore', `must be an array of names like ['dist', '*.log'], got ${describe(watchIgnore)}`)
  let delay = defaultWatchDelay
  if (watchDelay !== undefined) {
    try {
      delay = toMs(watchDelay, `${where}: key 'watchDelay'`, { zero: false })
    } catch (error) {
      throw new UsageError(file, (error as Error).message)
    }
  }
  return rethrow(() => planWatch(watch as string[], base, delay, (watchIgnore ?? []) as string[], { paths: `${where}: key 'watch'`, ignore: `${where}: key 'watchIgnore'` }), file)
}

/**
 * The config's `backoff`: absent (the defaults), `"MIN..MAX"`, or `{ min, max, resetAfter }`
 * (durations: ms or strings like '30s'; each key optional, `resetAfter` may be `Infinity`).
 * `fail` throws the config's error. @internal
 */
export function configBackoff(value: unknown, fail: (reason: string) => never): BackoffRange {
  const defaults = restartDefaults.backoff
  if (value === undefined) return defaults
  const where = `key 'backoff'`
  const wrap = <T>(parse: () => T): T => {
    try {
      return parse()
    } catch (error) {
      return fail((error as Error).message)
    }
  }
  if (typeof value === 'string') return { ...wrap(() => parseBackoffRange(value, where)), resetAfter: defaults.resetAfter }
  if (!isObject(value)) {
    return fail(`${where} must be "MIN..MAX" or an object { min, max, resetAfter } of durations, got ${describe(value)}`)
  }
  const unknown = Object.keys(value).filter((key) => !['min', 'max', 'resetAfter'].includes(key))
  if (unknown.length > 0) fail(`${where}: unknown key '${unknown[0]!}'; known keys: min, max, resetAfter`)
  const part = (key: 'min' | 'max' | 'resetAfter'): number => {
    const given = value[key]
    if (given === undefined) return defaults[key]
    if (typeof given === 'number') {
      if (given === Infinity && key === 'resetAfter') return given
      if (!Number.isFinite(given) || given <= 0) return fail(`key 'backoff.${key}' must be a duration greater than zero, got ${String(given)}`)
      return given
    }
    if (typeof given !== 'string') return fail(`key 'backoff.${key}' must be a duration like '30s' or a number of ms, got ${describe(given)}`)
    return wrap(() => parseDuration(given, `key 'backoff.${key}'`, { zero: false, infinite: key === 'resetAfter' }))
  }
  const range = { min: part('min'), max: part('max'), resetAfter: part('resetAfter') }
  if (range.max < range.min) fail(`${where}: max (${range.max} ms) must not be below min (${range.min} ms)`)
  return range
}

/**
 * Why `command` would not start as a child (no shell): a name is looked up on `path` (the child's
 * PATH, as spawn does), a path with a slash taken relative to `cwd`. `undefined` when it is found
 * and executable.
 */
function commandMissing(command: string, cwd: string, path: string | undefined): string | undefined {
  const executable = (file: string): boolean => {
    try {
      accessSync(file, constants.X_OK)
      return statSync(file).isFile()
    } catch {
      return false
    }
  }
  if (command.includes('/')) {
    const file = resolve(cwd, command)
    if (!existsSync(file)) return `does not exist (${file})`
    return executable(file) ? undefined : `is not an executable file (${file})`
  }
  const folders = (path ?? '').split(delimiter).filter((folder) => folder !== '')
  return folders.some((folder) => executable(join(resolve(cwd, folder), command))) ? undefined : 'is not on PATH'
}

/** A UsageError from a flag parser, with the file's name in front. */
function rethrow<T>(parse: () => T, file: string): T {
  try {
    return parse()
  } catch (error) {
    throw new UsageError(file, (error as Error).message)
  }
}

/** A library option error's problem told as a config file's key (`key 'timeout' must be …`); `undefined` for any other error. */
function asKey(error: unknown): string | undefined {
  if (!(error instanceof OptionTypeError) && !(error instanceof OptionRangeError)) return undefined
  const message = optionMessage(error, 'key')
  return error.child === undefined ? message : `child '${error.child}': ${message}`
}

/**
 * A library constructor's own validation (processWard's, threadWard's, supervisor()'s), as a
 * UsageError naming the file and the child: an option error told from its structured problem,
 * any other error as it is.
 */
function fromLibrary<T>(build: () => T, where: string | undefined, file: string): T {
  try {
    return build()
  } catch (error) {
    const message = asKey(error) ?? (error as Error).message
    throw new UsageError(file, where === undefined ? message : `${where}: ${message}`)
  }
}
