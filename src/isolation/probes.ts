// A process ward's probes: the http, tcp, exec and function heartbeats, one check at a time,
// every `every`; a healthy answer within the check's deadline is a beat, any other answer (or
// none) a failure whose reason the run keeps (status, the next hung event).
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { connect } from 'node:net'
import type { Timer } from '../time/clock.js'
import { describe, toMs, type Duration } from '../time/duration.js'
import type { WardContext } from '../steward/ward.js'
import { wardHost } from '../steward/host.js'
import { parsedOption, processWardScope, typeError } from '../steward/validate.js'
import type { ProbeFailure } from '../observe/probe-failure.js'

/** The heartbeats of {@link ProcessHeartbeat} that ask the child from outside (see there). */
export type ProbeHeartbeat =
  | { readonly http: string | URL; readonly every?: Duration }
  | { readonly tcp: { readonly port: number; readonly host?: string }; readonly every?: Duration }
  | { readonly exec: readonly [string, ...string[]]; readonly every?: Duration; readonly timeout?: Duration }
  | {
      /** Resolves while the child is healthy; `signal` aborts when the probe's time is up or the ward ends. */
      readonly probe: (signal: AbortSignal) => PromiseLike<unknown>
      readonly every?: Duration
    }

/** Where an exec probe runs: the process ward's environment and working directory. @internal */
export interface ProbePlace {
  readonly env: Readonly<Record<string, string | undefined>> | undefined
  readonly cwd: string | undefined
}

/** A running probe loop. @internal */
export interface Probes {
  /** Ends the loop: the check in flight is cancelled, and an exec probe's process waited for. */
  stop(): Promise<void>
}

/** Why one check failed (the {@link ProbeFailure} without what the loop adds). */
type Failed = Omit<ProbeFailure, 'kind' | 'attempt' | 'at' | 'failures'>
/** A check's answer: `undefined` when healthy, else why not. */
type Answer = (failed?: Failed) => void

/** How much of an exec probe's stderr is kept for its failure's reason: the end of it. */
const STDERR_KEPT = 4_096
/** The most of that last line a reason quotes. */
const QUOTED = 300

/** How often a probe asks, in ms: its `every`, else the pulse interval. @internal */
export function probeEvery(heartbeat: ProbeHeartbeat, pulseInterval: number): number {
  return heartbeat.every === undefined ? pulseInterval : toMs(heartbeat.every, 'processWard: heartbeat.every', { zero: false })
}

/**
 * Starts the probe loop of `heartbeat` for the incarnation `ctx`: the first check after `every`
 * (default: the pulse interval), the next `every` after the previous one answered or missed its
 * deadline. A healthy answer is a beat; a failed one is told to the run with its reason (the
 * ward host's `noteProbe`), and so is the next healthy answer after failures. @internal
 */
export function startProbes(heartbeat: ProbeHeartbeat, ctx: WardContext, place: ProbePlace): Probes {
  let probeTimer: Timer | undefined
  const probes = new AbortController()
  /** An exec probe's process until it exited: the ward waits for it, so none outlives the ward. */
  let checking: Promise<unknown> | undefined
  const every = probeEvery(heartbeat, ctx.pulseInterval)
  const kind: ProbeFailure['kind'] = 'exec' in heartbeat ? 'exec' : 'probe' in heartbeat ? 'probe' : 'http' in heartbeat ? 'http' : 'tcp'
  const host = ctx[wardHost]
  /** Failed checks in a row. */
  let failures = 0
  const done = (failed: Failed | undefined): void => {
    if (probes.signal.aborted) return
    if (failed === undefined) {
      ctx.beat()
      if (failures > 0) {
        failures = 0
        host?.noteProbe(null)
      }
    } else {
      failures++
      host?.noteProbe({ kind, ...failed, attempt: ctx.attempt, at: ctx.clock.now(), failures })
    }
    probeTimer = ctx.clock.setTimer(every, probe)
  }
  /**
   * One check: `start` begins it with a signal that aborts at the deadline (`limitMs`), when the
   * ward ends, and once it answered (releasing what it holds); only the first answer counts, a
   * missed deadline as a failure (`label`: what was asked, for its reason).
   */
  const check = (limitMs: number, label: string, start: (signal: AbortSignal, answer: Answer) => void): void => {
    const request = new AbortController()
    let answered = false
    const answer: Answer = (failed) => {
      if (answered) return
      answered = true
      limit.cancel()
      probes.signal.removeEventListener('abort', cancel)
      if (!request.signal.aborted) request.abort()
      done(failed)
    }
    const cancel = (): void => {
      request.abort(new Error(`processWard: the probe did not answer within ${limitMs} ms`))
      answer({ message: `${label}: no answer within ${limitMs} ms`, code: 'ETIMEDOUT' })
    }
    probes.signal.addEventListener('abort', cancel, { once: true })
    const limit = ctx.clock.setTimer(limitMs, cancel)
    try {
      start(request.signal, answer)
    } catch (error) {
      answer(failedWith(label, error))
    }
  }
  const probe = (): void => {
    if ('exec' in heartbeat) {
      // A command that exits 0 in time; killed at its deadline or when the ward ends.
      const [file, ...rest] = heartbeat.exec
      const limitMs = heartbeat.timeout === undefined ? every : toMs(heartbeat.timeout, 'processWard: heartbeat.timeout', { zero: false })
      const label = probeLabel(heartbeat)
      check(limitMs, label, (signal, answer) => {
        const checker = spawn(file, rest, { stdio: ['ignore', 'ignore', 'pipe'], env: place.env === undefined ? process.env : { ...place.env }, cwd: place.cwd ?? process.cwd() })
        checking = new Promise((resolve) => {
          checker.once('close', resolve)
          checker.once('error', resolve) // could not start: no close may follow
        })
        // The end of its stderr, for the reason of a failure: its last line says why, usually.
        let said = Buffer.alloc(0)
        checker.stderr?.on('data', (chunk: Buffer) => {
          said = said.length + chunk.length <= STDERR_KEPT ? Buffer.concat([said, chunk]) : Buffer.concat([said, chunk]).subarray(-STDERR_KEPT)
        })
        signal.addEventListener(
          'abort',
          () => {
            if (checker.exitCode === null && checker.signalCode === null) checker.kill('SIGKILL')
            // A process it started may hold its stderr open: not waited for.
            checker.stderr?.destroy()
          },
          { once: true },
        )
        checker.once('error', (error: NodeJS.ErrnoException) => answer(spawnFailed(label, error)))
        checker.once('exit', (code, signalName) => {
          if (code === 0) return answer()
          // Its last words may still be in the pipe: the answer waits for stderr to end (or the deadline).
          const exited = code === null ? `killed by ${signalName ?? 'a signal'}` : `exited with code ${code}`
          const reply = (): void => {
            const last = lastLine(said)
            answer({ message: `${label}: ${exited}${last === '' ? '' : `: ${last}`}`, ...(code === null ? {} : { exitCode: code }) })
          }
          if (checker.stderr === null || checker.stderr.readableEnded || checker.stderr.destroyed) reply()
          else checker.stderr.once('close', reply)
        })
      })
    } else if ('probe' in heartbeat) {
      const user = heartbeat.probe
      check(every, probeLabel(heartbeat), (signal, answer) => {
        Promise.resolve(user(signal)).then(
          () => answer(),
          (error: unknown) => answer(failedWith('probe', error)),
        )
      })
    } else if ('http' in heartbeat) {
      const url = heartbeat.http
      const label = probeLabel(heartbeat)
      check(every, label, (signal, answer) => {
        // Its own connection, closed after the answer: a pooled keep-alive socket would outlive the ward.
        const target = new URL(url)
        const send = client(target.protocol)
        const request = send(target, { method: 'GET', agent: false, signal, headers: { connection: 'close' } }, (response) => {
          response.on('error', noop) // aborted once answered
          response.resume()
          const status = response.statusCode ?? 0
          // Healthy as Kubernetes' httpGet is: 200 to 399 (a redirect is not followed).
          if (status >= 200 && status < 400) answer()
          else answer({ message: `${label}: ${`${status} ${response.statusMessage ?? ''}`.trim()}`, status })
        })
        request.on('error', (error) => answer(failedWith(label, error)))
        request.end()
      })
    } else {
      const { port, host: name = '127.0.0.1' } = heartbeat.tcp
      const label = probeLabel(heartbeat)
      check(every, label, (signal, answer) => {
        const socket = connect({ port, host: name })
        const close = (): void => {
          socket.removeAllListeners()
          socket.destroy()
        }
        signal.addEventListener('abort', close, { once: true })
        socket.once('connect', () => {
          close()
          answer()
        })
        socket.once('error', (error) => {
          close()
          answer(failedWith(label, error))
        })
      })
    }
  }
  probeTimer = ctx.clock.setTimer(every, probe)
  return {
    async stop(): Promise<void> {
      probes.abort()
      if (checking !== undefined) await checking
      probeTimer?.cancel()
    },
  }
}

function noop(): void {}

/** A URL as a reason shows it: without credentials, query or fragment (they may hold secrets). */
function shown(url: string | URL): string {
  try {
    const parsed = new URL(url)
    return `${parsed.origin}${parsed.pathname}`
  } catch {
    return String(url)
  }
}

/**
 * What a probe asks, for a person (`status().probe`, the dashboard): `http GET http://…/health`,
 * `tcp 127.0.0.1:6379`, `exec redis-cli`, `probe` (a function) — the words its failures begin with —
 * and how often, ` every 1000 ms`. A URL's query and credentials are left out, as in failures. @internal
 */
export function describeProbe(heartbeat: ProbeHeartbeat, every: number): string {
  return `${probeLabel(heartbeat)} every ${every} ms`
}

function probeLabel(heartbeat: ProbeHeartbeat): string {
  if ('exec' in heartbeat) return `exec ${heartbeat.exec[0]}`
  if ('probe' in heartbeat) return 'probe'
  if ('http' in heartbeat) return `http GET ${shown(heartbeat.http)}`
  const { port, host: name = '127.0.0.1' } = heartbeat.tcp
  return `tcp ${name.includes(':') ? `[${name}]` : name}:${port}`
}

/** Why a probe failed with `thrown`: the innermost error's message (fetch wraps the socket's), and its code. */
function failedWith(label: string, thrown: unknown): Failed {
  let error: unknown = thrown
  // fetch rejects with TypeError('fetch failed') whose cause is what happened; several addresses tried: an AggregateError.
  while (error instanceof Error && error.cause instanceof Error) error = error.cause
  if (error instanceof AggregateError && error.message === '' && error.errors[0] instanceof Error) error = error.errors[0]
  if (!(error instanceof Error)) return { message: `${label}: ${String(error)}` }
  const code = (error as NodeJS.ErrnoException).code
  return { message: `${label}: ${error.message === '' ? (code ?? error.name) : error.message}`, ...(typeof code === 'string' ? { code } : {}) }
}

/** An exec probe that could not be started: not found, not executable, or another spawn error. */
function spawnFailed(label: string, error: NodeJS.ErrnoException): Failed {
  const said = error.code === 'ENOENT' ? 'not found' : error.code === 'EACCES' ? 'permission denied' : error.message
  return { message: `${label}: ${said}${error.code === undefined || said.includes(error.code) ? '' : ` (${error.code})`}`, ...(error.code === undefined ? {} : { code: error.code }) }
}

/** The last non-empty line of `bytes` (UTF-8), trimmed and at most QUOTED characters. */
function lastLine(bytes: Buffer): string {
  const lines = bytes.toString('utf8').split('\n')
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim()
    if (line !== '') return line.length > QUOTED ? `${line.slice(0, QUOTED)}…` : line
  }
  return ''
}

/** Checks a probing heartbeat's shape (the object forms of `ProcessHeartbeat`); `false` when it is none of them. @internal */
export function validProbe(heartbeat: object): heartbeat is ProbeHeartbeat {
  if ('http' in heartbeat) {
    const url = heartbeat.http
    if (typeof url === 'string' || url instanceof URL) return true
  }
  if ('tcp' in heartbeat) {
    const tcp = heartbeat.tcp
    if (typeof tcp === 'object' && tcp !== null && Number.isInteger((tcp as { port?: unknown }).port)) return true
  }
  if ('exec' in heartbeat) {
    const exec: unknown = heartbeat.exec
    if (Array.isArray(exec) && exec.length > 0 && exec.every((part) => typeof part === 'string') && exec[0] !== '') {
      if ('timeout' in heartbeat && heartbeat.timeout !== undefined) parsedOption(processWardScope, 'heartbeat.timeout', () => toMs(heartbeat.timeout, 'heartbeat.timeout', { zero: false }))
      return true
    }
    throw typeError(processWardScope, 'heartbeat.exec', `must be [command, ...args], strings, the command not empty, got ${describe(exec)}`)
  }
  if ('probe' in heartbeat) {
    if (typeof heartbeat.probe === 'function') return true
    throw typeError(processWardScope, 'heartbeat.probe', `must be a function (signal) => promise, got ${describe(heartbeat.probe)}`)
  }
  return false
}

const require = createRequire(import.meta.url)
let httpClient: typeof import('node:http').request | undefined
let httpsClient: typeof import('node:https').request | undefined

/** node:http's or node:https's request, loaded by the first HTTP probe (a CLI without one never loads TLS). */
function client(protocol: string): typeof import('node:http').request {
  if (protocol === 'https:') return (httpsClient ??= (require('node:https') as typeof import('node:https')).request)
  return (httpClient ??= (require('node:http') as typeof import('node:http')).request)
}
