import { createServer } from 'node:net'

/** A TCP port free on 127.0.0.1 right now (test-only: a server the test starts binds it next). */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise((resolve) => server.close(resolve))
  return port
}

/**
 * The first of `count` (at most 10) consecutive TCP ports free on 127.0.0.1 right now, a multiple
 * of 10 below the ephemeral range: so `PREFIX{instance}` (the base / 10, then a copy's number)
 * names a copy's port in a config. Test-only.
 */
export async function freePortBlock(count: number): Promise<number> {
  if (count > 10) throw new RangeError(`freePortBlock: at most 10 ports, got ${count}`)
  for (let tries = 0; tries < 50; tries++) {
    const base = 10 * (1_100 + Math.floor(Math.random() * 2_000))
    const servers: ReturnType<typeof createServer>[] = []
    let free = true
    for (let port = base; port < base + count && free; port++) {
      const server = createServer()
      free = await new Promise<boolean>((resolve) => {
        server.once('error', () => resolve(false))
        server.listen(port, '127.0.0.1', () => resolve(true))
      })
      if (free) servers.push(server)
    }
    await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))))
    if (free) return base
  }
  throw new Error(`freePortBlock: no ${count} consecutive free ports found`)
}
