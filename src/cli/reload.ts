import { basename } from 'node:path'
import type { SupervisorRun } from '../tree/supervisor.js'
import type { LoadedConfig } from './config.js'
import { UsageError } from './flags.js'
import { ChildNotUpError } from '../steward/errors.js'

/** What a reload did, by app name: added, removed, replaced (changed), left alone. */
export interface ReloadResult {
  readonly started: readonly string[]
  readonly stopped: readonly string[]
  readonly restarted: readonly string[]
  readonly unchanged: readonly string[]
}

/**
 * Applies the difference between the config a running tree was started from (`before`) and the
 * config as it is now (`after`, already validated: an invalid file never gets here): apps removed
 * from the file are stopped and forgotten, apps whose entry changed are replaced (stopped, then
 * started from their new entry in the same place), new apps are started after the others, and
 * apps whose entry is unchanged are not touched (an app an operator stopped stays stopped). An
 * entry counts as changed when its text differs with keys sorted; a function in it always does.
 * A change of the top-level keys (strategy, limits, backoff, …) is refused with a
 * {@link UsageError} before anything is touched: those apply when steward starts again.
 *
 * The copies of an app with `instances` are entries of their own (`web:0` …, compared without the
 * `instances` key): a changed count starts or stops only the copies it adds or removes, and
 * changed copies are replaced one at a time, each once the one before is up (a rolling restart).
 * A copy that does not come up stops the reload there with a {@link ReloadStopped}: what was done
 * stays done, the rest is not applied.
 */
export async function applyReload(run: SupervisorRun, before: LoadedConfig, after: LoadedConfig): Promise<ReloadResult> {
  if (before.top !== after.top) {
    const was = JSON.parse(before.top) as Record<string, unknown>
    const now = JSON.parse(after.top) as Record<string, unknown>
    const keys = [...new Set([...Object.keys(was), ...Object.keys(now)])].filter((key) => JSON.stringify(was[key]) !== JSON.stringify(now[key]))
    throw new UsageError(basename(after.file), `the top-level ${keys.length === 1 ? 'key' : 'keys'} ${keys.map((key) => `'${key}'`).join(', ')} changed: ${keys.length === 1 ? 'it applies' : 'they apply'} when steward up starts again (a reload changes apps only); nothing was changed`)
  }
  const stopped = [...before.entries.keys()].filter((name) => !after.entries.has(name))
  const restarted = [...after.entries.keys()].filter((name) => before.entries.has(name) && before.entries.get(name) !== after.entries.get(name))
  const started = [...after.entries.keys()].filter((name) => !before.entries.has(name))
  const unchanged = [...after.entries.keys()].filter((name) => before.entries.get(name) === after.entries.get(name))
  const copies = new Set([...after.groups.values()].flat())
  const entries = new Map(before.entries)
  const done: ReloadResult = { started: [], stopped: [], restarted: [], unchanged }
  // Removed ones first (in reverse order, as a stop goes), then the changed ones, then the new ones.
  for (const name of [...stopped].reverse()) {
    await run.remove(name)
    entries.delete(name)
    ;(done.stopped as string[]).unshift(name)
  }
  for (const name of restarted) {
    try {
      await run.replaceChild(after.specs.get(name)!, copies.has(name) ? { wait: 'up' } : undefined)
    } catch (error) {
      if (!(error instanceof ChildNotUpError)) throw error
      entries.set(name, after.entries.get(name)!)
      throw new ReloadStopped(basename(after.file), name, done, [...restarted.slice(restarted.indexOf(name) + 1), ...started], entries, error)
    }
    entries.set(name, after.entries.get(name)!)
    ;(done.restarted as string[]).push(name)
  }
  for (const name of started) run.add(after.specs.get(name)!)
  return { started, stopped, restarted, unchanged }
}

/**
 * A reload that stopped part way: a copy of an app with `instances`, replaced, did not come up
 * (its new process failed or missed its `startTimeout`), so the changes after it were not
 * applied. `done` is what was; `entries` each child's entry as it runs now (what the next reload
 * compares with). `cause` is the {@link ChildNotUpError}.
 */
export class ReloadStopped extends Error {
  override readonly name = 'ReloadStopped'
  readonly code = 'ERR_STEWARD_RELOAD_STOPPED'
  readonly copy: string
  readonly done: ReloadResult
  readonly left: readonly string[]
  readonly entries: ReadonlyMap<string, string>
  constructor(file: string, copy: string, done: ReloadResult, left: readonly string[], entries: ReadonlyMap<string, string>, cause: ChildNotUpError) {
    const parts = (['stopped', 'restarted'] as const).filter((key) => done[key].length > 0).map((key) => `${key} ${done[key].join(', ')}`)
    super(
      `${file}: '${copy}' was replaced and ${cause.message.replace(/^child '[^']*' of supervisor '[^']*' /, '')}; the reload stopped there: ` +
        `${parts.length === 0 ? 'nothing else was done' : `${parts.join('; ')} before it`}; not applied: ${left.join(', ') || 'nothing'}`,
      { cause },
    )
    this.copy = copy
    this.done = done
    this.left = left
    this.entries = entries
  }
}
