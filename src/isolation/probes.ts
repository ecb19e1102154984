// A process ward's probes: the http, tcp, exec and function heartbeats, one check at a time,
// every `every`; a healthy answer within the check's deadline is a beat.
import { spawn } from 'node:child_process'
import { connect } from 'node:net'
import type { Timer } from '../time/clock.js'
import { describe, toMs, type Duration } from '../time/duration.js'
import type { WardContext } from '../steward/ward.js'

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

/**
 * Starts the probe loop of `heartbeat` for the incarnation `ctx`: the first check after `every`
 * (default: the pulse interval), the next `every` after the previous one answered or missed its
 * deadline. @internal
 */
export function startProbes(heartbeat: ProbeHeartbeat, ctx: WardContext, place: ProbePlace): Probes {
  let probeTimer: Timer | undefined
  const probes = new AbortController()
  /** An exec probe's process until it exited: the ward waits for it, so none outlives the ward. */
  let checking: Promise<unknown> | undefined
  const every = heartbeat.every === undefined ? ctx.pulseInterval : toMs(heartbeat.every, 'processWard: heartbeat.every', { zero: false })
  const done = (healthy: boolean): void => {
    if (healthy && !probes.signal.aborted) ctx.beat()
    if (!probes.signal.aborted) probeTimer = ctx.clock.setTimer(every, probe)
  }
  /**
   * One check: `start` begins it with a signal that aborts at the deadline (`limitMs`), when the
   * ward ends, and once it answered (releasing what it holds); only the first answer counts, a
   * missed deadline as none.
   */
  const check = (limitMs: number, start: (signal: AbortSignal, answer: (healthy: boolean) => void) => void): void => {
    const request = new AbortController()
    let answered = false
    const answer = (healthy: boolean): void => {
      if (answered) return
      answered = true
      limit.cancel()
      probes.signal.removeEventListener('abort', cancel)
      if (!request.signal.aborted) request.abort()
      done(healthy)
    }
    const cancel = (): void => {
      request.abort(new Error(`processWard: the probe did not answer within ${limitMs} ms`))
      answer(false)
    }
    probes.signal.addEventListener('abort', cancel, { once: true })
    const limit = ctx.clock.setTimer(limitMs, cancel)
    try {
      start(request.signal, answer)
    } catch {
      answer(false)
    }
  }
  const probe = (): void => {
    if ('exec' in heartbeat) {
      // A command that exits 0 in time; killed at its deadline or when the ward ends.
      const [file, ...rest] = heartbeat.exec
      const limitMs = heartbeat.timeout === undefined ? every : toMs(heartbeat.timeout, 'processWard: heartbeat.timeout', { zero: false })
      check(limitMs, (signal, answer) => {
        const checker = spawn(file, rest, { stdio: 'ignore', env: place.env === undefined ? process.env : { ...place.env }, cwd: place.cwd ?? process.cwd() })
        checking = new Promise((resolve) => {
          checker.once('close', resolve)
          checker.once('error', resolve) // could not start: no close may follow
        })
        signal.addEventListener(
          'abort',
          () => {
            if (checker.exitCode === null && checker.signalCode === null) checker.kill('SIGKILL')
          },
          { once: true },
        )
        checker.once('error', () => answer(false))
        checker.once('exit', (code) => answer(code === 0))
      })
    } else if ('probe' in heartbeat) {
      const user = heartbeat.probe
      check(every, (signal, answer) => {
        Promise.resolve(user(signal)).then(
          () => answer(true),
          () => answer(false),
        )
      })
    } else if ('http' in heartbeat) {
      const url = heartbeat.http
      check(every, (signal, answer) => {
        fetch(url, { signal }).then(
          (response) => {
            void response.body?.cancel()
            answer(response.ok)
          },
          () => answer(false),
        )
      })
    } else {
      const { port, host } = heartbeat.tcp
      check(every, (signal, answer) => {
        const socket = connect({ port, host: host ?? '127.0.0.1' })
        const close = (): void => {
          socket.removeAllListeners()
          socket.destroy()
        }
        signal.addEventListener('abort', close, { once: true })
        socket.once('connect', () => {
          close()
          answer(true)
        })
        socket.once('error', () => {
          close()
          answer(false)
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
      if ('timeout' in heartbeat && heartbeat.timeout !== undefined) toMs(heartbeat.timeout, `processWard: option 'heartbeat.timeout'`, { zero: false })
      return true
    }
    throw new TypeError(`processWard: option 'heartbeat.exec' must be [command, ...args], strings, the command not empty, got ${describe(exec)}`)
  }
  if ('probe' in heartbeat) {
    if (typeof heartbeat.probe === 'function') return true
    throw new TypeError(`processWard: option 'heartbeat.probe' must be a function (signal) => promise, got ${describe(heartbeat.probe)}`)
  }
  return false
}
