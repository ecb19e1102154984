import { request, type IncomingMessage } from 'node:http'

/** One Server-Sent Events message. */
export interface SseMessage {
  readonly id: string | undefined
  readonly event: string
  readonly data: string
}

/** A test's SSE connection: messages as they arrive, and a way to wait for one. */
export interface SseClient {
  readonly messages: SseMessage[]
  /** Resolves with the first message (from the start) that `match` accepts; rejects after `ms`. */
  until(match: (message: SseMessage) => boolean, ms?: number): Promise<SseMessage>
  readonly closed: Promise<void>
  close(): void
}

/** Opens `url` as an event stream (test-only), with `Last-Event-ID` when given. */
export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const req = request(url, { agent: false, headers: { accept: 'text/event-stream', ...headers } })
    req.on('error', reject)
    req.on('response', (res: IncomingMessage) => {
      if (res.statusCode !== 200) {
        res.resume()
        reject(new Error(`SSE ${url}: status ${res.statusCode}`))
        return
      }
      const messages: SseMessage[] = []
      const waiters = new Set<() => void>()
      let buffer = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buffer += chunk
        let end: number
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          let id: string | undefined
          let event = 'message'
          const data: string[] = []
          for (const line of block.split('\n')) {
            const colon = line.indexOf(':')
            if (colon === 0) continue
            const field = colon === -1 ? line : line.slice(0, colon)
            const value = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
            if (field === 'id') id = value
            else if (field === 'event') event = value
            else if (field === 'data') data.push(value)
          }
          if (data.length > 0) messages.push({ id, event, data: data.join('\n') })
        }
        for (const waiter of [...waiters]) waiter()
      })
      const closed = new Promise<void>((done) => res.on('close', () => done()))
      resolve({
        messages,
        closed,
        close: () => req.destroy(),
        until(match, ms = 10_000) {
          return new Promise((found, fail) => {
            const check = (): void => {
              const message = messages.find(match)
              if (message === undefined) return
              waiters.delete(check)
              clearTimeout(timer)
              found(message)
            }
            const timer = setTimeout(() => {
              waiters.delete(check)
              fail(new Error(`no matching SSE message within ${ms} ms; got ${messages.map((m) => m.event).join(', ')}`))
            }, ms)
            waiters.add(check)
            check()
          })
        },
      })
    })
    req.end()
  })
}
