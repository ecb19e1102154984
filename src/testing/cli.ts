import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { main } from '../cli/main.js'
import { lineReader } from '../isolation/lines.js'

/** The built executable the CLI tests run (the test runner rebuilds `dist/` when it is stale). */
export const builtBin = fileURLToPath(new URL('../../dist/cli/bin.cjs', import.meta.url))
/** The test children's script (`test/fixtures/cli-child.mjs`). */
export const cliChild = fileURLToPath(new URL('../../test/fixtures/cli-child.mjs', import.meta.url))

/** One line the CLI wrote, when it arrived (`performance.now()`), and its JSON when it is JSON. */
export interface CliLine {
  readonly text: string
  readonly at: number
  readonly stream: 'stdout' | 'stderr'
  readonly json: Record<string, unknown> | undefined
}

/** A running `steward` process, its output as it comes, and its exit. Test-only. */
export interface RunningCli {
  readonly process: ChildProcess
  readonly lines: CliLine[]
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /**
   * Resolves with the first line (from index `from` on) that `match` accepts, polling as lines
   * arrive; rejects after `within` ms with what was seen.
   */
  waitFor(what: string, match: (line: CliLine) => boolean, within?: number, from?: number): Promise<CliLine>
  /** The JSON events (stdout) so far. */
  events(): Record<string, unknown>[]
  /** SIGKILLs the CLI if it is still running (test cleanup). */
  kill(): void
}

/** What a CLI command run to its end left: its exit code and everything it wrote. */
export interface FinishedCli {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Runs `node dist/cli/bin.cjs ...args` in `cwd` with `env` to its end, collecting its exit code and output. */
export function runCli(args: readonly string[], cwd: string, env: NodeJS.ProcessEnv): Promise<FinishedCli> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [builtBin, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.once('error', reject)
    child.once('close', (code) => resolve({ code, stdout, stderr }))
  })
}

/**
 * Starts `node dist/cli/bin.cjs ...args`. With `json`, every stdout line must parse as JSON
 * (a line that does not is recorded with `json: undefined` and fails {@link assertJsonLines}).
 */
export function startCli(args: readonly string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): RunningCli {
  const child = spawn(process.execPath, [builtBin, ...args], { cwd: options.cwd, env: options.env ?? { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: CliLine[] = []
  const waiters = new Set<() => void>()
  const read = (stream: 'stdout' | 'stderr') =>
    lineReader((text) => {
      let json: Record<string, unknown> | undefined
      if (stream === 'stdout') {
        try {
          json = JSON.parse(text) as Record<string, unknown>
        } catch {
          json = undefined
        }
      }
      lines.push({ text, at: performance.now(), stream, json })
      for (const wake of waiters) wake()
    })
  child.stdout.on('data', read('stdout'))
  child.stderr.on('data', read('stderr'))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('close', (code, signal) => {
      resolve({ code, signal })
      for (const wake of waiters) wake()
    })
  })
  let done = false
  void exited.then(() => (done = true))
  return {
    process: child,
    lines,
    exited,
    waitFor(what, match, within = 10_000, from = 0) {
      return new Promise((resolve, reject) => {
        let index = from
        const check = (): void => {
          for (; index < lines.length; index++) {
            if (match(lines[index]!)) {
              finish()
              resolve(lines[index]!)
              return
            }
          }
          if (done) {
            finish()
            reject(new Error(`steward exited before ${what}; output:\n${lines.map((line) => line.text).join('\n')}`))
          }
        }
        const timer = setTimeout(() => {
          finish()
          reject(new Error(`no ${what} within ${within} ms; output:\n${lines.map((line) => line.text).join('\n')}`))
        }, within)
        const finish = (): void => {
          clearTimeout(timer)
          waiters.delete(check)
        }
        waiters.add(check)
        check()
      })
    },
    events: () => lines.filter((line) => line.stream === 'stdout').map((line) => line.json ?? { unparsed: line.text }),
    kill() {
      // A test that failed midway leaves no child of the CLI behind either: those alive below it
      // now, and those it reported (a child whose parent is gone is no longer below it).
      const below = child.pid === undefined ? [] : descendants(child.pid)
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      for (const pid of [...below, ...pidsIn(lines)]) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          // gone
        }
      }
    },
  }
}

/** Every stdout line parsed as a JSON object. */
export function assertJsonLines(cli: RunningCli): void {
  const bad = cli.lines.filter((line) => line.stream === 'stdout' && (line.json === undefined || typeof line.json !== 'object'))
  if (bad.length > 0) throw new Error(`not JSON: ${bad.map((line) => line.text).join(' | ')}`)
}

/** Whether a process of this pid exists. */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** The pids children wrote as `pid N` (a `line` event of the JSON output). */
export function childPids(cli: RunningCli): number[] {
  return pidsIn(cli.lines)
}

function pidsIn(lines: readonly CliLine[]): number[] {
  return lines.flatMap((line) => {
    const match = line.json?.type === 'line' ? /^pid (\d+)/.exec(String(line.json.line)) : null
    return match === null ? [] : [Number(match[1])]
  })
}

/** A predicate for a JSON event of `type` whose fields include `fields`. */
export function isEvent(type: string, fields: Record<string, unknown> = {}): (line: CliLine) => boolean {
  return (line) => line.json?.type === type && Object.entries(fields).every(([key, value]) => line.json![key] === value)
}

/** A predicate for a child's line (a `line` event) that `pattern` matches. */
export function isLine(pattern: RegExp, path?: string): (line: CliLine) => boolean {
  return (line) => line.json?.type === 'line' && pattern.test(String(line.json.line)) && (path === undefined || line.json.path === path)
}


/** Runs main() here, capturing stderr. */
export async function inProcess(args: string[]): Promise<{ code: number; stderr: string; stdout: string[] }> {
  const stderr: string[] = []
  const stdout: string[] = []
  const write = process.stderr.write.bind(process.stderr)
  process.stderr.write = (chunk: string | Uint8Array): boolean => stderr.push(String(chunk)) > 0
  try {
    const code = await main(args, (line) => stdout.push(line))
    return { code, stderr: stderr.join(''), stdout }
  } finally {
    process.stderr.write = write
  }
}

/** Every process below `root` now, from /proc (Linux). */
export function descendants(root: number): number[] {
  const children = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1])
      children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)])
    } catch {
      // exited meanwhile
    }
  }
  const found: number[] = []
  const walk = (pid: number): void => {
    for (const next of children.get(pid) ?? []) {
      found.push(next)
      walk(next)
    }
  }
  walk(root)
  return found
}

/** Gone: no such process, or a zombie (dead, waiting for its parent or PID 1 to reap it). Linux. */
export function dead(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    const state = stat.slice(stat.lastIndexOf(')') + 2)[0]
    return state === 'Z' || state === 'X'
  } catch {
    return true
  }
}
