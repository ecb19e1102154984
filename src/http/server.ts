import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Lifecycle } from '../steward/run-api.js'
import { describe } from '../time/duration.js'
import { isLoopback } from './loopback.js'
import { stewardHttp, type HttpHandler, type HttpHandlerOptions } from './handler.js'

/** Options of {@link serveHttp}: where to listen, and the handler's options. */
export interface HttpServerOptions extends HttpHandlerOptions {
  /**
   * The address to bind. Anything but a loopback address (127.0.0.0/8, ::1, localhost) requires `token`.
   * @default '127.0.0.1'
   */
  readonly host?: string
  /** The TCP port; 0 picks a free one. @default 9477 */
  readonly port?: number
}

/** A listening HTTP face of a run. */
export interface HttpServer extends AsyncDisposable {
  /** `http://host:port` as bound (the real port when `port` was 0). */
  readonly url: string
  readonly host: string
  readonly port: number
  readonly handler: HttpHandler
  /** Ends the event streams, stops listening and resolves once the server closed. Idempotent. */
  close(): Promise<void>
}

/**
 * Serves {@link stewardHttp}'s handler for `run` on `host:port`. Binds
 * 127.0.0.1 unless told otherwise, and refuses (rejects before binding) a
 * non-loopback `host` without a `token`.
 */
export async function serveHttp(run: Lifecycle, options: HttpServerOptions = {}): Promise<HttpServer> {
  if (typeof options !== 'object' || options === null) throw new TypeError(`serveHttp: options must be an object, got ${describe(options)}`)
  const { host = '127.0.0.1', port = 9477, ...handlerOptions } = options
  if (typeof host !== 'string' || host === '') throw new TypeError(`serveHttp: option 'host' must be a non-empty string, got ${describe(host)}`)
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new RangeError(`serveHttp: option 'port' must be an integer from 0 to 65535, got ${describe(port)}`)
  if (!isLoopback(host) && handlerOptions.token === undefined) {
    throw new TypeError(`serveHttp: option 'token' is required to bind '${host}', which is not a loopback address (anyone who reaches it would read the status and events)`)
  }
  const handler = stewardHttp(run, handlerOptions)
  const server: Server = createServer(handler)
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, host, () => {
        server.off('error', reject)
        resolve()
      })
    })
  } catch (error) {
    handler.close()
    throw error
  }
  const address = server.address() as AddressInfo
  const shown = address.family === 'IPv6' ? `[${address.address}]` : address.address
  let closing: Promise<void> | undefined
  const close = (): Promise<void> =>
    (closing ??= new Promise<void>((resolve) => {
      handler.close()
      server.close(() => resolve())
      server.closeAllConnections()
    }))
  return { url: `http://${shown}:${address.port}`, host: address.address, port: address.port, handler, close, [Symbol.asyncDispose]: close }
}
