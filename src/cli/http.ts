import type { AddressInfo } from 'node:net'
// The server, the handler and the dashboard load when --http is given, not before.
import type { HttpServer } from '../http/server.js'
import type { Controllable, HttpHandler } from '../http/handler.js'
import { isLoopback } from '../http/loopback.js'
import type { Lifecycle } from '../steward/run-api.js'
import { UsageError } from './flags.js'

/** The CLI's HTTP flags: `--http ADDR` and `--http-token TOKEN` (or `STEWARD_HTTP_TOKEN`). */
export interface HttpFlags {
  readonly http?: string | undefined
  readonly httpToken?: string | undefined
}

/** Where and how to serve, once the flags are checked. */
export interface HttpPlan {
  readonly host: string
  readonly port: number
  readonly token: string | undefined
}

/** The usage lines of the HTTP flags, for every command that takes them. */
export const httpUsage = `  --http ADDR           serve /healthz, /readyz, /metrics, /status, /events and the dashboard
                        on ADDR (PORT, HOST:PORT or [IPV6]:PORT; HOST defaults to 127.0.0.1)
  --http-token TOKEN    require "Authorization: Bearer TOKEN" on the data routes (default:
                        $STEWARD_HTTP_TOKEN); required when ADDR is not a loopback address`

/**
 * Checks `--http` and `--http-token` before anything starts: `undefined` without `--http`,
 * the plan with it, or an Error whose message names the flag and the reason.
 */
export function planHttp(flags: HttpFlags, env: NodeJS.ProcessEnv = process.env): HttpPlan | undefined {
  const token = flags.httpToken ?? (env.STEWARD_HTTP_TOKEN === '' ? undefined : env.STEWARD_HTTP_TOKEN)
  if (flags.http === undefined) {
    if (flags.httpToken !== undefined) throw new Error('--http-token needs --http')
    return undefined
  }
  if (token === '') throw new Error('--http-token must not be empty')
  const address = flags.http.trim()
  const match = /^(?:(\[[^\]]+\]|[^:[\]]+):)?(\d+)$/.exec(address)
  if (match === null) throw new Error(`--http must be PORT, HOST:PORT or [IPV6]:PORT, got '${flags.http}'`)
  const port = Number(match[2])
  if (port > 65_535) throw new Error(`--http: port must be from 0 to 65535, got ${port}`)
  const rawHost = match[1] ?? '127.0.0.1'
  const host = rawHost.startsWith('[') ? rawHost.slice(1, -1) : rawHost
  if (!isLoopback(host) && token === undefined) {
    throw new Error(`--http ${flags.http}: '${host}' is not a loopback address; give --http-token (or STEWARD_HTTP_TOKEN) so that only holders of the token can read the status and events`)
  }
  return { host, port, token }
}

/** Serves `run` as `plan` says and writes where (the dashboard's address). Close the server when the command ends. */
export async function serveRun(run: Lifecycle, plan: HttpPlan, write: (line: string) => void): Promise<HttpServer> {
  const { serveHttp } = await import('../http/server.js')
  const server = await serveHttp(run, { host: plan.host, port: plan.port, ...(plan.token === undefined ? {} : { token: plan.token }) })
  write(`steward: dashboard on ${server.url}/${plan.token === undefined ? '' : '#token=…'} (metrics on ${server.url}/metrics)`)
  return server
}

/** `--http` bound before anything starts: {@link BoundHttp.serve} attaches the run once it exists. */
export interface BoundHttp {
  /** `http://host:port` as bound. */
  readonly url: string
  /** `HOST:PORT` as the flag gave it. */
  readonly address: string
  /** Whether the data routes require the token. */
  readonly token: boolean
  /**
   * Serves `run` (status, metrics, events, dashboard, and the control routes of a supervisor's
   * run) from now on; call once, right after starting it. With `reload`, `POST /reload` calls it.
   */
  serve(run: Lifecycle, options?: { readonly reload?: (() => Promise<unknown>) | undefined; readonly apps?: Controllable | undefined }): void
  /** Stops listening and ends the event streams; resolves once closed. Idempotent. */
  close(): Promise<void>
}

/**
 * Binds `--http`'s address before the run starts, so a taken port is a usage error (exit 2)
 * naming the flag and the address, and nothing was started. No request is answered before
 * `serve()` (it is called in the same tick as the run's start).
 */
export async function bindHttp(plan: HttpPlan): Promise<BoundHttp> {
  const { createServer } = await import('node:http')
  const server = createServer()
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(plan.port, plan.host, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (error) {
    const { code, message } = error as NodeJS.ErrnoException
    const address = `${plan.host.includes(':') ? `[${plan.host}]` : plan.host}:${plan.port}`
    const reason = code === 'EADDRINUSE' ? 'the address is in use (EADDRINUSE); choose another port' : code === 'EACCES' ? 'permission denied (EACCES)' : message
    throw new UsageError(`--http ${address}`, `cannot listen: ${reason}`)
  }
  const { stewardHttp } = await import('../http/handler.js')
  const bound = server.address() as AddressInfo
  const url = `http://${bound.family === 'IPv6' ? `[${bound.address}]` : bound.address}:${bound.port}`
  let handler: HttpHandler | undefined
  let closing: Promise<void> | undefined
  return {
    url,
    address: `${plan.host}:${plan.port}`,
    token: plan.token !== undefined,
    serve(run, options = {}) {
      if (handler !== undefined) throw new Error('bindHttp: serve() was called twice')
      handler = stewardHttp(run, {
        ...(plan.token === undefined ? {} : { token: plan.token }),
        ...(options.reload === undefined ? {} : { reload: options.reload }),
        ...(options.apps === undefined ? {} : { apps: options.apps }),
      })
      server.on('request', handler)
    },
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        handler?.close()
        server.close(() => resolve())
        server.closeAllConnections()
      })),
  }
}

/** What a command does with `--http`: serve the first run it reports, hold until interrupted, close. */
export interface HttpFace {
  /** Pass to the command as its run callback: the first run reported is served. `undefined` without `--http`. */
  readonly started: ((run: Lifecycle) => void) | undefined
  /** With `--http`, resolves when `signal` aborts (the dashboard keeps showing the final state); at once without. */
  hold(signal: AbortSignal): Promise<void>
  /** Closes the server (if any). */
  close(): Promise<void>
}

/** The `--http` face of one command; `fail` is told when serving failed (the port is taken, say). */
export function httpFace(plan: HttpPlan | undefined, write: (line: string) => void, fail: (error: Error) => void): HttpFace {
  let serving: Promise<HttpServer | undefined> | undefined
  return {
    started:
      plan === undefined
        ? undefined
        : (run) => {
            serving ??= serveRun(run, plan, write).catch((error: Error) => {
              fail(error)
              return undefined
            })
          },
    async hold(signal) {
      if (serving === undefined || signal.aborted) return
      await new Promise((resolve) => signal.addEventListener('abort', resolve, { once: true }))
    },
    async close() {
      await (await serving)?.close()
    },
  }
}

/**
 * `steward run`'s and `steward up`'s `--http` and `--http-token`, checked before anything
 * starts: the plan, `undefined` without `--http`, or a {@link UsageError} naming the flag.
 */
export function httpFlags(http: string | undefined, httpToken: string | undefined): HttpPlan | undefined {
  try {
    return planHttp({ http, httpToken })
  } catch (error) {
    const message = (error as Error).message
    const flag = message.startsWith('--http-token') ? '--http-token' : '--http'
    throw new UsageError(flag, message.startsWith(flag) ? message.slice(flag.length).replace(/^:?\s*/, '') : message)
  }
}
