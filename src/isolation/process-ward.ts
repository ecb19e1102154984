import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import type { Timer } from '../time/clock.js'
import { describeProbe, probeEvery, startProbes, validProbe, type ProbeHeartbeat } from './probes.js'
import { describe, describeValue, toMs, type Duration } from '../time/duration.js'
import type { Output } from '../steward/output.js'
import { MemoryLimitError, WardStartError } from '../steward/errors.js'
import { parsedOption, rangeError, typeError, unknownKey, processWardScope } from '../steward/validate.js'
import { wardHost } from '../steward/host.js'
import type { Ward, WardContext } from '../steward/ward.js'
import type { ChildMessage, ToChild } from './child.js'
import { Mailbox } from './mailbox.js'
import { lineReader } from './lines.js'
import { groupAlive, hasProc, signalGroup } from './process-group.js'
import { memorySamplerFor, usageSampler } from './memory-sampler.js'
import { markMemoryLimited } from '../steward/restart-reasons.js'
import { guardGroup, releaseGroup } from './guardian.js'
import { toBytes, type Size } from './size.js'
import { streamOptionError } from './stream-option.js'

/**
 * Where a process ward's heartbeat comes from:
 * - `'ipc'`: messages from the child (a Node child uses `steward/child`: `beat()`, `output()`);
 * - `'stdout'`: every line the child writes on stdout;
 * - `{ http, every? }`: an HTTP GET of `http` every `every` (default: the pulse interval) that answers
 *   200 to 399, as Kubernetes' httpGet (a redirect is not followed; `user:password@` in the URL is
 *   sent as basic auth), on a connection of its own, closed after each answer;
 * - `{ tcp: { port, host? }, every? }`: a TCP connection that opens;
 * - `{ exec: [command, ...args], every?, timeout? }`: a command (no shell) that exits 0 within
 *   `timeout` (default `every`), as Kubernetes' exec probe; killed at its timeout and when the ward
 *   ends, so it never outlives it;
 * - `{ probe: (signal) => promise, every? }`: a function whose promise resolves within `every`
 *   (any protocol: a Redis PING, a SQL `select 1`); `signal` aborts at that deadline, when the
 *   ward ends, and once the probe has answered;
 * - `'none'`: none — the child is healthy until it exits.
 *
 * What each can see: a child frozen by SIGSTOP still has its listening socket, and the kernel
 * accepts TCP connections into its backlog, so `tcp` cannot see the freeze; `http`, `exec` and
 * `probe` see it when they ask the child for an answer (an HTTP response, a protocol reply).
 */
export type ProcessHeartbeat = 'ipc' | 'stdout' | 'none' | ProbeHeartbeat

/** Options of {@link processWard}. */
export interface ProcessWardOptions {
  /** @default 'none' */
  readonly heartbeat?: ProcessHeartbeat
  /** The child's environment. @default process.env */
  readonly env?: Readonly<Record<string, string | undefined>>
  /** The child's working directory. @default process.cwd() */
  readonly cwd?: string
  /** Run through a shell (only when asked: arguments are then shell syntax). @default false */
  readonly shell?: boolean | string
  /** The signal that asks the child (its whole process group) to stop; SIGCONT follows it, so a stopped process acts on it. @default 'SIGTERM' */
  readonly killSignal?: NodeJS.Signals
  /** How long the child's process group may take to exit after `killSignal` before it gets SIGKILL. @default '5s' */
  readonly killAfter?: Duration
  /**
   * The most resident memory the child's process group may use: the sum of its members' RSS,
   * sampled every `memoryEvery`. Over it, the child is retired (its group asked with
   * `killSignal`, then SIGKILL after `killAfter`) and the ward fails with a `MemoryLimitError`
   * (restart reason `'memory'`). Bytes, or a size string (`'512MB'`, `'1GiB'`). Linux only (it
   * reads /proc): refused elsewhere. @default no limit
   */
  readonly maxMemory?: Size
  /**
   * How often the process group's memory is sampled when `maxMemory` is set: a child over its
   * limit is retired at most this long after it crossed it. Samples fall on multiples of
   * `memoryEvery` of the clock's time, and one read of /proc (about 2 ms per 100 processes on the
   * machine) serves every ward on the same clock whose sample is due then, however many wards have
   * a limit. @default '1s'
   */
  readonly memoryEvery?: Duration
  /**
   * Whether the child sends outputs over IPC (`output()` of `steward/child`; needs heartbeat
   * `'ipc'`): the process ward is then a stream ward. A child that sends an output under
   * `stream: false` fails with a `TypeError` naming this option. @default false
   */
  readonly stream?: boolean
  /**
   * Receives each line the child writes on stdout and stderr (also a `line` event of the run),
   * without its newline; a stream's last line also when it does not end with one. `partial`: the
   * line is longer than `maxLineLength` and this is one of its pieces, the line going on in the
   * next call for this stream.
   */
  readonly onLine?: (stream: 'stdout' | 'stderr', line: string, partial: boolean) => void
  /**
   * The longest line of the child's stdout or stderr handed on whole, in bytes (UTF-8), or a size
   * string (`'64KiB'`, `'1MiB'`); at least 4 bytes. A longer line comes in pieces of at most this
   * many bytes (never splitting a character), each but its last marked `partial` (`onLine`, the
   * `line` event): no more than this is held for a line that has not ended. @default '64KiB'
   */
  readonly maxLineLength?: Size
  /** Receives each child process as it starts: its `stdout` and `stderr` are readable streams. */
  readonly onSpawn?: (child: ChildProcess) => void
}

/** threadWard's own options: named as such when given to processWard. */
const threadOnly = new Set(['export', 'resourceLimits', 'terminateAfter', 'sampleEvery', 'warm'])
const known = new Set(['heartbeat', 'env', 'cwd', 'shell', 'killSignal', 'killAfter', 'maxMemory', 'memoryEvery', 'stream', 'onLine', 'maxLineLength', 'onSpawn'])

/** Spawn errors that starting again cannot heal (the command, or its folder, is missing or not executable): a start error. */
const permanentSpawnErrors = new Set(['ENOENT', 'EACCES', 'ENOTDIR', 'EISDIR', 'ELOOP', 'ENAMETOOLONG', 'ENOEXEC', 'EPERM'])

/**
 * Child processes started by process wards whose process group may still be alive: a child
 * stays here after its own exit until no member of its group is left (for leak checks, and
 * for a CLI that SIGKILLs every group with `process.kill(-child.pid, 'SIGKILL')`). @internal
 */
export const liveChildren = new Set<ChildProcess>()

/** Process groups exist (each child gets its own); not on Windows, where only the child is signalled. */
const groups = process.platform !== 'win32'
/** After SIGKILL, how long the ward waits for its group to be empty before it settles anyway (a process in uninterruptible sleep). */
const GROUP_GRACE_MS = 2_000
/**
 * Once the child's group is gone, how long the ward waits for its stdout and stderr to end (their
 * last lines are read then) before it closes them: a process that left the group (a daemon) may
 * hold them open.
 */
const STDIO_GRACE_MS = 1_000

/**
 * A ward that is a child process, supervised by its heartbeat (see
 * {@link ProcessHeartbeat}) and its exit: exit code 0 is completion,
 * another code or a signal is a failure. Retiring it sends `killSignal`
 * (and SIGCONT: a stopped process acts on nothing else), then SIGKILL after
 * `killAfter` (the stop report's `killed` names it).
 * Never run through a shell unless `shell` says so. A command that cannot
 * be executed (not found, not executable: a spawn error) fails with a
 * `WardStartError`, which ends the run without a restart. The child learns what a
 * ward reads from its context from its environment: `STEWARD_RESUME` (the
 * resume point, JSON; empty for none), `STEWARD_ATTEMPT`,
 * `STEWARD_FAILURES_HERE` (failures in a row at the resume point) and
 * `STEWARD_POISONED` (`'1'` when the input at the resume point is poison, else
 * `'0'`); `steward/child` reads them. With `'ipc'`, its progress survives
 * restarts like any ward's, and its dead letters (`deadLetter()` of
 * `steward/child`) are the run's, as `ctx.deadLetter`. `T` and `P`
 * are the types of its outputs and progress, as the caller declares them
 * (they cross a process boundary unchecked).
 */
export function processWard<T = unknown, P = unknown>(command: string, args: readonly string[] = [], options: ProcessWardOptions = {}): Ward<T, P> {
  if (typeof command !== 'string' || command === '') throw new TypeError(`processWard: command must be a non-empty string, got ${describe(command)}`)
  if (!Array.isArray(args) || args.some((arg) => typeof arg !== 'string')) throw new TypeError('processWard: args must be an array of strings')
  if (typeof options !== 'object' || options === null) throw typeError(processWardScope, 'options', `must be an object, got ${describe(options)}`)
  for (const key of Object.keys(options)) {
    if (threadOnly.has(key)) throw typeError(processWardScope, key, `applies only to threadWard (a worker thread), not to a child process`)
    if (!known.has(key)) throw unknownKey(processWardScope, key, [...known])
  }
  const heartbeat = options.heartbeat ?? 'none'
  validHeartbeat(heartbeat)
  const killAfter = parsedOption(processWardScope, 'killAfter', () => toMs(options.killAfter ?? 5_000, 'killAfter'))
  const killSignal = options.killSignal ?? 'SIGTERM'
  if (typeof killSignal !== 'string') throw typeError(processWardScope, 'killSignal', `must be a signal name, got ${describe(killSignal)}`)
  const stream = options.stream ?? false
  if (typeof stream !== 'boolean') throw typeError(processWardScope, 'stream', `must be a boolean, got ${describe(stream)}`)
  if (stream && heartbeat !== 'ipc') throw typeError(processWardScope, 'stream', `needs heartbeat 'ipc' (outputs come over IPC)`)
  const onLine = options.onLine
  if (onLine !== undefined && typeof onLine !== 'function') throw typeError(processWardScope, 'onLine', `must be a function, got ${describe(onLine)}`)
  if (options.cwd !== undefined && typeof options.cwd !== 'string') throw typeError(processWardScope, 'cwd', `must be a string, got ${describe(options.cwd)}`)
  if (options.env !== undefined && (typeof options.env !== 'object' || options.env === null || Array.isArray(options.env))) {
    throw typeError(processWardScope, 'env', `must be an object of strings, got ${describe(options.env)}`)
  }
  for (const [name, value] of Object.entries(options.env ?? {})) {
    if (value !== undefined && typeof value !== 'string') throw typeError(processWardScope, `env.${name}`, `must be a string, got ${describeValue(value)}`)
  }
  if (options.shell !== undefined && typeof options.shell !== 'boolean' && typeof options.shell !== 'string') {
    throw typeError(processWardScope, 'shell', `must be a boolean or a shell's path, got ${describe(options.shell)}`)
  }
  const onSpawn = options.onSpawn
  if (onSpawn !== undefined && typeof onSpawn !== 'function') throw typeError(processWardScope, 'onSpawn', `must be a function, got ${describe(onSpawn)}`)
  const maxMemory = options.maxMemory === undefined ? undefined : parsedOption(processWardScope, 'maxMemory', () => toBytes(options.maxMemory, 'maxMemory'))
  if (maxMemory !== undefined && !hasProc) {
    throw typeError(processWardScope, 'maxMemory', `needs Linux's /proc to sample memory, and this system (${process.platform}) has none`)
  }
  if (options.memoryEvery !== undefined && maxMemory === undefined) throw typeError(processWardScope, 'memoryEvery', `needs option 'maxMemory'`)
  const memoryEvery = parsedOption(processWardScope, 'memoryEvery', () => toMs(options.memoryEvery ?? 1_000, 'memoryEvery', { zero: false }))
  const maxLineLength = parsedOption(processWardScope, 'maxLineLength', () => toBytes(options.maxLineLength ?? 65_536, 'maxLineLength'))
  if (maxLineLength < 4) throw rangeError(processWardScope, 'maxLineLength', `must be at least 4 bytes (one UTF-8 character), got ${String(options.maxLineLength)}`)

  const supervise = async function* processWard(ctx: WardContext): AsyncGenerator<T | Output<T>> {
    const ipc = heartbeat === 'ipc'
    const child = spawn(command, args, {
      cwd: options.cwd ?? process.cwd(),
      env: {
        ...(options.env ?? process.env),
        STEWARD_ATTEMPT: String(ctx.attempt),
        STEWARD_RESUME: ctx.resume === undefined ? '' : JSON.stringify(ctx.resume),
        STEWARD_FAILURES_HERE: String(ctx.failuresHere),
        STEWARD_POISONED: ctx.poisoned ? '1' : '0',
      },
      shell: options.shell ?? false,
      stdio: ['ignore', 'pipe', 'pipe', ...(ipc ? (['ipc'] as const) : [])],
      // Its own process group (and session): retiring it signals everything it started.
      detached: groups,
    })
    liveChildren.add(child)
    // If this process dies (however), the guardian stops the group; released once it is empty.
    if (groups && child.pid !== undefined) guardGroup(child.pid, killSignal)
    // Its figures for status(), from the one /proc scan of every process ward's group.
    const untrackUsage = groups && child.pid !== undefined ? usageSampler.track(child.pid) : noop
    if (child.pid !== undefined) {
      const host = ctx[wardHost]
      if (host !== undefined) {
        const pid = child.pid
        const probe = typeof heartbeat === 'object' ? { probe: describeProbe(heartbeat, probeEvery(heartbeat, ctx.pulseInterval)) } : {}
        host.noteSpawned(groups ? { pid, usage: () => usageSampler.usage(pid), ...probe } : { pid, ...probe })
        host.emit({ type: 'spawned', ward: ctx.name, path: host.path, at: ctx.clock.now(), attempt: ctx.attempt, pid })
      }
    }
    onSpawn?.(child)
    type Event =
      | { type: 'message'; message: ChildMessage }
      | { type: 'exit'; code: number | null; signal: NodeJS.Signals | null }
      | { type: 'error'; error: Error }
      | { type: 'memory'; rss: number }
    const mailbox = new Mailbox<Event>()
    const deliver = mailbox.deliver
    child.on('exit', (code, signal) => {
      // Its group may outlive it: it stays in liveChildren until the group is empty (below).
      if (!groups) liveChildren.delete(child)
      // What it sent just before it exited may still be in the IPC pipe (a busy steward can see the
      // exit first): its exit comes after its last message, when the channel closes (as 'close' does).
      if (ipc && child.connected) child.once('disconnect', () => deliver({ type: 'exit', code, signal }))
      else deliver({ type: 'exit', code, signal })
    })
    // Its stdio pipes close after its exit: the ward waits for that too, so no pipe outlives it.
    const closed = new Promise((resolve) => {
      child.once('close', resolve)
      child.once('error', resolve) // could not start: no close may follow
    })
    child.on('error', (error) => {
      // A child that could not be started (ENOENT …) never exits.
      if (child.pid === undefined) liveChildren.delete(child)
      deliver({ type: 'error', error })
    })
    if (ipc) child.on('message', (message: ChildMessage) => deliver({ type: 'message', message }))
    const lines = (name: 'stdout' | 'stderr') =>
      lineReader((line, partial) => {
        if (name === 'stdout' && heartbeat === 'stdout') ctx.beat()
        onLine?.(name, line, partial)
        const host = ctx[wardHost]
        if (host !== undefined) {
          host.emit({ type: 'line', ward: ctx.name, path: host.path, at: ctx.clock.now(), attempt: ctx.attempt, stream: name, line, ...(partial ? { partial } : {}) })
        }
      }, maxLineLength)
    for (const [name, stream] of [['stdout', child.stdout], ['stderr', child.stderr]] as const) {
      if (stream === null) continue
      const reader = lines(name)
      stream.on('data', reader)
      // The last line, with or without its newline.
      stream.once('end', reader.end)
    }

    // Probes, for the http, tcp, exec and probe heartbeats: one at a time, every `every`.
    const probes = typeof heartbeat === 'object' ? startProbes(heartbeat, ctx, { env: options.env, cwd: options.cwd }) : undefined

    // Retiring: ask, then insist; the child's whole process group (pgid = its pid).
    let killer: Timer | undefined
    let asked = false
    /** When SIGKILL was sent (clock time), if it was. */
    let insistedAt: number | undefined
    const alive = (): boolean => child.pid !== undefined && child.exitCode === null && child.signalCode === null
    /** The child, or anything left of its group (a grandchild; zombies do not count). */
    const anyAlive = (): boolean => alive() || (groups && child.pid !== undefined && groupAlive(child.pid))
    const signal = (name: NodeJS.Signals): void => {
      if (groups) signalGroup(child.pid!, name)
      else child.kill(name)
    }
    const insist = (): void => {
      killer = undefined
      if (!anyAlive()) return
      signal('SIGKILL')
      insistedAt = ctx.clock.now()
      const host = ctx[wardHost]
      if (host !== undefined) host.noteKilled(`${host.path}#${child.pid ?? '?'}`)
    }
    const ask = (): void => {
      if (asked || !anyAlive()) return
      asked = true
      // A child using steward/child hears it first: its idle waits end and it can leave on its own.
      if (ipc && child.connected) child.send({ steward: 'stop' } satisfies ToChild, noop)
      signal(killSignal)
      // A stopped (SIGSTOP, a debugger) process acts on no signal but SIGKILL: wake it, so it can
      // act on killSignal now rather than wait killAfter for SIGKILL (systemd does the same).
      if (groups) signal('SIGCONT')
      killer = ctx.clock.setTimer(killAfter, insist)
    }
    /**
     * Resolves `true` once no member of the child's group is left, polling /proc (5 ms, doubling to
     * 100 ms), or `false` if one is still alive GROUP_GRACE_MS after SIGKILL.
     */
    let poller: Timer | undefined
    const groupGone = (pgid: number): Promise<boolean> =>
      new Promise((resolve) => {
        let wait = 5
        const poll = (): void => {
          poller = undefined
          if (!groupAlive(pgid)) return resolve(true)
          if (insistedAt !== undefined && ctx.clock.now() - insistedAt >= GROUP_GRACE_MS) return resolve(false)
          poller = ctx.clock.setTimer(wait, poll)
          wait = Math.min(100, wait * 2)
        }
        poll()
      })

    // The memory watchdog: the group's RSS every `memoryEvery` (one /proc scan per tick shared by
    // every ward on the clock); over the limit, the child is asked to go at once.
    let unwatchMemory: (() => void) | undefined
    if (maxMemory !== undefined && child.pid !== undefined) {
      unwatchMemory = memorySamplerFor(ctx.clock).watch(child.pid, memoryEvery, (rss) => {
        if (rss <= maxMemory) return
        unwatchMemory?.()
        deliver({ type: 'memory', rss })
        ask()
      })
    }
    const onAbort = ask
    ctx.signal.addEventListener('abort', onAbort, { once: true })
    let exited = false
    /** The child said it waits for input (steward/child's `idle`). */
    let childIdle = false
    try {
      for (;;) {
        // Without a heartbeat of its own the child is healthy until it exits: a wait for input —
        // once it exists (no pid: the spawn failed, and its error is on the way; a child that could
        // not start must not read as up, or `startOrder: 'ready'` would start the next one).
        const event = (heartbeat === 'none' && child.pid !== undefined) || childIdle ? await ctx.idle(mailbox.receive()) : await mailbox.receive()
        if (event.type === 'message') {
          const message = event.message
          if (message.steward === 'beat') ctx.beat(message.progress)
          else if (message.steward === 'idle') childIdle = true
          else if (message.steward === 'busy') childIdle = false
          else if (message.steward === 'dead-letter') ctx.deadLetter(message.input, message.next)
          else if (message.steward === 'output') {
            if (!stream) throw streamOptionError('processWard', ctx.name, { command }, 'the child sent an output (output() of steward/child)')
            yield message.progress === undefined ? (message.value as T) : ctx.output(message.value as T, message.progress)
          }
          continue
        }
        if (event.type === 'error') {
          // Never started: the command is missing or cannot be executed, and will not be next time either.
          const code = (event.error as NodeJS.ErrnoException).code
          if (child.pid === undefined && code !== undefined && permanentSpawnErrors.has(code)) throw startError(ctx.name, command, options.cwd, event.error)
          throw event.error
        }
        if (event.type === 'memory') throw new MemoryLimitError(ctx.name, { limit: maxMemory, rss: event.rss, pid: child.pid! })
        exited = true
        if (ctx.signal.aborted) return
        if (event.code === 0) return
        throw new Error(
          event.signal !== null ? `${command} was killed by ${event.signal}` : `${command} exited with code ${String(event.code)}`,
        )
      }
    } finally {
      ctx.signal.removeEventListener('abort', onAbort)
      await probes?.stop()
      unwatchMemory?.()
      untrackUsage()
      if (!exited && alive()) {
        // Leaving on any path (stopped while the output waited on its consumer, the consumer left,
        // a restart, the steward gave up): the same graceful stop, killSignal then SIGKILL.
        const gone = new Promise((resolve) => child.once('exit', resolve))
        ask()
        await gone
      }
      if (groups && child.pid !== undefined) {
        // The child is gone, its group perhaps not (grandchildren; a crash leaves them behind):
        // the same stop for what is left, and the ward settles only when nothing is.
        let empty = !groupAlive(child.pid)
        if (!empty) {
          ask()
          empty = await groupGone(child.pid)
          poller?.cancel()
        }
        // Kept when something survived SIGKILL (uninterruptible sleep): its group may still be alive.
        if (empty) {
          liveChildren.delete(child)
          releaseGroup(child.pid)
        }
      }
      killer?.cancel()
      // Its pipes end once no process holds them, and their last lines are read then; something
      // that left the group (or survived SIGKILL) may hold them open: ours are closed rather than
      // waited for past STDIO_GRACE_MS.
      if (child.pid !== undefined && !(groups && liveChildren.has(child))) {
        await new Promise<void>((resolve) => {
          const grace = ctx.clock.setTimer(STDIO_GRACE_MS, resolve)
          void closed.then(() => {
            grace.cancel()
            resolve()
          })
        })
      }
      child.stdout?.destroy()
      child.stderr?.destroy()
      await closed
      child.removeAllListeners()
      child.stdout?.removeAllListeners()
      child.stderr?.removeAllListeners()
    }
  }
  // The run keeps progress untyped: `T` and `P` are what the caller declares the ward yields and commits.
  const ward: Ward<T, P> = stream
    ? (supervise as Ward<T, P>)
    : async function processWard(ctx: WardContext): Promise<void> {
        for await (const _ of supervise(ctx)) {
          // no outputs
        }
      }
  // Its status lists 'memory' among its restart reasons (and its metrics a zero series for it).
  return maxMemory === undefined ? ward : markMemoryLimited(ward)
}

function validHeartbeat(heartbeat: unknown): asserts heartbeat is ProcessHeartbeat {
  if (heartbeat === 'ipc' || heartbeat === 'stdout' || heartbeat === 'none') return
  if (typeof heartbeat === 'object' && heartbeat !== null && validProbe(heartbeat)) {
    // Here, before any incarnation spawns a child: a probe loop that refused it would leave the child behind.
    if (heartbeat.every !== undefined) parsedOption(processWardScope, 'heartbeat.every', () => toMs(heartbeat.every, 'heartbeat.every', { zero: false }))
    return
  }
  throw typeError(processWardScope, 'heartbeat', `must be 'ipc', 'stdout', 'none', { http }, { tcp: { port } }, { exec: [command, ...args] } or { probe: (signal) => promise }, got ${describe(heartbeat)}`)
}

function noop(): void {}

/** A command that could not be spawned, as a {@link WardStartError} saying why for a person. */
function startError(ward: string, command: string, cwd: string | undefined, error: Error): WardStartError {
  const code = (error as NodeJS.ErrnoException).code!
  // spawn says ENOENT both for a missing command and for a missing working directory.
  const why =
    code === 'ENOENT' && cwd !== undefined && !existsSync(cwd)
      ? `its working directory ${cwd} does not exist (ENOENT)`
      : code === 'ENOENT'
        ? 'not found (ENOENT)'
        : code === 'EACCES'
          ? 'permission denied (EACCES)'
          : `${error.message.replace(/^spawn \S+ /, '')}${error.message.includes(code) ? '' : ` (${code})`}`
  return new WardStartError(ward, { command }, error, why)
}
