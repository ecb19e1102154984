// Three cluster nodes (child processes of this script) and a redis-server on loopback share 12
// wards; one node is killed with SIGKILL, and its wards resume on the other two from their
// checkpoints. Needs redis-server on the PATH. Run: npx tsx examples/cluster.ts
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { steward, walk } from 'steward'
import { cluster } from 'steward/cluster'

const role = process.env.CLUSTER_EXAMPLE_NODE

if (role !== undefined) {
  // A node: each ward counts 0, 1, 2, … every 100 ms; the cluster checkpoints where it got.
  const counting = function* (from: number): Generator<number> {
    for (let i = from; ; i++) yield i
  }
  const node = cluster({
    redis: process.env.CLUSTER_EXAMPLE_REDIS!,
    namespace: 'example',
    node: role,
    leaseTtl: '1s',
    checkpointEvery: '100ms',
    ward: () => steward(walk(counting, async (n, ctx) => ctx.clock.sleep(100, ctx.signal).then(() => n))),
    onEvent: (event: { readonly type: string; readonly ward?: string; readonly resume?: string | undefined; readonly from?: { readonly node: string } | null }) => {
      if (event.type === "claimed") console.log(JSON.stringify({ node: role, ward: event.ward, resume: event.resume ?? '0', from: event.from?.node ?? null }))
    },
  })
  await node.ready
  console.log(JSON.stringify({ node: role, ready: true }))
  if (role === 'a') await node.add(Array.from({ length: 12 }, (_, i) => `ward-${i}`))
  process.on('SIGTERM', () => void node.stop().then(() => process.exit(0)))
} else {
  const port = await new Promise<number>((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })
  const dir = mkdtempSync(join(tmpdir(), 'steward-example-'))
  const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes'], { stdio: 'ignore' })
  const nodes = new Map<string, ChildProcess>()
  const owner = new Map<string, string>()
  let phase: 'start' | 'moved' = 'start'
  let lastClaim = Date.now()
  let moved = 0
  let toMove = 0
  let done: () => void = () => {}
  const finished = new Promise<void>((resolve) => (done = resolve))
  const startNode = (name: string): Promise<void> =>
    new Promise((ready) => {
      const child = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
        env: { ...process.env, CLUSTER_EXAMPLE_NODE: name, CLUSTER_EXAMPLE_REDIS: `redis://127.0.0.1:${port}` },
        stdio: ['ignore', 'pipe', 'inherit'],
      })
      nodes.set(name, child)
      createInterface({ input: child.stdout }).on('line', (line) => {
        const event = JSON.parse(line) as { node: string; ready?: boolean; ward?: string; resume?: string; from?: string | null }
        if (event.ready === true) return ready()
        owner.set(event.ward!, event.node)
        lastClaim = Date.now()
        if (phase === 'moved' && event.from !== undefined) {
          console.log(`${event.ward} moved from ${event.from ?? '?'} to ${event.node}, resuming at ${event.resume}`)
          if (++moved === toMove) done()
        }
      })
    })
  try {
    await new Promise((resolve) => setTimeout(resolve, 300))
    for (const name of ["a", "b", "c"]) {
      await startNode(name)
    }
    // Wait until the wards settled over the three nodes (the first node took them all, then handed some over).
    const held = (name: string): number => [...owner.values()].filter((n) => n === name).length
    while (owner.size < 12 || Date.now() - lastClaim < 1_500) await new Promise((resolve) => setTimeout(resolve, 100))
    const counts = ['a', 'b', 'c'].map((name) => `${name}: ${held(name)}`)
    const victim = ['a', 'b', 'c'].sort((x, y) => held(y) - held(x))[0]!
    console.log(`12 wards running (${counts.join(', ')}); killing node ${victim} with SIGKILL`)
    toMove = held(victim)
    phase = 'moved'
    nodes.get(victim)!.kill('SIGKILL')
    await finished
    console.log(`every ward of ${victim} runs again on the other nodes`)
  } finally {
    for (const child of nodes.values()) child.kill('SIGKILL')
    redis.kill('SIGTERM')
    await new Promise((resolve) => redis.once('exit', resolve))
    rmSync(dir, { recursive: true, force: true })
  }
}
