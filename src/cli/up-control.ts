import type { WardStatus } from '../observe/status.js'
import { ChildNotUpError } from '../steward/errors.js'
import type { StopReport } from '../steward/run-api.js'
import type { SupervisorRun } from '../tree/supervisor.js'
import { buildConfig, readConfig, type LoadedConfig } from './config.js'
import type { ControlTarget } from './control.js'
import { ReloadStopped, type ReloadResult } from './reload.js'
import type { Printer } from './output.js'

/** Applies a config's difference to the running tree (`applyReload`). */
export type ApplyReload = (run: SupervisorRun, before: LoadedConfig, after: LoadedConfig) => Promise<ReloadResult>

/** `steward up`'s control target, with `reload()` that SIGHUP calls too. */
export interface UpTarget extends ControlTarget {
  /** The config the tree runs now (the last one applied). */
  readonly config: LoadedConfig
  /** The same actions under the names `POST /apps/NAME/…` call (an app with `instances` included). */
  readonly apps: { restartChild(name: string): Promise<void>; stopChild(name: string): Promise<StopReport>; startChild(name: string): Promise<void> }
}

/**
 * A rolling restart that stopped: a copy of an app with `instances` did not come up again (its
 * new process failed, or missed its `startTimeout`), so the copies after it were left running
 * as they were. `cause` is the {@link ChildNotUpError}.
 */
export class RolloutStopped extends Error {
  override readonly name = 'RolloutStopped'
  readonly code = 'ERR_STEWARD_ROLLOUT_STOPPED'
  /** The app. */
  readonly app: string
  /** The copy that did not come up. */
  readonly copy: string
  readonly restarted: readonly string[]
  readonly left: readonly string[]
  constructor(app: string, copy: string, restarted: readonly string[], left: readonly string[], cause: ChildNotUpError) {
    super(
      `the rolling restart of '${app}' stopped at '${copy}': ${cause.message.replace(/^child '[^']*' of supervisor '[^']*' /, '')}; ` +
        `restarted before it: ${restarted.join(', ') || 'none'}; not restarted: ${left.join(', ') || 'none'}`,
      { cause },
    )
    this.app = app
    this.copy = copy
    this.restarted = restarted
    this.left = left
  }
}

/**
 * Restarts `copies` (the children of an app with `instances`) one at a time: each is restarted,
 * and the next one only once it is up again (`wait: 'up'`: its first beat, probe answer or idle
 * wait), so while one copy restarts the others serve. A copy that does not come up (its new
 * incarnation failed or missed its `startTimeout`) stops the rollout with a {@link RolloutStopped}.
 */
export async function rollingRestart(run: SupervisorRun, app: string, copies: readonly string[]): Promise<void> {
  for (const [index, copy] of copies.entries()) {
    try {
      await run.restartChild(copy, { wait: 'up' })
    } catch (error) {
      if (error instanceof ChildNotUpError) throw new RolloutStopped(app, copy, copies.slice(0, index), copies.slice(index + 1), error)
      throw error
    }
  }
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
    try {
      const result = await apply(run, current, after)
      current = after
      return result
    } catch (error) {
      // Applied in part (a copy did not come up): the next reload compares with what runs.
      if (error instanceof ReloadStopped) current = { ...after, entries: error.entries }
      throw error
    }
  }
  /** The copies of `name` in the tree, when it is an app with `instances`. */
  const copiesOf = (name: string): readonly string[] | undefined => {
    const copies = current.groups.get(name)
    if (copies === undefined) return undefined
    const running = new Set(run.status().children.map((child) => child.name))
    return copies.filter((copy) => running.has(copy))
  }
  const restart = (name: string): Promise<void> => {
    const copies = copiesOf(name)
    return copies === undefined ? run.restartChild(name) : rollingRestart(run, name, copies)
  }
  const stop = async (name: string): Promise<StopReport> => {
    const copies = copiesOf(name)
    if (copies === undefined) return run.stopChild(name)
    const unstopped: string[] = []
    const killed: string[] = []
    // In reverse start order, as a stop goes.
    for (const copy of [...copies].reverse()) {
      const report = await run.stopChild(copy)
      unstopped.push(...report.unstopped)
      killed.push(...report.killed)
    }
    return { unstopped, killed }
  }
  const start = async (name: string): Promise<void> => {
    const copies = copiesOf(name)
    if (copies === undefined) return run.startChild(name)
    for (const copy of copies) await run.startChild(copy)
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
    groups: () => current.groups,
    restart,
    stop,
    start,
    reload,
    apps: { restartChild: restart, stopChild: stop, startChild: start },
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
    (error: Error) => printer.note(error instanceof ReloadStopped ? `reload stopped part way: ${error.message}` : `reload refused, nothing changed: ${error.message}`, { error: error.message }),
  )
}

/** Reads the config file again with `steward up`'s loader. */
export function reloadFrom(file: string): () => Promise<LoadedConfig> {
  return async () => buildConfig(await readConfig(file), file)
}
