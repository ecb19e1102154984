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
  // A node: each ward counts 0, 1, 2, … every 100 ms; the cluster checkpoints where it got. Each
  // ward says where it starts counting (its resume point), and each claim says whose ward it was.
  const counting = (ward: string) =>
    function* (from: number): Generator<number> {
      console.log(JSON.stringify({ node: role, ward, start: from }))
      for (let i = from; ; i++) yield i
    }
  const node = cluster({
    redis: process.env.CLUSTER_EXAMPLE_REDIS!,
    namespace: 'example',
    node: role,
    leaseTtl: '1s',
    checkpointEvery: '100ms',
    ward: (id) => steward(walk(counting(id), async (n, ctx) => ctx.clock.sleep(100, ctx.signal).then(() => n))),
    onEvent: (event: { readonly type: string; readonly ward?: string; readonly from?: { readonly node: string } | null }) => {
      if (event.type === 'claimed') console.log(JSON.stringify({ node: role, ward: event.ward, from: event.from?.node ?? null }))
    },
  })
  await node.ready
  console.log(JSON.stringify({ node: role, ready: true }))
  if (role === 'a') await node.add(Array.from({ length: 12 }, (_, i) => `ward-${i}`))
  // What this node sees, for the parent to tell when the cluster has settled.
  setInterval(() => {
    const status = node.status()
    const me = status.members.find((member) => member.node === role)
    const held = status.wards.map((ward) => ward.ward)
    const checkpointed = status.wards.filter((ward) => Number(ward.checkpointed ?? 0) > 0).length
    console.log(JSON.stringify({ node: role, members: status.members.length, assigned: me?.assigned ?? -1, held, checkpointed }))
  }, 200)
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
  /** Each node's last report: how many members it sees, how many wards it is assigned and holds. */
  const seen = new Map<string, { members: number; assigned: number; held: string[]; checkpointed: number }>()
  let victim = ''
  const toMove = new Set<string>()
  /** Each of the victim's wards claimed since the kill: by whom, from whom. */
  const movedFrom = new Map<string, { from: string; to: string }>()
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
        const event = JSON.parse(line) as { node: string; ready?: boolean; ward?: string; start?: number; from?: string | null; members?: number; assigned?: number; held?: string[]; checkpointed?: number }
        if (event.ready === true) return ready()
        if (event.held !== undefined) return void seen.set(event.node, { members: event.members!, assigned: event.assigned!, held: event.held, checkpointed: event.checkpointed! })
        if (victim === '' || !toMove.has(event.ward!)) return
        // After the kill: the first claim of each of the victim's wards is its move; the ward's
        // start on the node that claimed it shows where it resumed.
        if (event.start === undefined) return void (movedFrom.has(event.ward!) || movedFrom.set(event.ward!, { from: event.from ?? '?', to: event.node }))
        const move = movedFrom.get(event.ward!)
        if (move === undefined || move.to !== event.node) return
        toMove.delete(event.ward!)
        console.log(`${event.ward} moved from ${move.from} to ${event.node}, resuming at ${event.start}`)
        if (toMove.size === 0) done()
      })
    })
  try {
    await new Promise((resolve) => setTimeout(resolve, 300))
    for (const name of ['a', 'b', 'c']) {
      await startNode(name)
    }
    // Wait until the cluster settled: each node sees all three, holds exactly the wards it is
    // assigned, and has checkpointed each of them; together they hold the 12 wards once each.
    // (The first node took every ward, then handed some over as the others joined.)
    const settled = (): boolean => {
      const reports = ['a', 'b', 'c'].map((name) => seen.get(name))
      if (reports.some((r) => r === undefined || r.members !== 3 || r.held.length !== r.assigned || r.checkpointed !== r.held.length)) return false
      return new Set(reports.flatMap((r) => r!.held)).size === 12 && reports.reduce((n, r) => n + r!.held.length, 0) === 12
    }
    const settleBy = Date.now() + 60_000
    while (!settled()) {
      if (Date.now() > settleBy) throw new Error(`the cluster did not settle within 60 s: ${JSON.stringify(Object.fromEntries(seen))}`)
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
    const held = (name: string): number => seen.get(name)!.held.length
    const counts = ['a', 'b', 'c'].map((name) => `${name}: ${held(name)}`)
    victim = ['a', 'b', 'c'].sort((x, y) => held(y) - held(x))[0]!
    for (const ward of seen.get(victim)!.held) toMove.add(ward)
    console.log(`12 wards running (${counts.join(', ')}); killing node ${victim} with SIGKILL`)
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
