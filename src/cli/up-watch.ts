import type { RunState } from '../observe/status.js'
import { stableText } from './config.js'
import type { Printer } from './output.js'
import { openWatch } from './run.js'
import { describeChanges, type FileWatcher, type WatchPlan } from './watch.js'

/**
 * The watches of `steward up`'s apps (their `watch` keys): a change restarts the app as
 * `steward restart NAME` does, after a note naming the changed files. An app an operator stopped
 * stays stopped (the note says so); one that gave up or completed starts again. `update()` follows
 * a reload: an app whose watch keys are unchanged keeps its watch, the others are closed and
 * opened anew.
 */
export class AppWatches {
  readonly #printer: Printer
  readonly #restart: (name: string) => Promise<void>
  readonly #state: (name: string) => RunState | undefined
  readonly #file: string
  readonly #watches = new Map<string, { readonly key: string; readonly watcher: FileWatcher }>()

  /**
   * `restart(name)`: the operator's restart of an app; `state(name)`: the app's state now,
   * `undefined` when there is no such app or the tree is ending (a change then does nothing);
   * `file`: the config file's name, for messages.
   */
  constructor(printer: Printer, restart: (name: string) => Promise<void>, state: (name: string) => RunState | undefined, file: string) {
    this.#printer = printer
    this.#file = file
    this.#restart = restart
    this.#state = state
  }

  /** How many apps are watched. */
  get size(): number {
    return this.#watches.size
  }

  /**
   * Watches the apps of `plans` and no others. A watch that cannot be opened throws a UsageError
   * naming the app's key (`steward up`, before anything started; the watches opened by this call
   * are closed), or with `report`, is reported through it and left out (a reload).
   */
  update(plans: ReadonlyMap<string, WatchPlan> | undefined, report?: (message: string) => void): void {
    const wanted = plans ?? new Map<string, WatchPlan>()
    for (const [name, watch] of this.#watches) {
      if (wanted.has(name) && stableText(wanted.get(name)) === watch.key) continue
      watch.watcher.close()
      this.#watches.delete(name)
    }
    const opened: string[] = []
    for (const [name, plan] of wanted) {
      if (this.#watches.has(name)) continue
      try {
        const watcher = openWatch(plan, `${this.#file}: child '${name}': key 'watch'`, this.#printer, (files) => this.#changed(name, files))
        this.#watches.set(name, { key: stableText(plan), watcher })
        opened.push(name)
      } catch (error) {
        if (report === undefined) {
          for (const each of opened) this.#close(each)
          throw error
        }
        report((error as Error).message)
      }
    }
  }

  /** Ends every watch. */
  close(): void {
    for (const name of [...this.#watches.keys()]) this.#close(name)
  }

  #close(name: string): void {
    this.#watches.get(name)?.watcher.close()
    this.#watches.delete(name)
  }

  #changed(name: string, files: readonly string[]): void {
    const state = this.#state(name)
    if (state === undefined) return
    const what = describeChanges(files)
    if (state === 'stopped') {
      this.#printer.note(`${name}: file changed: ${what}; not restarting: it was stopped (steward start ${name} starts it)`, { app: name, files, watch: 'stopped' })
      return
    }
    this.#printer.note(`${name}: restarting (file changed: ${what})`, { app: name, files, watch: 'restart' })
    this.#restart(name).catch((error: Error) => this.#printer.note(`${name}: restart after a file change failed: ${error.message}`, { app: name, error: error.message }))
  }
}
