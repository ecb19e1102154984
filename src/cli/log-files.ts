import { accessSync, constants, mkdirSync, statSync } from 'node:fs'
import type { FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import type { StewardEvent } from '../observe/events.js'
import { isoTime } from '../time/iso.js'
import { parseCount, parseSize, UsageError } from './flags.js'

// node:fs/promises loads with the first write: a run without --log-dir never loads it (on Node 24
// it keeps about 1.3 MB more resident).
let filesModule: Promise<typeof import('node:fs/promises')> | undefined
function files(): Promise<typeof import('node:fs/promises')> {
  return (filesModule ??= import('node:fs/promises'))
}

/** Where and how `steward run --log-dir` and `steward up`'s `logs` write each child's lines. */
export interface LogPlan {
  /** The folder of the log files (absolute). */
  readonly dir: string
  /** A file is rotated before a line would take it over this many bytes. @default 10 MiB */
  readonly maxSize: number
  /** Rotated files kept (`NAME.out.log.1` … `NAME.out.log.KEEP`); 0 keeps none. @default 5 */
  readonly keep: number
}

/** `maxSize` and `keep` when not given: 10 MiB per file, 5 rotated files (60 MiB per stream at most). */
export const logDefaults = { maxSize: 10 * 1024 ** 2, keep: 5 } as const

/**
 * `maxSize` and `keep` in a flag's or a config key's text form (`'10M'`, bytes; a count), or
 * `undefined` for the default. Throws a {@link UsageError} naming `where`.
 */
export function logLimits(maxSize: unknown, keep: unknown, where: { maxSize: string; keep: string }): { maxSize: number; keep: number } {
  let size: number = logDefaults.maxSize
  if (typeof maxSize === 'string') size = parseSize(maxSize, where.maxSize)
  else if (typeof maxSize === 'number') {
    if (!Number.isInteger(maxSize) || maxSize <= 0) throw new UsageError(where.maxSize, `must be a positive number of bytes or a size like '10M', got ${maxSize}`)
    size = maxSize
  } else if (maxSize !== undefined) throw new UsageError(where.maxSize, `must be a number of bytes or a size like '10M', got ${typeof maxSize}`)
  let count: number = logDefaults.keep
  if (typeof keep === 'string') count = parseCount(keep, where.keep)
  else if (typeof keep === 'number') count = keep
  else if (keep !== undefined) throw new UsageError(where.keep, `must be a non-negative integer, got ${typeof keep}`)
  if (!Number.isInteger(count) || count < 0) throw new UsageError(where.keep, `must be a non-negative integer, got ${String(keep)}`)
  return { maxSize: size, keep: count }
}

/**
 * Creates the log folder when missing and checks that steward may write in it; called before
 * anything starts, so a folder that cannot be used is a {@link UsageError} naming `where` (the flag
 * or config key), not a failure of a running child.
 */
export function prepareLogDir(dir: string, where: string): void {
  try {
    mkdirSync(dir, { recursive: true })
    if (!statSync(dir).isDirectory()) throw new Error('not a directory')
    accessSync(dir, constants.W_OK | constants.X_OK)
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? (error as Error).message
    throw new UsageError(where, `cannot write log files in ${dir} (${reason})`)
  }
}

/** A ward's name as a file name: anything but letters, digits, `.`, `_` and `-` becomes `_`. */
export function logFileName(ward: string, stream: 'stdout' | 'stderr'): string {
  return `${ward.replace(/[^A-Za-z0-9._-]/g, '_')}.${stream === 'stdout' ? 'out' : 'err'}.log`
}

/**
 * One log file, appended to without blocking the event loop: lines wait in memory while one write
 * is in flight and go out together in the next. Before a line would take the file over `maxSize`
 * (a line longer than that gets a file of its own), it is rotated: `NAME.log` becomes `NAME.log.1`,
 * `.1` becomes `.2` and so on, the one past `keep` overwritten (0: the file is deleted).
 */
class RotatingFile {
  readonly #path: string
  readonly #plan: LogPlan
  readonly #onError: (message: string) => void
  #handle: FileHandle | undefined
  #size = 0
  #queue: Buffer[] = []
  #draining: Promise<void> | undefined
  #failed = false

  constructor(path: string, plan: LogPlan, onError: (message: string) => void) {
    this.#path = path
    this.#plan = plan
    this.#onError = onError
  }

  write(text: string): void {
    if (this.#failed) return
    this.#queue.push(Buffer.from(text))
    this.#draining ??= this.#drain().finally(() => (this.#draining = undefined))
  }

  async #drain(): Promise<void> {
    try {
      while (this.#queue.length > 0) {
        const lines = this.#queue
        this.#queue = []
        let start = 0
        while (start < lines.length) {
          if (this.#handle === undefined) {
            this.#handle = await (await files()).open(this.#path, 'a')
            this.#size = (await this.#handle.stat()).size
          }
          let end = start
          let bytes = 0
          while (end < lines.length && (this.#size + bytes === 0 || this.#size + bytes + lines[end]!.length <= this.#plan.maxSize)) bytes += lines[end++]!.length
          if (end === start) {
            await this.#rotate()
            continue
          }
          const chunk = end - start === 1 ? lines[start]! : Buffer.concat(lines.slice(start, end), bytes)
          await this.#handle.write(chunk)
          this.#size += bytes
          start = end
        }
      }
    } catch (error) {
      this.#failed = true
      this.#queue = []
      this.#onError(`${this.#path}: ${(error as Error).message}; its lines are no longer written`)
    }
  }

  async #rotate(): Promise<void> {
    await this.#handle?.close()
    this.#handle = undefined
    const path = this.#path
    const { rename, unlink } = await files()
    const ignoreMissing = (error: NodeJS.ErrnoException): void => {
      if (error.code !== 'ENOENT') throw error
    }
    if (this.#plan.keep === 0) {
      await unlink(path).catch(ignoreMissing)
      return
    }
    for (let index = this.#plan.keep - 1; index >= 1; index--) await rename(`${path}.${index}`, `${path}.${index + 1}`).catch(ignoreMissing)
    await rename(path, `${path}.1`)
  }

  /** Resolves once every line given so far is written and the file is closed. */
  async close(): Promise<void> {
    while (this.#draining !== undefined) await this.#draining
    await this.#handle?.close()
    this.#handle = undefined
  }
}

/**
 * The log files of a run's process wards: the `line` events of each ward go to
 * `DIR/NAME.out.log` (stdout) and `DIR/NAME.err.log` (stderr), each line prefixed with its
 * ISO-8601 time and the child's pid (from the ward's `spawned` event): `2026-12-04T16:05:09.123Z
 * [4242] text`. A line cut in pieces (`partial`) is written whole again, prefixed once. Writing
 * never blocks the event loop; {@link LogFiles.close} waits until everything is written.
 */
export class LogFiles {
  readonly #plan: LogPlan
  readonly #onError: (message: string) => void
  readonly #now: () => number
  readonly #files = new Map<string, RotatingFile>()
  readonly #pids = new Map<string, number>()
  /** Files whose last line was a piece (`partial`): the next piece continues it, unprefixed. */
  readonly #midLine = new Set<string>()

  /** `onError` hears a file that could not be written (once per file; its lines are then dropped). */
  constructor(plan: LogPlan, onError: (message: string) => void, now: () => number = Date.now) {
    this.#plan = plan
    this.#onError = onError
    this.#now = now
  }

  /** Takes a run's event: `spawned` gives the pid, `line` is written; others are ignored. */
  event(event: StewardEvent): void {
    if (event.type === 'spawned') {
      if (event.pid !== undefined) this.#pids.set(event.path, event.pid)
      return
    }
    if (event.type !== 'line') return
    const name = logFileName(event.ward, event.stream)
    let file = this.#files.get(name)
    if (file === undefined) {
      file = new RotatingFile(join(this.#plan.dir, name), this.#plan, this.#onError)
      this.#files.set(name, file)
    }
    const prefix = this.#midLine.has(name) ? '' : `${isoTime(this.#now())} [${this.#pids.get(event.path) ?? '-'}] `
    if (event.partial === true) this.#midLine.add(name)
    else this.#midLine.delete(name)
    file.write(`${prefix}${event.line}${event.partial === true ? '' : '\n'}`)
  }

  /** Resolves once every line taken so far is written and every file is closed. */
  async close(): Promise<void> {
    await Promise.all([...this.#files.values()].map((file) => file.close()))
  }
}
