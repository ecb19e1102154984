import { existsSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { StewardEvent, Subscription } from '../observe/events.js'
import type { WardStatus } from '../observe/status.js'
import { metricsContentType, stewardMetrics, type StewardMetrics } from '../observe/metrics.js'
import type { Lifecycle } from '../steward/run-api.js'
import type { Clock } from '../time/clock.js'
import { describe } from '../time/duration.js'
import { bearerMatches } from './auth.js'
import { EventRing, type NumberedEvent } from './event-ring.js'

/** Options of {@link stewardHttp}. */
export interface HttpHandlerOptions {
  /**
   * A bearer token every data route (/healthz, /readyz, /metrics, /status, /events) then requires
   * (`Authorization: Bearer <token>`, compared in constant time; 401 and no data otherwise). The
   * dashboard's own files (and its icon, `/favicon.ico`) carry no data and are served without it.
   * @default none (no authentication)
   */
  readonly token?: string
  /**
   * How many events /events keeps for `Last-Event-ID` replay; as many child output lines (`line`
   * events) are kept beside them, so a chatty child never pushes a restart out of the replay, and
   * a page opened late gets the recent lines.
   * @default 1000
   */
  readonly replay?: number
  /**
   * How often /events sends the status tree (an SSE `status` event without an id), in ms.
   * @default 1000
   */
  readonly statusInterval?: number
  /** The run's clock, for the metrics' uptimes. @default systemClock */
  readonly clock?: Clock
  /**
   * Serves `POST /reload` (404 without it): called to re-read the config and apply the
   * difference; what it resolves with is the answer's JSON body, what it rejects with a 400 with
   * the error's message (an invalid config changes nothing). `steward up` passes one.
   * @default none
   */
  readonly reload?: () => Promise<unknown>
  /**
   * What `POST /apps/NAME/restart|stop|start` act on, instead of the run's own `restartChild`,
   * `stopChild` and `startChild`: `steward up` passes its apps, so that NAME may be an app with
   * `instances` (restarted one copy at a time). A rejection whose `code` is
   * `'ERR_STEWARD_NO_CHILD'` is a 404, any other a 409.
   * @default the run's own methods (a supervisor's run)
   */
  readonly apps?: Controllable
}

/** A supervisor run's operator methods, which the `POST /apps/NAME/…` routes call. */
export interface Controllable {
  /** `POST /apps/NAME/restart`: restarts the app; resolves once it was restarted (200), rejects to refuse (404 for `ERR_STEWARD_NO_CHILD`, else 409). */
  restartChild(name: string): Promise<void>
  /** `POST /apps/NAME/stop`: stops the app until started; resolves with the stop's report once it stopped (the answer's `report`). */
  stopChild(name: string): Promise<unknown>
  /** `POST /apps/NAME/start`: starts a stopped app; resolves once it was started. */
  startChild(name: string): Promise<void>
}

/** What a cluster node's tree adds to its HTTP face (see `steward/cluster`'s `node.tree`). */
interface ClusterFace {
  status(): unknown
  metrics(): string
}

function clusterFace(run: Lifecycle): ClusterFace | undefined {
  const face = (run as { cluster?: Partial<ClusterFace> }).cluster
  return typeof face?.status === 'function' && typeof face.metrics === 'function' ? (face as ClusterFace) : undefined
}

function controllable(run: Lifecycle): run is Lifecycle & Controllable {
  const methods = run as Partial<Controllable>
  return typeof methods.restartChild === 'function' && typeof methods.stopChild === 'function' && typeof methods.startChild === 'function'
}

/** The origin `req` was sent to (`http://` + its Host header), for comparing an `Origin` header with. */
function sameOrigin(req: IncomingMessage, origin: string): boolean {
  try {
    return new URL(origin).host === req.headers.host
  } catch {
    return false // 'null' (a sandboxed page, a file:), or garbage
  }
}

/**
 * A `(req, res)` request handler for `node:http` (or Express, Fastify's
 * raw mode, anything that hands over Node's request and response) serving
 * one run: `GET /healthz`, `/readyz`, `/metrics`, `/status`, `/events`
 * (Server-Sent Events) and `/` (the dashboard); for a supervisor's run,
 * `POST /apps/NAME/restart|stop|start` (and `POST /reload` with the `reload`
 * option), which always require the token (403 when none is configured), a
 * `Content-Type: application/json` and no foreign `Origin`. For a cluster node's
 * tree (`node.tree` of `steward/cluster`), /status and the status events carry
 * the node's cluster view as `cluster`, and /metrics adds the node's
 * `steward_cluster_*` metrics. It subscribes to the run's
 * events when made; `close()` ends the subscription and every open event
 * stream.
 */
export interface HttpHandler {
  (req: IncomingMessage, res: ServerResponse): void
  /** The metrics /metrics renders. */
  readonly metrics: StewardMetrics
  /** Open /events connections. */
  readonly connections: number
  /** Unsubscribes and ends every /events stream. Idempotent. */
  close(): void
}

const assets: Readonly<Record<string, readonly [file: string, type: string]>> = {
  '/': ['index.html', 'text/html; charset=utf-8'],
  '/index.html': ['index.html', 'text/html; charset=utf-8'],
  '/dashboard.js': ['dashboard.js', 'text/javascript; charset=utf-8'],
  '/dashboard.css': ['dashboard.css', 'text/css; charset=utf-8'],
  // The page links favicon.svg; /favicon.ico is what a browser asks for on its own (an SVG there
  // is shown by current browsers, and beats a 404 in the console).
  '/favicon.svg': ['favicon.svg', 'image/svg+xml'],
  '/favicon.ico': ['favicon.svg', 'image/svg+xml'],
}
const assetCache = new Map<string, Buffer>()
// Beside this module (dist/http/, or src/http/ under tsx); from `steward run`'s bundle in dist/run/,
// the package's dist/http/dashboard/.
const besideThis = new URL('./dashboard/', import.meta.url)
const dashboardDir = existsSync(besideThis) ? besideThis : new URL('../../dist/http/dashboard/', import.meta.url)

/** The paths of wards that gave up, anywhere in the tree. */
function gaveUp(status: WardStatus, out: string[] = []): string[] {
  if (status.state === 'gave-up') out.push(status.path)
  for (const child of status.children) gaveUp(child, out)
  return out
}

/** The paths of the leaves of the tree that are not up. */
function notUp(status: WardStatus, out: string[] = []): string[] {
  if (status.children.length === 0) {
    if (!status.up) out.push(status.path)
  } else for (const child of status.children) notUp(child, out)
  return out
}

/** JSON that never throws: values JSON cannot carry (a bigint, a cycle) become strings. */
function toJson(value: unknown): string {
  try {
    return JSON.stringify(value, (_key, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))
  } catch {
    return JSON.stringify(String(value))
  }
}

/**
 * Makes the request handler of `run` (a steward's or supervisor's run).
 * Validates `options` at once (a `TypeError`/`RangeError` naming the option).
 */
export function stewardHttp(run: Lifecycle, options: HttpHandlerOptions = {}): HttpHandler {
  if (typeof run !== 'object' || run === null || typeof run.status !== 'function' || typeof run.on !== 'function') {
    throw new TypeError(`stewardHttp: run must be a steward or supervisor run, got ${describe(run)}`)
  }
  if (typeof options !== 'object' || options === null) throw new TypeError(`stewardHttp: options must be an object, got ${describe(options)}`)
  const known = ['token', 'replay', 'statusInterval', 'clock', 'reload', 'apps']
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) throw new TypeError(`stewardHttp: unknown option '${key}' (known: ${known.join(', ')})`)
  }
  const { token, replay = 1000, statusInterval = 1000 } = options
  if (token !== undefined && (typeof token !== 'string' || token === '')) {
    throw new TypeError(`stewardHttp: option 'token' must be a non-empty string, got ${describe(token)}`)
  }
  if (options.reload !== undefined && typeof options.reload !== 'function') {
    throw new TypeError(`stewardHttp: option 'reload' must be a function returning a promise, got ${describe(options.reload)}`)
  }
  const reload = options.reload
  if (options.apps !== undefined && !controllable(options.apps as unknown as Lifecycle)) {
    throw new TypeError(`stewardHttp: option 'apps' must have restartChild, stopChild and startChild methods, got ${describe(options.apps)}`)
  }
  const apps = options.apps
  if (!Number.isInteger(replay) || replay < 1) throw new RangeError(`stewardHttp: option 'replay' must be an integer ≥ 1, got ${describe(replay)}`)
  if (typeof statusInterval !== 'number' || !(statusInterval >= 10) || !Number.isFinite(statusInterval)) {
    throw new RangeError(`stewardHttp: option 'statusInterval' must be a number of ms ≥ 10, got ${describe(statusInterval)}`)
  }
  const metrics = stewardMetrics(run, options.clock === undefined ? {} : { clock: options.clock })
  // A cluster node's tree (`node.tree`) carries the node's cluster view: /status, the status
  // events and /metrics add it (the dashboard shows it beside the tree).
  const cluster = clusterFace(run)
  const fullStatus = (): unknown => (cluster === undefined ? run.status() : { ...run.status(), cluster: cluster.status() })
  const ring = new EventRing(replay)
  const streams = new Set<ServerResponse>()
  let statusTimer: ReturnType<typeof setInterval> | undefined
  let closed = false

  const send = (res: ServerResponse, { id, event, wall }: NumberedEvent): void => {
    res.write(`id: ${id}\nevent: ${event.type}\ndata: ${toJson({ ...event, wall })}\n\n`)
  }
  const sendStatus = (res: ServerResponse): void => {
    res.write(`event: status\ndata: ${toJson(fullStatus())}\n\n`)
  }
  const subscription: Subscription = run.on((event: StewardEvent) => {
    const numbered = ring.push(event)
    for (const res of streams) send(res, numbered)
  })
  const stopStream = (res: ServerResponse): void => {
    if (!streams.delete(res)) return
    if (streams.size === 0 && statusTimer !== undefined) {
      clearInterval(statusTimer)
      statusTimer = undefined
    }
  }

  const json = (res: ServerResponse, code: number, body: unknown): void => {
    res.writeHead(code, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' })
    res.end(`${toJson(body)}\n`)
  }

  const events = (req: IncomingMessage, res: ServerResponse): void => {
    if (closed) return json(res, 503, { error: 'closed' })
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' })
    res.write(`retry: 2000\n\n`)
    const header = req.headers['last-event-id']
    const last = typeof header === 'string' && /^\d+$/.test(header.trim()) ? Number(header.trim()) : undefined
    if (last !== undefined) {
      const missed = ring.after(last)
      // Some events are gone from the ring: the client learns it (the status below is whole anyway).
      if (!missed.complete) res.write(`event: gap\ndata: ${toJson({ after: last, oldest: missed.events[0]?.id ?? ring.lastId + 1 })}\n\n`)
      for (const numbered of missed.events) send(res, numbered)
    }
    // The status after the replay: what the replayed events did is history, the status is now.
    sendStatus(res)
    streams.add(res)
    statusTimer ??= setInterval(() => {
      for (const stream of streams) sendStatus(stream)
    }, statusInterval)
    const end = (): void => stopStream(res)
    res.on('close', end)
    req.on('close', end)
  }

  const asset = (res: ServerResponse, file: string, type: string, head: boolean): void => {
    const cached = assetCache.get(file)
    const reply = (stored: Buffer): void => {
      // The page learns whether to ask for the token before its first request (a 401 would be an
      // error in the browser's console). Whether a token is needed is no secret: a 401 says it too.
      const body = file === 'index.html' && token !== undefined ? Buffer.from(stored.toString('utf8').replace('data-token="none"', 'data-token="required"')) : stored
      res.writeHead(200, { 'content-type': type, 'content-length': body.length, 'cache-control': 'no-cache', 'x-content-type-options': 'nosniff' })
      res.end(head ? undefined : body)
    }
    if (cached !== undefined) return reply(cached)
    readFile(new URL(file, dashboardDir)).then(
      (body) => {
        assetCache.set(file, body)
        reply(body)
      },
      (error: Error) => {
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
        res.end(`dashboard file missing: ${error.message}\n`)
      },
    )
  }

  /**
   * `POST /apps/NAME/restart|stop|start` and `POST /reload`. A control route changes the tree, so
   * unlike the data routes it is never open: no token configured is a 403 saying how to set one,
   * even on loopback (any local process or page could post otherwise). A browser page elsewhere
   * cannot post either: a foreign `Origin` is refused, and `Content-Type: application/json` is
   * required, which a cross-site form cannot send and a cross-site script cannot without a CORS
   * preflight, which gets no CORS headers here.
   */
  const control = (req: IncomingMessage, res: ServerResponse, path: string): void => {
    req.resume() // the body carries nothing: drain it
    const app = /^\/apps\/([^/]+)\/(restart|stop|start)$/.exec(path)
    if (app === null && !(path === '/reload' && reload !== undefined)) return json(res, 404, { error: `no POST route ${path}` })
    if (app !== null && apps === undefined && !controllable(run)) return json(res, 404, { error: 'this run has no apps to control (not a supervisor)' })
    if (token === undefined) {
      return json(res, 403, { error: 'the control routes need a token: set one with --http-token TOKEN or STEWARD_HTTP_TOKEN (stewardHttp option `token`)' })
    }
    if (!bearerMatches(req.headers.authorization, token)) {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="steward"', 'content-type': 'application/json; charset=utf-8' })
      res.end(`${toJson({ error: 'unauthorized' })}\n`)
      return
    }
    const origin = req.headers.origin
    if (origin !== undefined && !sameOrigin(req, origin)) return json(res, 403, { error: `cross-origin request refused (Origin ${origin})` })
    const type = req.headers['content-type']?.split(';')[0]?.trim().toLowerCase()
    if (type !== 'application/json') return json(res, 415, { error: 'a control request needs Content-Type: application/json' })
    let action: Promise<unknown>
    let done: (result: unknown) => unknown
    if (app === null) {
      action = reload!()
      done = (result) => result
    } else {
      const [, encoded, verb] = app
      let name: string
      try {
        name = decodeURIComponent(encoded!)
      } catch {
        return json(res, 400, { error: `bad app name in ${path}` })
      }
      const target = apps ?? (run as unknown as Controllable)
      action = verb === 'restart' ? target.restartChild(name) : verb === 'stop' ? target.stopChild(name) : target.startChild(name)
      done = (report) => ({ ok: true, app: name, action: verb, ...(verb === 'stop' ? { report } : {}) })
    }
    // The action has begun (a stop's child is stopping now): every page sees it at once, not at the
    // next status tick — a stop has no event until it ends, so the page would show it working.
    for (const stream of streams) sendStatus(stream)
    action.then(
      (result) => json(res, 200, done(result)),
      (error: unknown) => {
        const code = (error as { code?: unknown } | null)?.code === 'ERR_STEWARD_NO_CHILD' ? 404 : app === null ? 400 : 409
        json(res, code, { error: error instanceof Error ? error.message : String(error) })
      },
    )
  }

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const method = req.method ?? 'GET'
    const path = new URL(req.url ?? '/', 'http://localhost').pathname
    if (method === 'POST' && (path === '/reload' || path.startsWith('/apps/'))) return control(req, res, path)
    if (method !== 'GET' && method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' })
      res.end('method not allowed\n')
      return
    }
    const file = assets[path]
    if (file !== undefined) return asset(res, file[0], file[1], method === 'HEAD')
    if (!['/healthz', '/readyz', '/metrics', '/status', '/events'].includes(path)) {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' })
      res.end('not found\n')
      return
    }
    if (token !== undefined && !bearerMatches(req.headers.authorization, token)) {
      res.writeHead(401, { 'www-authenticate': 'Bearer realm="steward"', 'content-type': 'text/plain; charset=utf-8' })
      res.end('unauthorized\n')
      return
    }
    switch (path) {
      case '/healthz': {
        const failing = gaveUp(run.status())
        return json(res, failing.length === 0 ? 200 : 503, failing.length === 0 ? { status: 'ok' } : { status: 'gave-up', failing })
      }
      case '/readyz': {
        const status = run.status()
        return json(res, status.up ? 200 : 503, status.up ? { status: 'ready' } : { status: 'not-ready', waiting: notUp(status) })
      }
      case '/metrics': {
        res.writeHead(200, { 'content-type': metricsContentType, 'cache-control': 'no-store' })
        res.end(method === 'HEAD' ? undefined : cluster === undefined ? metrics.render() : `${metrics.render()}${cluster.metrics()}`)
        return
      }
      case '/status':
        return json(res, 200, fullStatus())
      default:
        if (method === 'HEAD') {
          res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store' })
          res.end()
          return
        }
        return events(req, res)
    }
  }
  const close = (): void => {
    if (closed) return
    closed = true
    subscription.dispose()
    metrics.dispose()
    for (const res of [...streams]) {
      stopStream(res)
      res.end()
    }
  }
  // defineProperties, not Object.assign: `connections` must stay a live getter.
  return Object.defineProperties(handler, {
    metrics: { value: metrics, enumerable: true },
    connections: { get: () => streams.size, enumerable: true },
    close: { value: close, enumerable: true },
  }) as HttpHandler
}
