import { request } from 'node:http'
import { connect, createServer, type Server, type Socket } from 'node:net'

/**
 * A round-robin TCP proxy on 127.0.0.1 in front of `backends` (ports on 127.0.0.1), test-only.
 * Each client connection goes to the next backend in turn, and is passed on to the following
 * one in two cases only, nginx's default `proxy_next_upstream error` for a request not answered
 * yet: the backend refused the connection (ECONNREFUSED: nothing listens — a copy between its old
 * and its new process), or it reset or closed the connection before sending a single byte of an
 * answer. The second is the kernel's doing when a server closes its listening socket: connections
 * that completed their handshake but were not accepted yet are reset, and no server can prevent
 * that. Nothing else is retried: once a backend sent a byte, what happens reaches the client as
 * it is, and with every backend refusing the client's connection is closed (a failed request).
 */
export interface RoundRobinProxy {
  readonly port: number
  /** Connections passed on to the next backend because one refused. */
  readonly refused: number
  /** Connections passed on to the next backend because one reset or closed them unanswered. */
  readonly unanswered: number
  /** Why each connection closed without an answer from any backend was. */
  readonly lost: readonly string[]
  close(): Promise<void>
}

export async function roundRobinProxy(backends: readonly number[]): Promise<RoundRobinProxy> {
  let next = 0
  let refused = 0
  let unanswered = 0
  const lost: string[] = []
  const sockets = new Set<Socket>()
  const track = (socket: Socket): void => {
    sockets.add(socket)
    socket.once('close', () => sockets.delete(socket))
  }
  const server: Server = createServer((client) => {
    track(client)
    const sent: Buffer[] = []
    let ended = false
    let upstream: Socket | undefined
    client.on('data', (chunk: Buffer) => {
      sent.push(chunk)
      upstream?.write(chunk)
    })
    client.on('end', () => {
      ended = true
      upstream?.end()
    })
    client.on('error', () => client.destroy())
    client.once('close', () => upstream?.destroy())
    const first = next++ % backends.length
    const tryBackend = (tried: number): void => {
      const socket = connect(backends[(first + tried) % backends.length]!, '127.0.0.1')
      track(socket)
      let connected = false
      let answered = false
      const passOn = (): boolean => {
        if (answered || client.destroyed || tried + 1 >= backends.length) return false
        socket.destroy()
        tryBackend(tried + 1)
        return true
      }
      socket.once('connect', () => {
        connected = true
        upstream = socket
        for (const chunk of sent) socket.write(chunk)
        if (ended) socket.end()
      })
      socket.on('data', (chunk: Buffer) => {
        answered = true
        client.write(chunk)
      })
      socket.on('end', () => {
        if (!answered && passOn()) return void unanswered++
        if (!answered) lost.push(`port ${socket.remotePort ?? '?'}: closed unanswered (tried ${tried + 1})`)
        client.end()
      })
      socket.on('error', (error: NodeJS.ErrnoException) => {
        if (!connected && error.code === 'ECONNREFUSED' && passOn()) return void refused++
        // Reset unanswered: also before Node saw the connect (the handshake completed, the reset came at once).
        if (error.code !== 'ECONNREFUSED' && passOn()) return void unanswered++
        lost.push(`${error.code ?? error.message} (connected ${connected}, answered ${answered}, tried ${tried + 1})`)
        client.destroy()
      })
    }
    tryBackend(0)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    get refused() {
      return refused
    },
    get unanswered() {
      return unanswered
    },
    lost,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const socket of sockets) socket.destroy()
      }),
  }
}

/** What a {@link loadLoop} saw. */
export interface LoadReport {
  readonly ok: number
  /** Each failed request: its error or status, and when (`performance.now()`). */
  readonly failed: readonly { readonly error: string; readonly at: number }[]
  /** The bodies answered, each with the first and last time it was seen (`Date.now()`). */
  readonly answers: ReadonlyMap<string, { first: number; last: number; count: number }>
}

/** A client load: `concurrency` loops of GET requests on new connections, until stopped. */
export interface LoadLoop {
  /** Requests answered with 200 so far. */
  readonly ok: number
  readonly failed: number
  /** Ends the loops (the requests in flight finish) and reports. */
  stop(): Promise<LoadReport>
}

/**
 * Sends GET `http://127.0.0.1:PORT/` in `concurrency` loops, each request on a connection of its
 * own (no keep-alive: a request is routed afresh by the proxy), with a deadline of `timeout` ms;
 * a request fails on any error, a status other than 200, or the deadline.
 */
export function loadLoop(port: number, options: { concurrency?: number; timeout?: number } = {}): LoadLoop {
  const { concurrency = 4, timeout = 10_000 } = options
  let ok = 0
  let stopping = false
  const failed: { error: string; at: number }[] = []
  const answers = new Map<string, { first: number; last: number; count: number }>()
  const once = (): Promise<void> =>
    new Promise((resolve) => {
      const fail = (error: string): void => {
        failed.push({ error, at: performance.now() })
        resolve()
      }
      const req = request({ host: '127.0.0.1', port, path: '/', agent: false, timeout }, (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (chunk: string) => (body += chunk))
        res.on('error', (error) => fail(`response: ${error.message}`))
        res.on('end', () => {
          if (res.statusCode !== 200) return fail(`status ${res.statusCode}`)
          const now = Date.now()
          const seen = answers.get(body.trim())
          if (seen === undefined) answers.set(body.trim(), { first: now, last: now, count: 1 })
          else {
            seen.last = now
            seen.count++
          }
          ok++
          resolve()
        })
      })
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeout} ms`)))
      req.on('error', (error) => fail(error.message))
      req.end()
    })
  const loops = Array.from({ length: concurrency }, async () => {
    while (!stopping) await once()
  })
  return {
    get ok() {
      return ok
    },
    get failed() {
      return failed.length
    },
    async stop() {
      stopping = true
      await Promise.all(loops)
      return { ok, failed, answers }
    },
  }
}
