import { spawn } from 'node:child_process'
import type { StewardEvent } from '../observe/events.js'
import type { WardStatus } from '../observe/status.js'
import type { Lifecycle } from '../steward/run-api.js'

/**
 * What systemd handed a `Type=notify` service in its environment: where to send notifications
 * (`NOTIFY_SOCKET`, a path or an abstract socket `@name`) and, with `WatchdogSec=`, how often it
 * expects `WATCHDOG=1` (`WATCHDOG_USEC`, for this process when `WATCHDOG_PID` is unset or is it).
 */
export interface NotifyTarget {
  readonly socket: string
  /** `WATCHDOG_USEC` in ms, when the watchdog is meant for this process; a ping goes every half of it. */
  readonly watchdogMs: number | undefined
}

/**
 * Reads `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` from `env` and removes them from it, as
 * `sd_notify(unset_environment=1)` does: the children steward starts then do not inherit them,
 * so a child that speaks sd_notify itself cannot announce the service ready before the tree is,
 * nor take over its main pid or its watchdog. `undefined` when `NOTIFY_SOCKET` is not set.
 */
export function takeNotifyEnv(env: NodeJS.ProcessEnv, pid: number = process.pid): NotifyTarget | undefined {
  const { NOTIFY_SOCKET: socket, WATCHDOG_USEC: usec, WATCHDOG_PID: watchdogPid } = env
  delete env.NOTIFY_SOCKET
  delete env.WATCHDOG_USEC
  delete env.WATCHDOG_PID
  if (socket === undefined || socket === '') return undefined
  const micro = Number(usec)
  const ours = watchdogPid === undefined || watchdogPid === '' || Number(watchdogPid) === pid
  const watchdogMs = usec !== undefined && Number.isSafeInteger(micro) && micro > 0 && ours ? micro / 1_000 : undefined
  return { socket, watchdogMs }
}

/** How {@link Notifier} sends: `systemd-notify` by default (a test may give another program). */
export interface NotifierOptions {
  /** @default 'systemd-notify' */
  readonly command?: string
  /** The main pid the messages are sent for (`--pid`). @default process.pid */
  readonly pid?: number
  /** Hears why a message could not be sent (once: the notifier then stops sending). */
  readonly onError?: (message: string) => void
}

/**
 * Sends `KEY=VALUE` notifications to the service manager. Node has no `AF_UNIX` datagram socket
 * (its `dgram` is UDP only, `net` stream only) and steward takes no native addon, so each message
 * is sent by systemd's own `systemd-notify --pid=<steward's pid>`, which also waits until the
 * manager has read it. Being another process, it needs `NotifyAccess=all` in the unit (what
 * `steward unit` prints). One `systemd-notify` runs at a time: fields given meanwhile are merged
 * (a newer `STATUS=` replaces an older one) and sent together by the next.
 */
export class Notifier {
  readonly #socket: string
  readonly #command: string
  readonly #pid: number
  readonly #onError: (message: string) => void
  readonly #pending = new Map<string, string>()
  #inFlight: Promise<void> | undefined
  #broken = false

  constructor(socket: string, options: NotifierOptions = {}) {
    this.#socket = socket
    this.#command = options.command ?? 'systemd-notify'
    this.#pid = options.pid ?? process.pid
    this.#onError = options.onError ?? noop
  }

  /** Queues fields (`{ READY: '1', STATUS: '3 apps running' }`) and sends them as soon as it can. */
  send(fields: Readonly<Record<string, string>>): void {
    if (this.#broken) return
    for (const [key, value] of Object.entries(fields)) this.#pending.set(key, value.replace(/\n/g, ' '))
    // Cleared by a callback, not inside #drain: one that ends without awaiting must not leave its promise set.
    this.#inFlight ??= this.#drain().finally(() => (this.#inFlight = undefined))
  }

  async #drain(): Promise<void> {
    while (this.#pending.size > 0 && !this.#broken) {
      const fields = [...this.#pending].map(([key, value]) => `${key}=${value}`)
      this.#pending.clear()
      await this.#run(fields)
    }
  }

  #run(fields: readonly string[]): Promise<void> {
    return new Promise((resolve) => {
      const child = spawn(this.#command, [`--pid=${this.#pid}`, ...fields], { env: { ...process.env, NOTIFY_SOCKET: this.#socket }, stdio: ['ignore', 'ignore', 'pipe'] })
      let stderr = ''
      child.stderr.setEncoding('utf8')
      child.stderr.on('data', (chunk: string) => (stderr += chunk))
      const fail = (message: string): void => {
        if (this.#broken) return
        this.#broken = true
        this.#pending.clear()
        this.#onError(message)
      }
      child.once('error', (error) => {
        fail(`${this.#command}: ${error.message}`)
        resolve()
      })
      child.once('close', (code) => {
        if (code !== 0 && code !== null) fail(`${this.#command} ${fields.join(' ')} exited ${code}${stderr === '' ? '' : `: ${stderr.trim()}`}`)
        resolve()
      })
    })
  }

  /** Resolves once everything queued was sent (or could not be) and no `systemd-notify` runs. */
  async close(): Promise<void> {
    while (this.#inFlight !== undefined) await this.#inFlight
  }
}

/** The ward runs an app is made of: a supervisor's children, or the run itself (`steward run`). */
function apps(status: WardStatus): readonly WardStatus[] {
  return status.kind === 'supervisor' ? status.children : [status]
}

/**
 * Whether the service is ready for systemd: every app is up (its first beat), or completed — a
 * one-shot child (`restart: 'transient'` or `'temporary'`) that finished must not hold `READY=1`
 * back for ever, which a supervisor's own `up` (every child up) would.
 */
export function isReady(status: WardStatus): boolean {
  return status.kind === 'supervisor' ? status.children.every((app) => app.up || app.state === 'completed') : status.up
}

const plural = (count: number, word: string): string => `${count} ${word}${count === 1 ? '' : 's'}`

/**
 * The `STATUS=` line for a run: `3 apps running` when every app is up, otherwise how many are
 * and what each other one does (`2 of 3 apps running; web restarting (hung)`), with the reason of
 * its last restart from `reasons`.
 */
export function statusText(status: WardStatus, reasons: ReadonlyMap<string, string>): string {
  const all = apps(status)
  const running = all.filter((app) => app.up && (app.state === 'working' || app.state === 'idle' || app.state === 'waiting'))
  if (running.length === all.length) return `${plural(all.length, 'app')} running`
  const others = all
    .filter((app) => !running.includes(app))
    .map((app) => {
      const reason = reasons.get(app.path)
      if (app.state === 'gave-up') return `${app.name} gave up`
      if (app.state === 'backoff' || app.state === 'restarting' || app.state === 'stopping') return `${app.name} restarting${reason === undefined ? '' : ` (${reason})`}`
      if (app.state === 'working' || app.state === 'starting') return `${app.name} starting`
      return `${app.name} ${app.state}`
    })
  return `${running.length} of ${plural(all.length, 'app')} running; ${others.join(', ')}`
}

/** How often readiness and the status line are looked at until the tree is up, and after. */
const lookEvery = 250

/** What {@link notifySystemd} returns: the stop's notification, and its own end. */
export interface SystemdNotifications {
  /** Sends `STOPPING=1` (once); the watchdog pings go on until {@link SystemdNotifications.close}. */
  stopping(): void
  /** Stops its timers and listener, and waits for the last message to be sent. */
  close(): Promise<void>
}

/**
 * A run's notifications to systemd under `Type=notify`: `READY=1` once every app is up (its first
 * beat) or completed ({@link isReady}), `STATUS=` lines when what runs changes (`3 apps running`, `web restarting (hung)`),
 * `WATCHDOG=1` from steward's own event loop every half of `WATCHDOG_USEC` (a blocked loop misses
 * them and systemd restarts the service), `STOPPING=1` when the stop begins. A `systemd-notify`
 * that cannot be run or fails is reported once to `options.onError`, and nothing more is sent.
 */
export function notifySystemd(run: Lifecycle, target: NotifyTarget, options: NotifierOptions = {}): SystemdNotifications {
  const notifier = new Notifier(target.socket, options)
  const reasons = new Map<string, string>()
  let ready = false
  let stopped = false
  let lastStatus = ''
  const look = (): void => {
    if (stopped) return
    const status = run.status()
    const text = statusText(status, reasons)
    const fields: Record<string, string> = {}
    if (!ready && isReady(status)) {
      ready = true
      fields.READY = '1'
    }
    if (text !== lastStatus) fields.STATUS = lastStatus = text
    if (Object.keys(fields).length > 0) notifier.send(fields)
  }
  const onEvent = (event: StewardEvent): void => {
    if (event.type === 'restarting') reasons.set(event.path, event.reason)
    if (event.type === 'line' || event.type === 'started') return
    look()
  }
  const subscription = run.on(onEvent)
  // A beat is no event: readiness and recoveries are seen by looking, a few times a second.
  const looking = setInterval(look, lookEvery)
  const watchdog = target.watchdogMs === undefined ? undefined : setInterval(() => notifier.send({ WATCHDOG: '1' }), Math.max(1, Math.floor(target.watchdogMs / 2)))
  if (target.watchdogMs !== undefined) notifier.send({ WATCHDOG: '1' })
  look()
  const stopping = (): void => {
    if (stopped) return
    stopped = true
    clearInterval(looking)
    notifier.send({ STOPPING: '1', STATUS: 'stopping' })
  }
  return {
    stopping,
    async close() {
      stopping()
      // The pings go on while the stop runs: steward's loop is alive until the tree is down.
      clearInterval(watchdog)
      subscription.dispose()
      await notifier.close()
    },
  }
}

function noop(): void {}
