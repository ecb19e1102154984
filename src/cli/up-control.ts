import type { WardStatus } from '../observe/status.js'
import type { SupervisorRun } from '../tree/supervisor.js'
import { buildConfig, readConfig, type LoadedConfig } from './config.js'
import type { ControlTarget } from './control.js'
import type { ReloadResult } from './reload.js'
import type { Printer } from './output.js'

/** Applies a config's difference to the running tree (`applyReload`). */
export type ApplyReload = (run: SupervisorRun, before: LoadedConfig, after: LoadedConfig) => Promise<ReloadResult>

/** `steward up`'s control target, with `reload()` that SIGHUP calls too. */
export interface UpTarget extends ControlTarget {
  /** The config the tree runs now (the last one applied). */
  readonly config: LoadedConfig
}

/**
 * The control target of `steward up`: the apps are the tree's children. `reload()` re-reads the
 * config with `load` (the loader of `steward up`: an invalid config rejects with its UsageError
 * and changes nothing), then `apply`s the difference. A reload asked for while one runs is not
 * run beside it: the requests that come meanwhile share one more reload after it (so each sees
 * the file as it is once its turn comes). `onReload` sees each reload that starts.
 */
export function upTarget(run: SupervisorRun, config: LoadedConfig, load: () => Promise<LoadedConfig>, apply: ApplyReload, onReload?: (reloading: Promise<ReloadResult>) => void): UpTarget {
  let current = config
  let running: Promise<ReloadResult> | undefined
  let next: Promise<ReloadResult> | undefined
  const reloadOnce = async (): Promise<ReloadResult> => {
    const after = await load()
    const result = await apply(run, current, after)
    current = after
    return result
  }
  const reload = (): Promise<ReloadResult> => {
    if (running === undefined) {
      running = reloadOnce().finally(() => (running = undefined))
      onReload?.(running)
      return running
    }
    next ??= running
      .catch(() => undefined)
      .then(() => {
        next = undefined
        return reload()
      })
    return next
  }
  return {
    get what() {
      return current.file
    },
    get config() {
      return current
    },
    status: (): readonly WardStatus[] => run.status().children,
    restart: (name) => run.restartChild(name),
    stop: (name) => run.stopChild(name),
    start: (name) => run.startChild(name),
    reload,
  }
}

/** The app a line of `steward up` belongs to: the tree's child in its path (`tree/web` → `web`). */
export function upApp(path: string): string {
  const parts = path.split('/')
  return parts[1] ?? parts[0]!
}

/** Prints what a reload did (or why it changed nothing), as `steward` notes. */
export function reloadNote(printer: Printer, reloading: Promise<ReloadResult>): Promise<void> {
  return reloading.then(
    (result) => {
      const parts = (['started', 'stopped', 'restarted'] as const).filter((key) => result[key].length > 0).map((key) => `${key} ${result[key].join(', ')}`)
      printer.note(`reload: ${parts.length === 0 ? 'nothing changed' : parts.join('; ')}${result.unchanged.length === 0 ? '' : `; unchanged ${result.unchanged.join(', ')}`}`, { reload: result })
    },
    (error: Error) => printer.note(`reload refused, nothing changed: ${error.message}`, { error: error.message }),
  )
}

/** Reads the config file again with `steward up`'s loader. */
export function reloadFrom(file: string): () => Promise<LoadedConfig> {
  return async () => buildConfig(await readConfig(file), file)
}
