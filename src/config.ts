import type { ResourceLimits } from 'node:worker_threads'
import type { ProcessHeartbeat } from './isolation/process-ward.js'
import type { Backoff } from './policy/backoff.js'
import type { RestartType, StartOrder, StewardOptions } from './steward/options.js'
import type { Strategy } from './tree/supervisor.js'
import type { Duration } from './time/duration.js'

/** The steward options every child of a `steward up` config may set (see `ChildSpec`). */
export interface ChildConfigOptions
  extends Pick<StewardOptions, 'timeout' | 'startTimeout' | 'pulseInterval' | 'progressTimeout' | 'idleTimeout' | 'stopTimeout' | 'poisonAfter' | 'shouldRestart'> {
  /** Unique among the children; the ward's name in output. */
  readonly name: string
  /** @default 'permanent' */
  readonly restart?: RestartType
  /**
   * How many copies of the app run (an integer of at least 1). With it, even 1, the app is the
   * children `NAME:0` … `NAME:N-1`, each with `{instance}` replaced by its number in `args`, `env`
   * values, `cwd` and a `heartbeat` text, and `STEWARD_INSTANCE` in its environment; `steward restart NAME` (and a
   * reload that changes the app) restarts them one at a time, each once the one before is up
   * again. Without it, the app is one child named `NAME`, its strings taken as they are.
   * @default 1
   */
  readonly instances?: number
  /**
   * Watch mode: restart the child when a file under these paths changes (files or folders,
   * relative to the child's `cwd`, each must exist; `node_modules` and dot-names such as `.git`
   * are ignored). The restart is an operator's (`steward restart NAME`, reason `manual`).
   * @default none: not watched
   */
  readonly watch?: readonly string[]
  /** The quiet time after the last change before the restart (a burst of writes restarts once). @default '200ms' */
  readonly watchDelay?: Duration
  /** More names to ignore under `watch`, besides `node_modules` and dot-names; `*` matches any characters (`'*.log'`). @default [] */
  readonly watchIgnore?: readonly string[]
}

/** `steward run --probe`'s text forms with a value: `'http:URL'` (or the URL), `'tcp:HOST:PORT'`, `'exec:CMD ARGS'`. */
export type ProbeText = `http:${string}` | `https:${string}` | `tcp:${string}` | `exec:${string}`

/** A child process of a `steward up` config: `processWard(command, args, …)`. */
export interface ProcessChildConfig extends ChildConfigOptions {
  /** The program (no shell unless `shell`). */
  readonly command: string
  /** `{instance}` is the copy's number with {@link ChildConfigOptions.instances}. @default [] */
  readonly args?: readonly string[]
  /**
   * The library's {@link ProcessHeartbeat}, or `steward run --probe`'s text: `'ipc'`, `'stdout'`,
   * `'none'`, `'http:URL'`, `'tcp:HOST:PORT'`, `"exec:CMD ARGS"` (`{instance}` in the text: the
   * copy's number, with `instances`).
   * @default 'none'
   */
  readonly heartbeat?: ProcessHeartbeat | ProbeText
  /** Added to steward's own environment, over `envFile`'s variables (`{instance}` in a value: the copy's number, with `instances`). @default {} */
  readonly env?: Readonly<Record<string, string>>
  /**
   * Env files (relative to the child's `cwd`; its first copy's, with `instances`) whose `KEY=VALUE`
   * lines are added to steward's own environment, beneath `env` (a later file wins over an earlier
   * one). Read when the config is loaded or reloaded; no shell expansion. @default none
   */
  readonly envFile?: string | readonly string[]
  /** Relative to the config file's folder (`{instance}`: the copy's number, with `instances`). @default the config file's folder */
  readonly cwd?: string
  /** @default false */
  readonly shell?: boolean
  /** @default 'SIGTERM' */
  readonly killSignal?: NodeJS.Signals
  /** @default '5s' */
  readonly killAfter?: Duration
  /** Restart above this RSS: bytes, or `'512M'`, `'1G'`. */
  readonly maxMemory?: number | string
  /** Longer lines of the child come in pieces of at most this: bytes, or `'64K'`, `'1M'` (at least 4 bytes). @default '64K' */
  readonly maxLineLength?: number | string
}

/** A worker thread of a `steward up` config: `threadWard(module, …)`. */
export interface ThreadChildConfig extends ChildConfigOptions {
  /** The ward's module, relative to the config file's folder (or absolute). */
  readonly module: string
  /** @default 'default' */
  readonly export?: string
  /**
   * Whether the worker's ward yields outputs (an `async function*`); nothing consumes a stream
   * child's outputs under `steward up`, so a child is usually a promise ward. @default false
   */
  readonly stream?: boolean
  /** @default '1s' */
  readonly terminateAfter?: Duration
  /** @default timeout / 20 */
  readonly sampleEvery?: Duration
  /** @default false */
  readonly warm?: boolean
  readonly resourceLimits?: ResourceLimits
}

/** One child: a process (`command`) or a worker thread (`module`). */
export type ChildConfig = ProcessChildConfig | ThreadChildConfig

/** A `steward up` config: one supervisor and its children, in start order. */
export interface StewardConfig {
  /** @default 'steward' */
  readonly name?: string
  /** @default 'one-for-one' */
  readonly strategy?: Strategy
  /** More than this many restarts within `within` gives up (the CLI's restart defaults). @default Infinity */
  readonly maxRestarts?: number
  /** The window of `maxRestarts`. @default '1m' */
  readonly within?: Duration
  readonly decay?: { readonly threshold: number; readonly halfLife: Duration }
  /**
   * The wait before a restart: `{ min, max, resetAfter }` (exponential from `min` doubling up to
   * `max`, ±20 % jitter kept inside them, back to `min` after an incarnation that ran
   * `resetAfter`), `'MIN..MAX'` (the same, `resetAfter` by default), or a library policy
   * (`exponential()` …). @default { min: '100ms', max: '30s', resetAfter: '10s' }
   */
  readonly backoff?: Backoff | string | { readonly min?: Duration; readonly max?: Duration; readonly resetAfter?: Duration }
  /** @default 'started' */
  readonly startOrder?: StartOrder
  /** Per-child log files; none when absent (steward writes nothing to disk). */
  readonly logs?: LogsConfig
  readonly children: readonly ChildConfig[]
}

/**
 * `steward up`'s log files: each process child's stdout in `DIR/NAME.out.log`, its stderr in
 * `DIR/NAME.err.log`, each line prefixed with its ISO-8601 time and the child's pid, rotated by size.
 */
export interface LogsConfig {
  /** The folder, relative to the config file's folder (or absolute); created when missing. */
  readonly dir: string
  /** A file is rotated before a line would take it over this: bytes, or `'10M'`, `'1G'`. @default '10M' */
  readonly maxSize?: number | string
  /** Rotated files kept per stream (`NAME.out.log.1` … `.KEEP`, the oldest deleted); 0 keeps none. @default 5 */
  readonly keep?: number
}

/**
 * Returns `config` as it is: it exists for the types, so an editor completes and checks a
 * `steward.config.js` (`export default defineConfig({ children: [...] })`), as Vite's and
 * ESLint's do. `steward up` validates the file at runtime either way.
 */
export function defineConfig<const C extends StewardConfig>(config: C): C {
  return config
}
