import { basename } from 'node:path'
import type { SupervisorRun } from '../tree/supervisor.js'
import type { LoadedConfig } from './config.js'
import { UsageError } from './flags.js'

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
  // Removed ones first (in reverse order, as a stop goes), then the changed ones, then the new ones.
  for (const name of [...stopped].reverse()) await run.remove(name)
  for (const name of restarted) await run.replaceChild(after.specs.get(name)!)
  for (const name of started) run.add(after.specs.get(name)!)
  return { started, stopped, restarted, unchanged }
}
