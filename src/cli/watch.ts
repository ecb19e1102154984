import { existsSync, readdirSync, statSync, watch, type FSWatcher } from 'node:fs'
import { basename, dirname, join, relative, resolve, sep } from 'node:path'
import { UsageError } from './flags.js'

// Watch mode (`--watch`, a config's `watch`): one non-recursive `fs.watch` (inotify) per folder,
// not `fs.watch(…, { recursive: true })`. On Linux Node's recursive mode is a JavaScript walk of
// the tree: on Node 20 it polled each file with `watchFile` (every 5 s), its asynchronous walk
// misses changes made while it runs (nodejs/node#48437), a file deleted under it threw
// (nodejs/node#52018), and it descends into node_modules, which a watch for restarts ignores.
// Walking ourselves, the ignored folders are never watched at all (one inotify watch per folder
// watched; the kernel's default limit, fs.inotify.max_user_watches, is 8192 on older kernels).

/** The names ignored under a watched folder, whatever the app adds: dependencies and dot-folders (`.git` …). */
export const defaultWatchIgnore: readonly string[] = ['node_modules', '.*']

/** The quiet time after the last change before the restart. */
export const defaultWatchDelay = 200

/** What to watch for one app, checked: see {@link planWatch}. */
export interface WatchPlan {
  /** Absolute paths of files and folders that exist (checked when planned). */
  readonly paths: readonly string[]
  /** The folder changed files are named relative to in output (the app's working directory). */
  readonly base: string
  /** ms of quiet after the last change before `onChange` (a burst of writes restarts once). */
  readonly delay: number
  /** Name patterns (`*` any run of characters) of files and folders ignored under a watched folder: {@link defaultWatchIgnore} and the app's own. */
  readonly ignore: readonly string[]
}

/**
 * A watch plan: `paths` resolved against `base` (the app's working directory) and checked to
 * exist, `ignore` patterns checked (a name, no `/`) and put after {@link defaultWatchIgnore}.
 * Throws a {@link UsageError} naming `where.paths` (`--watch`, `child 'web': key 'watch'`) and
 * the path for a path that names nothing, `where.ignore` for a bad pattern.
 */
export function planWatch(paths: readonly string[], base: string, delay: number, ignore: readonly string[], where: { readonly paths: string; readonly ignore: string }): WatchPlan {
  const absolute = paths.map((path) => {
    if (path === '') throw new UsageError(where.paths, 'a path must not be empty')
    const full = resolve(base, path)
    if (!existsSync(full)) throw new UsageError(where.paths, `${JSON.stringify(path)} names no file or folder (${full})`)
    return full
  })
  for (const pattern of ignore) {
    if (pattern === '' || pattern.includes('/') || pattern.includes(sep)) {
      throw new UsageError(where.ignore, `must be a file or folder name, * matching any characters (like 'dist' or '*.log'), got ${JSON.stringify(pattern)}`)
    }
  }
  return { paths: absolute, base, delay, ignore: [...defaultWatchIgnore, ...ignore] }
}

/** Whether `name` matches one of `patterns` (`*`: any run of characters, `.*`: every dot-name). */
export function ignoredBy(patterns: readonly string[]): (name: string) => boolean {
  const expressions = patterns.map((pattern) => new RegExp(`^${pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`))
  return (name) => expressions.some((expression) => expression.test(name))
}

/**
 * Watches a plan's files and folders (folders with everything under them but what `ignore`
 * names, folders created later too) and calls `onChange` with the changed paths (relative to
 * `base`, in the order they first changed) once `delay` ms passed without another change. A
 * watched file is watched through its folder, by name, so an editor that saves by replacing the
 * file is seen. `onError` hears a folder that cannot be watched (it is left out). `close()` ends
 * every watch and the pending call; nothing of it is left after.
 */
export class FileWatcher {
  readonly #plan: WatchPlan
  readonly #onChange: (files: readonly string[]) => void
  readonly #onError: (message: string) => void
  readonly #ignored: (name: string) => boolean
  /** Each watched folder's watcher, and the names it watches: `undefined` for all of them. */
  readonly #folders = new Map<string, { watcher: FSWatcher; names: Set<string> | undefined }>()
  readonly #pending = new Set<string>()
  #timer: NodeJS.Timeout | undefined
  #closed = false

  /** Starts watching at once; throws (nothing left open) when a path cannot be watched at all. */
  constructor(plan: WatchPlan, onChange: (files: readonly string[]) => void, onError: (message: string) => void = () => {}) {
    this.#plan = plan
    this.#onChange = onChange
    this.#onError = onError
    this.#ignored = ignoredBy(plan.ignore)
    try {
      for (const path of plan.paths) {
        if (statSync(path).isDirectory()) this.#watchTree(path, true)
        else this.#watchFolder(dirname(path), basename(path), true)
      }
    } catch (error) {
      this.close()
      throw error
    }
  }

  /** How many folders are watched (one inotify watch each). */
  get folders(): number {
    return this.#folders.size
  }

  /** How many changed paths wait for the quiet time. */
  get pending(): number {
    return this.#pending.size
  }

  /** Stops every watch and drops a pending call. */
  close(): void {
    this.#closed = true
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#pending.clear()
    for (const { watcher } of this.#folders.values()) watcher.close()
    this.#folders.clear()
  }

  /** `folder` and the folders under it that are not ignored. `strict`: throw instead of reporting. */
  #watchTree(folder: string, strict: boolean): void {
    if (!this.#watchFolder(folder, undefined, strict)) return
    let entries
    try {
      entries = readdirSync(folder, { withFileTypes: true })
    } catch (error) {
      if (strict) throw error
      return // gone meanwhile
    }
    // Symbolic links are not followed (a link to a folder above would loop).
    for (const entry of entries) if (entry.isDirectory() && !this.#ignored(entry.name)) this.#watchTree(join(folder, entry.name), strict)
  }

  /** Watches `folder` for all names (`name` undefined) or adds `name` to its names. Whether it watches it now. */
  #watchFolder(folder: string, name: string | undefined, strict: boolean): boolean {
    const known = this.#folders.get(folder)
    if (known !== undefined) {
      if (name === undefined) known.names = undefined
      else known.names?.add(name)
      return true
    }
    let watcher: FSWatcher
    try {
      watcher = watch(folder, { persistent: true }, (type, file) => this.#changed(type, folder, file))
    } catch (error) {
      if (strict) throw new Error(`cannot watch ${folder}: ${(error as Error).message}`, { cause: error })
      this.#onError(`cannot watch ${folder}: ${(error as Error).message}`)
      return false
    }
    // A watched folder removed (or unreadable) ends its watch; its parent still sees it come back.
    watcher.on('error', () => this.#unwatch(folder))
    this.#folders.set(folder, { watcher, names: name === undefined ? undefined : new Set([name]) })
    return true
  }

  #unwatch(folder: string): void {
    const known = this.#folders.get(folder)
    if (known === undefined) return
    known.watcher.close()
    this.#folders.delete(folder)
  }

  /**
   * A name under a watched folder came or went: a folder created (or moved in) is watched from
   * now on; one removed (or moved away) is no longer, nor anything under it; one replaced is
   * watched afresh (its old watch saw the old folder).
   */
  #rewatch(path: string): void {
    const below = path + sep
    for (const folder of [...this.#folders.keys()]) if (folder === path || folder.startsWith(below)) this.#unwatch(folder)
    try {
      if (statSync(path).isDirectory()) this.#watchTree(path, false)
    } catch {
      // removed: a change all the same
    }
  }

  #changed(type: string, folder: string, file: string | Buffer | null): void {
    if (this.#closed) return
    const watched = this.#folders.get(folder)
    if (watched === undefined) return
    const name = file === null ? undefined : String(file)
    if (name !== undefined && this.#ignored(name)) return
    if (watched.names !== undefined && (name === undefined || !watched.names.has(name))) return
    const path = name === undefined ? folder : join(folder, name)
    if (type === 'rename' && watched.names === undefined && name !== undefined) this.#rewatch(path)
    this.#pending.add(relative(this.#plan.base, path) || '.')
    clearTimeout(this.#timer)
    this.#timer = setTimeout(() => this.#fire(), this.#plan.delay)
  }

  #fire(): void {
    this.#timer = undefined
    const files = [...this.#pending]
    this.#pending.clear()
    if (!this.#closed && files.length > 0) this.#onChange(files)
  }
}

/** Changed files for a line of output: the first few by name, then how many more. */
export function describeChanges(files: readonly string[]): string {
  const shown = files.slice(0, 3).join(', ')
  return files.length <= 3 ? shown : `${shown} and ${files.length - 3} more`
}
