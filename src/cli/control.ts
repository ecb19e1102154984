import { chmodSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs'
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { StewardEvent } from '../observe/events.js'
import type { WardStatus } from '../observe/status.js'
import type { Lifecycle, StopReport } from '../steward/run-api.js'
import { isoTime } from '../time/iso.js'
import { UsageError } from './flags.js'
import type { ReloadResult } from './reload.js'

// The control channel of a running `steward up` or `steward run`: a Unix socket (mode 0600) that
// `steward status|restart|stop|start|reload|logs` talk to. The protocol is newline-delimited JSON:
// a client sends one request line, the server answers with one response line and closes; `logs`
// answers with one line per child line, then (without `follow`) an end line, or (with `follow`)
// goes on with new lines until the client closes.

/** The longest Unix socket path Linux takes (`sun_path` is 108 bytes with its NUL). */
export const maxSocketPathBytes = 107

/** Lines kept in memory per app for `steward logs`. */
export const logLinesPerApp = 1000

/** A request to the control socket. */
export type ControlRequest =
  | { readonly command: 'hello' }
  | { readonly command: 'status'; readonly names?: readonly string[] }
  | { readonly command: 'restart' | 'stop' | 'start'; readonly names: readonly string[] }
  | { readonly command: 'reload' }
  | { readonly command: 'logs'; readonly names?: readonly string[]; readonly lines?: number; readonly follow?: boolean }

/** Why a request failed: the client's exit code follows from it (2 for the first three, 1 otherwise). */
export type ControlErrorCode = 'bad-request' | 'unknown-app' | 'invalid-config' | 'unsupported' | 'failed'

/** An app as `steward status` shows it (one JSON object of `status --json`'s `apps`). */
export interface AppStatus {
  readonly name: string
  readonly path: string
  readonly state: WardStatus['state']
  /** Up: its current incarnation showed it is up. */
  readonly up: boolean
  /** The child process's pid while one runs (a process app), else `null`. */
  readonly pid: number | null
  /** Milliseconds since the current child process or worker was started, else `null`. */
  readonly uptime: number | null
  readonly restarts: number
  readonly lastFailure: { readonly message: string; readonly name: string } | null
  /** Resident memory of the child process in bytes, when known. */
  readonly rss: number | null
  /** CPU seconds (user + system) of the child's process group, when known. */
  readonly cpu: number | null
  /** Open file descriptors of the child's process group, when known. */
  readonly fds: number | null
  /** The last probe failure's message, while its probe fails. */
  readonly probeFailure: string | null
}

/** A child line kept for `steward logs`. */
export interface LogLine {
  readonly type: 'line'
  /** The app's name. */
  readonly app: string
  readonly path: string
  readonly stream: 'stdout' | 'stderr'
  readonly line: string
  readonly partial?: true
  /** Wall-clock time it was read, ISO 8601. */
  readonly time: string
}

/**
 * What the control socket acts on: the apps of a run. `status()` gives each app's status tree;
 * the actions take an app's name (checked against `status()` first) and resolve when done.
 */
export interface ControlTarget {
  /** What is supervised, for messages: the config file, or `steward run`'s command. */
  readonly what: string
  /** Each app's status, in start order (each copy of an app with `instances` is one). */
  status(): readonly WardStatus[]
  /**
   * The apps with `instances`, by name: their copies (`web:0` …). A request may name such an app
   * for all its copies (status, logs) and the actions take it; absent, every name is a status's.
   */
  groups?(): ReadonlyMap<string, readonly string[]>
  /** Restarts an app (a tree member's siblings follow its supervisor's strategy; an app with `instances`, one copy at a time). */
  restart(name: string): Promise<void>
  /** Stops an app; it stays stopped until started. */
  stop(name: string): Promise<StopReport>
  /** Starts a stopped or given-up app again. */
  start(name: string): Promise<void>
  /** Re-reads the config and applies the difference; an invalid config rejects with a `UsageError`. */
  reload(): Promise<ReloadResult>
}

/** Keeps the last {@link logLinesPerApp} lines of each app and hands new ones to followers. */
export class LogBook {
  readonly #rings = new Map<string, Ring>()
  readonly #followers = new Set<(line: LogLine) => void>()
  readonly #appOf: (path: string) => string
  readonly #now: () => number
  readonly #perApp: number
  #seq = 0

  constructor(appOf: (path: string) => string, options: { now?: () => number; perApp?: number } = {}) {
    this.#appOf = appOf
    this.#now = options.now ?? Date.now
    this.#perApp = options.perApp ?? logLinesPerApp
  }

  /** Takes one event of the run. A line costs a slot in its app's ring (its time is formatted when it is sent). */
  event(event: StewardEvent): void {
    if (event.type === 'line') {
      const app = this.#appOf(event.path)
      let ring = this.#rings.get(app)
      if (ring === undefined) this.#rings.set(app, (ring = { entries: [], next: 0 }))
      const entry: Entry = { seq: this.#seq++, at: this.#now(), app, event }
      if (ring.entries.length < this.#perApp) ring.entries.push(entry)
      else ring.entries[ring.next] = entry
      ring.next = (ring.next + 1) % this.#perApp
      if (this.#followers.size > 0) {
        const line = logLine(entry)
        for (const follower of this.#followers) follower(line)
      }
    }
  }

  /** The last `count` lines of each of `apps` (all apps when empty), in the order they came. */
  recent(apps: readonly string[], count: number): LogLine[] {
    const chosen = [...this.#rings.entries()].filter(([app]) => apps.length === 0 || apps.includes(app))
    return chosen
      .flatMap(([, ring]) => {
        const inOrder = ring.entries.length < this.#perApp ? ring.entries : [...ring.entries.slice(ring.next), ...ring.entries.slice(0, ring.next)]
        return inOrder.slice(Math.max(0, inOrder.length - count))
      })
      .sort((a, b) => a.seq - b.seq)
      .map(logLine)
  }

  /** Calls `follower` with every new line until the returned function is called. */
  follow(follower: (line: LogLine) => void): () => void {
    this.#followers.add(follower)
    return () => this.#followers.delete(follower)
  }
}

/** A line as the ring keeps it: the event itself, when it came, its app. */
interface Entry {
  readonly seq: number
  readonly at: number
  readonly app: string
  readonly event: Extract<StewardEvent, { type: 'line' }>
}

/** The last lines of an app; once full, `next` is the oldest (overwritten next). */
interface Ring {
  readonly entries: Entry[]
  next: number
}

function logLine({ at, app, event }: Entry): LogLine {
  return { type: 'line', app, path: event.path, stream: event.stream, line: event.line, ...(event.partial === true && { partial: true }), time: isoTime(at) }
}

/** One app's row from its status: pid, uptime, RSS and CPU seconds as the run's status has them (read from /proc when it is built). */
export function appStatus(status: WardStatus): AppStatus {
  return {
    name: status.name,
    path: status.path,
    state: status.state,
    up: status.up,
    pid: status.pid,
    uptime: status.uptime,
    restarts: status.restarts,
    lastFailure: status.lastFailure === null ? null : { message: status.lastFailure.message, name: status.lastFailure.name },
    rss: status.rss,
    cpu: status.cpu,
    fds: status.fds,
    probeFailure: status.probeFailure === null ? null : status.probeFailure.message,
  }
}

/** Another steward answers on the socket: this one must not start. */
export class ControlSocketTaken extends Error {
  override readonly name = 'ControlSocketTaken'
  readonly socket: string
  /** The other steward's pid, when it answered. */
  readonly pid: number | undefined
  constructor(socket: string, pid: number | undefined, what?: string) {
    super(
      pid === undefined
        ? `control socket ${socket} is held by a process that does not answer; stop it, or give another --socket`
        : `another steward (pid ${pid}${what === undefined ? '' : `, running ${what}`}) is running on control socket ${socket}; stop it first, or give another --socket`,
    )
    this.socket = socket
    this.pid = pid
  }
}

/**
 * The default control socket of a steward: `steward-<hash>.sock` in `$XDG_RUNTIME_DIR`, or in a
 * folder `steward-<uid>` (mode 0700, checked to be this user's) in the temp folder; the hash (16
 * hex digits of SHA-256) of `key` keeps the path short. `key` is `up:` + the config file's
 * absolute path, or `run:` + the folder + NUL + the run's name. Throws a UsageError naming
 * `--socket` when the path cannot be used.
 */
export function defaultSocket(key: string, env: NodeJS.ProcessEnv = process.env): string {
  const hash = fnv1a64(key)
  const runtime = env.XDG_RUNTIME_DIR
  let folder: string
  if (runtime !== undefined && runtime.startsWith('/')) folder = runtime
  else {
    const uid = process.getuid?.() ?? 0
    folder = join(tmpdir(), `steward-${uid}`)
    try {
      mkdirSync(folder, { mode: 0o700, recursive: true })
      const stat = lstatSync(folder)
      if (!stat.isDirectory() || stat.uid !== uid || (stat.mode & 0o077) !== 0) throw new Error(`${folder} must be a folder of this user with mode 0700`)
    } catch (error) {
      throw new UsageError('--socket', `cannot use the default control socket's folder: ${(error as Error).message}; give --socket PATH`)
    }
  }
  return checkSocketPath(join(folder, `steward-${hash}.sock`), '--socket')
}

/** `path`, or a UsageError when it is longer than a Unix socket path may be. */
export function checkSocketPath(path: string, where: string): string {
  const bytes = Buffer.byteLength(path)
  if (path === '') throw new UsageError(where, 'must not be empty')
  if (bytes > maxSocketPathBytes) throw new UsageError(where, `${path} is ${bytes} bytes, longer than the ${maxSocketPathBytes} a Unix socket path may be; give a shorter --socket`)
  return path
}

/** Sends one request and collects the response lines until the server closes (or `onLine` returns `false`). @internal */
export function request(socket: string, message: ControlRequest, options: { timeout?: number; onLine?: (line: Record<string, unknown>) => boolean | void; signal?: AbortSignal } = {}): Promise<Record<string, unknown>[]> {
  return new Promise((resolve, reject) => {
    const lines: Record<string, unknown>[] = []
    const connection = createConnection(socket)
    let buffered = ''
    let settled = false
    const finish = (error?: Error): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      options.signal?.removeEventListener('abort', onAbort)
      connection.destroy()
      if (error === undefined) resolve(lines)
      else reject(error)
    }
    const onAbort = (): void => finish()
    const timer = options.timeout === undefined ? undefined : setTimeout(() => finish(Object.assign(new Error(`no answer on ${socket} within ${options.timeout} ms`), { code: 'ETIMEDOUT' })), options.timeout)
    options.signal?.addEventListener('abort', onAbort, { once: true })
    connection.setEncoding('utf8')
    connection.on('connect', () => connection.write(`${JSON.stringify(message)}\n`))
    connection.on('data', (chunk: string) => {
      buffered += chunk
      for (let newline = buffered.indexOf('\n'); newline !== -1; newline = buffered.indexOf('\n')) {
        const text = buffered.slice(0, newline)
        buffered = buffered.slice(newline + 1)
        let line: Record<string, unknown>
        try {
          line = JSON.parse(text) as Record<string, unknown>
        } catch {
          finish(new Error(`${socket} answered something that is not JSON: ${text.slice(0, 80)}`))
          return
        }
        lines.push(line)
        if (options.onLine?.(line) === false) return finish()
      }
    })
    connection.on('error', (error) => finish(error))
    connection.on('close', () => finish())
  })
}

/**
 * A control server that owns its socket but has nothing to act on yet ({@link ControlServer.serve}
 * gives it the run): bound before the run starts, so a second steward is refused before anything
 * of it starts.
 */
export class ControlServer {
  readonly socket: string
  readonly #server: Server
  readonly #connections = new Set<Socket>()
  #target: ControlTarget | undefined
  #book: LogBook | undefined
  #closed = false

  private constructor(socket: string, server: Server) {
    this.socket = socket
    this.#server = server
    server.on('connection', (connection) => this.#accept(connection))
  }

  /**
   * Listens on `socket` (mode 0600). When the path is taken: a steward that answers there makes it
   * reject with {@link ControlSocketTaken}; a stale socket (nobody listens) is removed and taken over.
   */
  static async open(socket: string): Promise<ControlServer> {
    for (let tries = 0; ; tries++) {
      const server = createServer({ allowHalfOpen: false })
      try {
        await listen(server, socket)
        chmodSync(socket, 0o600)
        return new ControlServer(socket, server)
      } catch (error) {
        server.close()
        if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE' || tries > 0) throw error
      }
      let answer: Record<string, unknown> | undefined
      try {
        ;[answer] = await request(socket, { command: 'hello' }, { timeout: 2_000 })
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code
        if (code === 'ETIMEDOUT') throw new ControlSocketTaken(socket, undefined)
        if (code !== 'ECONNREFUSED' && code !== 'ENOENT') throw error
        // Stale: the steward that made it is gone. Only a socket is removed, never another file.
        try {
          if (!lstatSync(socket).isSocket()) throw new Error(`${socket} exists and is not a socket`)
          unlinkSync(socket)
        } catch (unlinkError) {
          if ((unlinkError as NodeJS.ErrnoException).code !== 'ENOENT') throw unlinkError
        }
        continue
      }
      throw new ControlSocketTaken(socket, typeof answer?.pid === 'number' ? answer.pid : undefined, typeof answer?.what === 'string' ? answer.what : undefined)
    }
  }

  /** Acts on `target` from now on; `run`'s events feed the log book (`appOf` names a line's app). */
  serve(target: ControlTarget, run: Pick<Lifecycle, 'on'>, appOf: (path: string) => string): void {
    const book = new LogBook(appOf)
    this.#book = book
    this.#target = target
    run.on((event) => book.event(event))
  }

  /** Stops listening, ends every connection (followers included) and removes the socket. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()))
    for (const connection of this.#connections) connection.destroy()
    await closed
  }

  #accept(connection: Socket): void {
    this.#connections.add(connection)
    connection.setEncoding('utf8')
    let buffered = ''
    let handled = false
    const onData = (chunk: string): void => {
      if (handled) return
      buffered += chunk
      const newline = buffered.indexOf('\n')
      if (newline === -1) {
        if (buffered.length > 64 * 1024) {
          handled = true
          send(connection, { ok: false, code: 'bad-request', error: 'request line longer than 64 KiB' }, true)
        }
        return
      }
      handled = true
      void this.#handle(buffered.slice(0, newline), connection)
    }
    connection.on('data', onData)
    connection.on('error', () => connection.destroy())
    connection.on('close', () => this.#connections.delete(connection))
  }

  async #handle(text: string, connection: Socket): Promise<void> {
    let message: Record<string, unknown>
    try {
      const parsed: unknown = JSON.parse(text)
      if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not an object')
      message = parsed as Record<string, unknown>
    } catch (error) {
      send(connection, { ok: false, code: 'bad-request', error: `a request is one JSON object per line: ${(error as Error).message}` }, true)
      return
    }
    try {
      const answer = await this.#answer(message, connection)
      if (answer !== undefined) send(connection, answer, true)
    } catch (error) {
      const code: ControlErrorCode = error instanceof UsageError ? 'invalid-config' : error instanceof UnsupportedAction ? 'unsupported' : 'failed'
      send(connection, { ok: false, code, error: (error as Error).message }, true)
    }
  }

  /** The response to one request, or `undefined` when the request streams its own lines (`logs`). */
  async #answer(message: Record<string, unknown>, connection: Socket): Promise<Record<string, unknown> | undefined> {
    const target = this.#target
    const book = this.#book
    const command = message.command
    if (command === 'hello') return { ok: true, pid: process.pid, what: target?.what ?? null }
    if (target === undefined || book === undefined) return { ok: false, code: 'failed', error: 'steward is starting; try again' }
    const given: unknown = message.names === undefined ? [] : message.names
    if (!Array.isArray(given) || !given.every((name) => typeof name === 'string' && name !== '')) return { ok: false, code: 'bad-request', error: `names must be an array of app names, got ${JSON.stringify(given)}` }
    const names = given as string[]
    const apps = target.status()
    const groups = target.groups?.() ?? new Map<string, readonly string[]>()
    const known = [...new Set([...groups.keys(), ...apps.map((app) => app.name)])]
    const unknown = names.filter((name) => !known.includes(name))
    if (unknown.length > 0) {
      return { ok: false, code: 'unknown-app', error: `no app ${unknown.map((name) => `'${name}'`).join(', ')} in ${target.what}; known: ${known.join(', ') || 'none'}`, known }
    }
    // An app with instances stands for its copies where lines or rows are chosen.
    const chosen = names.flatMap((name) => groups.get(name) ?? [name])
    switch (command) {
      case 'status':
        return { ok: true, pid: process.pid, what: target.what, apps: apps.filter((app) => chosen.length === 0 || chosen.includes(app.name)).map(appStatus) }
      case 'restart':
      case 'stop':
      case 'start': {
        if (names.length === 0) return { ok: false, code: 'bad-request', error: `${command} needs app names; known: ${known.join(', ')}` }
        const reports: Record<string, StopReport> = {}
        for (const name of names) {
          if (command === 'restart') await target.restart(name)
          else if (command === 'start') await target.start(name)
          else reports[name] = await target.stop(name)
        }
        return { ok: true, [command === 'stop' ? 'stopped' : command === 'start' ? 'started' : 'restarted']: names, ...(command === 'stop' && { reports }) }
      }
      case 'reload':
        return { ok: true, ...(await target.reload()) }
      case 'logs': {
        const lines = message.lines === undefined ? 10 : message.lines
        if (typeof lines !== 'number' || !Number.isInteger(lines) || lines < 0) return { ok: false, code: 'bad-request', error: `lines must be a non-negative integer, got ${JSON.stringify(lines)}` }
        for (const line of book.recent(chosen, lines)) connection.write(`${JSON.stringify(line)}\n`)
        if (message.follow !== true) return { ok: true, end: true }
        const unfollow = book.follow((line) => {
          if (chosen.length === 0 || chosen.includes(line.app)) connection.write(`${JSON.stringify(line)}\n`)
        })
        connection.once('close', unfollow)
        return undefined
      }
      default:
        return { ok: false, code: 'bad-request', error: `unknown command ${JSON.stringify(command)}; known: hello, status, restart, stop, start, reload, logs` }
    }
  }
}

function send(connection: Socket, message: Record<string, unknown>, end: boolean): void {
  if (connection.destroyed) return
  if (end) connection.end(`${JSON.stringify(message)}\n`)
  else connection.write(`${JSON.stringify(message)}\n`)
}

function listen(server: Server, socket: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (error: Error): void => reject(error)
    server.once('error', onError)
    server.listen(socket, () => {
      server.off('error', onError)
      resolve()
    })
  })
}

/** An action a target cannot carry out (`steward run` has no config to reload): the client exits 2. */
export class UnsupportedAction extends Error {
  override readonly name = 'UnsupportedAction'
  readonly code = 'unsupported'
}

/**
 * `steward run`'s target: its one ward is the app, shown by `status` and `logs`. The per-app
 * actions are not offered: stopping or restarting the only ward is what SIGTERM and a restart of
 * `steward run` itself do, and there is no config to reload.
 */
export function runTarget(run: Lifecycle, what: string): ControlTarget {
  const refuse = (action: string): never => {
    throw new UnsupportedAction(`steward run supervises one command (${what}): '${action}' is for the apps of steward up; stop it with SIGTERM, or run it under steward up`)
  }
  return {
    what,
    status: () => [run.status()],
    restart: async () => refuse('restart'),
    stop: async () => refuse('stop'),
    start: async () => refuse('start'),
    reload: async () => refuse('reload'),
  }
}

/**
 * Opens the control socket for a command: a steward already answering there is a UsageError
 * naming `--socket` (the command exits 2 before anything starts); a stale socket is taken over.
 */
export async function openControl(socket: string): Promise<ControlServer> {
  try {
    return await ControlServer.open(socket)
  } catch (error) {
    if (error instanceof ControlSocketTaken) throw new UsageError('--socket', error.message)
    throw new UsageError('--socket', `cannot listen on ${socket}: ${(error as Error).message}`)
  }
}

/**
 * 64-bit FNV-1a of `text`'s UTF-8 bytes, as 16 hex digits: a socket's name per config path. Not
 * cryptographic (nothing here is secret), and node:crypto stays unloaded (2 MB of a CLI's RSS).
 */
function fnv1a64(text: string): string {
  let hash = 0xcbf29ce484222325n
  for (const byte of Buffer.from(text, 'utf8')) hash = BigInt.asUintN(64, (hash ^ BigInt(byte)) * 0x100000001b3n)
  return hash.toString(16).padStart(16, '0')
}
