import type { StewardEvent } from '../observe/events.js'
import type { StopReport } from '../steward/run-api.js'
import { isoTime } from '../time/iso.js'

/** How `steward run` and `steward up` print: JSON lines, or lines for a person, in colour or not. */
export interface OutputOptions {
  readonly json: boolean
  readonly colour: boolean
  /** Writes one line (without its newline). */
  readonly write: (line: string) => void
  /** Wall-clock time: a person's lines, and JSON lines' `time`. @default Date.now */
  readonly now?: () => number
  /** steward's own pid: JSON lines' `pid` when no child process is concerned. @default process.pid */
  readonly pid?: number
}

/**
 * Colour only on a terminal, and never when `NO_COLOR` is set to anything but the empty string
 * (no-color.org).
 */
export function wantsColour(stream: { readonly isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '')
}

const codes = { red: 31, green: 32, yellow: 33, cyan: 36, dim: 2 } as const
type Colour = keyof typeof codes

const eventColour: Partial<Record<StewardEvent['type'], Colour>> = {
  started: 'green',
  spawned: 'green',
  completed: 'green',
  hung: 'red',
  stalled: 'red',
  'idle-timeout': 'red',
  failed: 'red',
  'gave-up': 'red',
  blocked: 'red',
  unstopped: 'red',
  restarting: 'yellow',
  decision: 'yellow',
  'dead-letter': 'yellow',
}

/** What happened, in a few words, for a person. */
export function describeEvent(event: StewardEvent): string {
  switch (event.type) {
    case 'started':
      return event.attempt === 1 ? 'started' : `started (attempt ${event.attempt})`
    case 'spawned': {
      const what = [...(event.attempt === 1 ? [] : [`attempt ${event.attempt}`]), ...(event.pid === undefined ? [] : [`pid ${event.pid}`]), ...(event.threadId === undefined ? [] : [`thread ${event.threadId}`])]
      return what.length === 0 ? 'started' : `started (${what.join(', ')})`
    }
    case 'hung': {
      const what = event.starting ? `hung: no first beat within ${event.timeout} ms` : `hung: no beat for ${event.timeout} ms`
      return event.probeFailure === undefined ? what : `${what}; probe: ${event.probeFailure.message}`
    }
    case 'stalled':
      return `stalled: no progress for ${event.progressTimeout} ms (at ${JSON.stringify(event.progress)})`
    case 'idle-timeout':
      return `idle for ${event.idleTimeout} ms`
    case 'failed':
      return `failed: ${event.error.message}`
    case 'restarting':
      return `restarting (${event.reason}), restart ${event.restarts}${event.delay > 0 ? `, in ${Math.round(event.delay)} ms` : ''}`
    case 'decision':
      return event.action === 'restart'
        ? `${event.child} ${event.reason}: restart ${event.restarting.join(', ')} (${event.strategy}; ${event.maxRestarts === Infinity ? 'no restart limit' : `${event.restarts} of ${event.maxRestarts}`})`
        : `${event.child} ${event.reason}: ${event.action === 'give-up' ? `${event.child} gives up alone` : 'escalate'} (${event.restarts} restarts, ${event.maxRestarts} allowed)`
    case 'blocked':
      return `${event.child} ended without being up: not starting ${event.blocked.join(', ')} (startOrder 'ready')${event.error === null ? '' : `: ${event.error.message}`}`
    case 'unstopped':
      return `did not stop within ${event.stopTimeout} ms: abandoned`
    case 'dead-letter':
      return `dead letter at ${JSON.stringify(event.position)} after ${event.failures} failures`
    case 'line':
      return event.line
    case 'completed':
      return 'completed'
    case 'stopped':
      return event.unstopped.length === 0 ? 'stopped' : `stopped; unstopped: ${event.unstopped.join(', ')}`
    case 'gave-up':
      return `gave up after ${event.restarts} restarts: ${event.error.message}`
  }
}

/** Prints events and the stop report, one line each. */
export class Printer {
  readonly #options: OutputOptions
  /** The pid of each process ward's current child by path, with its attempt, from `spawned`. */
  readonly #children = new Map<string, { readonly attempt: number; readonly pid: number }>()
  constructor(options: OutputOptions) {
    this.#options = options
  }

  /** JSON lines' `time` (ISO-8601, wall clock) and `pid`. */
  #stamp(pid: number = this.#options.pid ?? process.pid): { time: string; pid: number } {
    return { time: isoTime((this.#options.now ?? Date.now)()), pid }
  }

  /**
   * The pid an event concerns: the child's, for an event of a process ward's incarnation whose
   * child was spawned; otherwise steward's own (its supervisors and thread wards run in it).
   */
  #pidOf(event: StewardEvent): number | undefined {
    if (event.type === 'spawned') {
      if (event.pid === undefined) this.#children.delete(event.path)
      else this.#children.set(event.path, { attempt: event.attempt, pid: event.pid })
      return event.pid
    }
    const child = this.#children.get(event.path)
    return child !== undefined && child.attempt === event.attempt ? child.pid : undefined
  }

  /** Whether it writes JSON lines. */
  get json(): boolean {
    return this.#options.json
  }

  #paint(colour: Colour | undefined, text: string): string {
    return colour === undefined || !this.#options.colour ? text : `\u001b[${codes[colour]}m${text}\u001b[0m`
  }

  #time(): string {
    return isoTime((this.#options.now ?? Date.now)()).slice(11, 23)
  }

  /**
   * One event: with `json`, the library's event as it is, one object per line (a child's line is
   * a `line` event), with `time` (ISO-8601 wall clock) and `pid` (the child's for an event of a
   * process ward's incarnation once its child is spawned, steward's own otherwise); otherwise `time path what` — a child's own lines as `path | line`
   * (`path ! line` from stderr), as foreman and overmind prefix them, a piece of a line cut at
   * the line limit followed by `[continues]`. For a person, a ward is "started" once its child
   * or worker is (`spawned`, with its pid or thread): a `started` event alone, which comes before
   * anything was spawned, prints nothing, so a command that cannot be started never reads as
   * started.
   */
  event(event: StewardEvent): void {
    const { json, write } = this.#options
    if (json) {
      write(JSON.stringify({ ...event, ...this.#stamp(this.#pidOf(event)) }))
      return
    }
    if (event.type === 'line') {
      write(`${this.#paint('cyan', `${event.path} ${event.stream === 'stderr' ? '!' : '|'}`)} ${event.line}${event.partial === true ? this.#paint('dim', ' [continues]') : ''}`)
      return
    }
    if (event.type === 'started') return
    write(`${this.#paint('dim', this.#time())} ${event.path} ${this.#paint(eventColour[event.type], describeEvent(event))}`)
  }

  /** A note of the CLI's own (`stopping on SIGTERM`): a `steward` event in JSON, with `time` and steward's `pid`. */
  note(message: string, fields: Record<string, unknown> = {}): void {
    const { json, write } = this.#options
    if (json) write(JSON.stringify({ type: 'steward', message, ...fields, ...this.#stamp() }))
    else write(`${this.#paint('dim', this.#time())} steward ${message}`)
  }

  /** The stop report: what did not stop in time and which children needed SIGKILL (in JSON with `time` and steward's `pid`). */
  report(report: StopReport, exitCode: number): void {
    const { json, write } = this.#options
    if (json) {
      write(JSON.stringify({ type: 'stop-report', unstopped: report.unstopped, killed: report.killed, exitCode, ...this.#stamp() }))
      return
    }
    const parts = [
      report.unstopped.length === 0 ? 'every ward stopped in time' : `unstopped: ${report.unstopped.join(', ')}`,
      report.killed.length === 0 ? 'none needed SIGKILL' : this.#paint('red', `killed with SIGKILL: ${report.killed.join(', ')}`),
      `exit ${exitCode}`,
    ]
    write(`${this.#paint('dim', this.#time())} steward stop report: ${parts.join('; ')}`)
  }
}

/** The printer of `steward run`'s or `steward up`'s events to stdout: JSON lines with `json`, else text, coloured when stdout wants colour. */
export function commandPrinter(json: boolean, write: (line: string) => void): Printer {
  return new Printer({ json, colour: !json && wantsColour(process.stdout, process.env), write })
}
