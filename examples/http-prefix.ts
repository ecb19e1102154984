// Recipe: the HTTP face mounted under a path prefix (/ops/) of an existing node:http server,
// beside the application's own routes. The handler routes on `req.url`, so the mount strips the
// prefix; the dashboard's page refers to its files and routes relatively (dashboard.js,
// events, apps/…), so it works under any prefix once `/ops` redirects to `/ops/`.
// The example serves, asks its own routes and prints what answered.
// Run: npm run build && npx tsx examples/http-prefix.ts
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { steward, type WardContext } from 'steward'
import { stewardHttp } from 'steward/http'

const run = steward((ctx: WardContext) => ctx.idle(new Promise<never>(() => {})), { name: 'app' }).start()
const ops = stewardHttp(run)
const prefix = '/ops'

/** Hands `/ops/…` to the steward's handler with the prefix stripped; `/ops` itself redirects to `/ops/`. */
function mount(req: IncomingMessage, res: ServerResponse): boolean {
  const url = req.url ?? '/'
  if (url === prefix || url.startsWith(`${prefix}?`)) {
    res.writeHead(308, { location: `${prefix}/${url.slice(prefix.length)}` }).end()
    return true
  }
  if (!url.startsWith(`${prefix}/`)) return false
  req.url = url.slice(prefix.length) // '/ops/metrics' → '/metrics'
  ops(req, res)
  return true
}

const server = createServer((req, res) => {
  if (mount(req, res)) return
  res.writeHead(200, { 'content-type': 'text/plain' }).end('the application\n') // the server's own routes
})
await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`

async function show(path: string): Promise<string> {
  const response = await fetch(new URL(path, base), { redirect: 'manual' })
  const body = await response.text()
  const where = response.headers.get('location')
  console.log(`${path} → ${response.status} ${response.headers.get('content-type')?.split(';')[0] ?? ''}${where === null ? '' : ` → ${where}`}`)
  return body
}

await show('/')
await show(prefix)
await show(`${prefix}/healthz`)
await show(`${prefix}/status`)
await show(`${prefix}/metrics`)
const page = await show(`${prefix}/`)
// The page's own files, resolved as a browser would against the page's address.
for (const [, ref] of page.matchAll(/(?:href|src)="([^"]+)"/g)) await show(new URL(ref!, `${base}${prefix}/`).pathname)

ops.close()
await run.stop()
await new Promise<void>((resolve, reject) => server.close((error) => (error ? reject(error) : resolve())))
