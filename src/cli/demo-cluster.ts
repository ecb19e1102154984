// `steward demo cluster`: three cluster nodes (child processes of this command) share 12 wards
// on Redis; the node holding the most is killed with SIGKILL, and the timeline shows each of its
// wards claimed by another node and resumed from its checkpoint. Starts its own redis-server (a
// temporary one on a free loopback port) unless given --redis URL. A node is this same command
// run with STEWARD_DEMO_CLUSTER_NODE set (JSON: node, redis, namespace).
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'

/** `steward demo cluster --help`. */
export const clusterDemoUsage = `Usage: steward demo cluster [--redis URL] [--json]

Three cluster nodes (child processes) share 12 wards on Redis, each ward counting 0, 1, 2, …
every 100 ms with its position checkpointed; the node holding the most wards is killed with
SIGKILL, and each of its wards is claimed by another node once its lease (1 s) expired and
resumes from its checkpoint. Prints the timeline; the nodes stop gracefully at the end.

  --redis URL   use this Redis (redis://HOST:PORT; keys under a fresh namespace, deleted at the end)
                instead of starting a temporary redis-server (which must be on the PATH)
  --json        the nodes' cluster events, one JSON object per line (t, node, type, …)`

const WARDS = 12
const LEASE_TTL = 1_000
const NODES = ['a', 'b', 'c'] as const
const SETTLE_WITHIN = 60_000

interface NodeConfig {
  readonly node: string
  readonly redis: string
  readonly namespace: string
}

/** A node's line to the demo: a cluster event, or its view (`type: 'view'`). */
interface Report {
  readonly type: string
  readonly node: string
  readonly [key: string]: unknown
}

/** Runs one node of the demo (the child side); resolves when it was stopped. */
async function runNode(config: NodeConfig): Promise<number> {
  const [{ cluster }, { steward }, { walk }] = await Promise.all([import('../cluster/cluster.js'), import('../steward/steward.js'), import('../steward/walk.js')])
  const say = (line: object): void => void process.stdout.write(`${JSON.stringify({ node: config.node, ...line })}\n`)
  function* counting(from: number): Generator<number> {
    for (let i = from; ; i++) yield i
  }
  const node = cluster({
    redis: config.redis,
    namespace: config.namespace,
    node: config.node,
    leaseTtl: LEASE_TTL,
    checkpointEvery: 100,
    ward: () => steward(walk(counting, async (n, ctx) => ctx.clock.sleep(100, ctx.signal).then(() => n))),
    onEvent: (event) => {
      if (event.type !== 'checkpointed') say(event)
    },
  })
  await node.ready
  say({ type: 'ready' })
  if (config.node === NODES[0]) await node.add(Array.from({ length: WARDS }, (_, i) => `stream-${i}`))
  const view = setInterval(() => {
    const status = node.status()
    const me = status.members.find((member) => member.node === config.node)
    say({ type: 'view', members: status.members.length, assigned: me?.assigned ?? -1, held: status.wards.map((ward) => ({ ward: ward.ward, progress: ward.progress, checkpointed: ward.checkpointed })) })
  }, 100)
  await new Promise<void>((resolve) => process.once('SIGTERM', () => resolve()))
  clearInterval(view)
  await node.stop()
  return 0
}

/** A TCP port free on 127.0.0.1 now (the redis-server started next binds it). */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** Runs `steward demo cluster ARGS`; returns the exit code. */
export async function clusterDemo(argv: readonly string[], write: (line: string) => void): Promise<number> {
  const role = process.env.STEWARD_DEMO_CLUSTER_NODE
  if (role !== undefined) return runNode(JSON.parse(role) as NodeConfig)
  let values
  try {
    values = parseArgs({ args: [...argv], options: { redis: { type: 'string' }, json: { type: 'boolean', default: false }, help: { type: 'boolean', short: 'h', default: false } } }).values
    if (values.redis !== undefined && !/^redis:\/\/[^\s]+$/.test(values.redis)) throw new Error(`--redis must be a redis:// URL, got '${values.redis}'`)
  } catch (error) {
    process.stderr.write(`steward demo cluster: ${(error as Error).message}\n\n${clusterDemoUsage}\n`)
    return 2
  }
  if (values.help) {
    write(clusterDemoUsage)
    return 0
  }
  let Redis: typeof import('ioredis').Redis
  try {
    ;({ Redis } = await import('ioredis'))
  } catch {
    process.stderr.write('steward demo cluster: needs ioredis, the optional peer dependency of steward/cluster: npm install ioredis\n')
    return 1
  }
  const started = performance.now()
  const json = values.json
  /** A step of the demo: a timeline line, or with --json an object of its own (`type` names the step). */
  const say = (text: string, step?: Record<string, unknown>): void => {
    if (!json) write(`${((performance.now() - started) / 1000).toFixed(3).padStart(8)}s  ${text}`)
    else if (step !== undefined) write(JSON.stringify({ t: Math.round(performance.now() - started), node: null, ...step }))
  }
  const controller = new AbortController()
  const onSignal = (signal: NodeJS.Signals): void => controller.abort(new Error(`received ${signal}`))
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  const namespace = `steward-demo-${randomBytes(4).toString('hex')}`
  let redisUrl = values.redis
  let server: ChildProcess | undefined
  let dir: string | undefined
  const nodes = new Map<string, ChildProcess>()
  const admin: { client?: InstanceType<typeof Redis> } = {}
  try {
    if (!json) write(`cluster: ${NODES.length} nodes share ${WARDS} wards on Redis; the one holding the most is killed with SIGKILL and its wards resume elsewhere [real time]`)
    if (redisUrl === undefined) {
      const port = await freePort()
      dir = mkdtempSync(join(tmpdir(), 'steward-demo-redis-'))
      const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes'], { stdio: 'ignore' })
      server = child
      const failed = await new Promise<Error | undefined>((resolve) => {
        child.once('error', resolve)
        child.once('spawn', () => resolve(undefined))
      })
      if (failed !== undefined) {
        process.stderr.write(`steward demo cluster: cannot start redis-server (${failed.message}); install it (apt-get install redis-server) or pass --redis URL\n`)
        return 1
      }
      redisUrl = `redis://127.0.0.1:${port}`
    }
    // A server just started answers within a few seconds: the PING waits, reconnecting every 100 ms.
    const client = new Redis(redisUrl, { maxRetriesPerRequest: 100, retryStrategy: (times) => (times > 100 ? null : 100) })
    client.on('error', () => {})
    admin.client = client
    try {
      await client.ping()
    } catch (error) {
      process.stderr.write(`steward demo cluster: no Redis answers at ${redisUrl}: ${(error as Error).message}\n`)
      return 1
    }
    say(server === undefined ? `Redis at ${redisUrl}, namespace ${namespace}` : `redis-server started on ${redisUrl.slice('redis://'.length)} for the demo (AOF on)`)

    /** Each node's last view: members seen, wards assigned, wards held with their progress. */
    const views = new Map<string, { members: number; assigned: number; held: Array<{ ward: string; progress?: string; checkpointed?: string }> }>()
    /** The node killed, once it is chosen. */
    const chosen: { victim?: string } = {}
    let killedAt = 0
    const moving = new Map<string, string>()
    let allMoved: () => void = () => {}
    const moved = new Promise<void>((resolve) => (allMoved = resolve))
    const onReport = (report: Report): void => {
      if (json && report.type !== 'view') write(JSON.stringify({ t: Math.round(performance.now() - started), ...report }))
      if (report.type === 'view') return void views.set(report.node, report as unknown as { members: number; assigned: number; held: Array<{ ward: string; progress?: string }> })
      if (report.type === 'joined') say(`node ${report.node} joined (epoch ${String(report.epoch)})`)
      const victim = chosen.victim
      if (report.type === 'claimed' && victim !== undefined && moving.has(String(report.ward))) {
        const from = report.from as { node: string } | null
        if (from?.node !== victim) return
        moving.delete(String(report.ward))
        const resume = typeof report.resume === 'string' ? (JSON.parse(report.resume) as number) : 0
        say(`${String(report.ward)}: claimed by ${report.node} from dead ${victim} (token ${String(report.token)}), resumes at ${resume}`)
        if (moving.size === 0) allMoved()
      }
      if (report.type === 'lease-lost') say(`node ${report.node} lost its lease (${String(report.why)}); it rejoins`)
    }
    const exits: Array<Promise<unknown>> = []
    for (const name of NODES) {
      const env = { ...process.env, STEWARD_DEMO_CLUSTER_NODE: JSON.stringify({ node: name, redis: redisUrl, namespace }) }
      const child = spawn(process.execPath, [...process.execArgv, process.argv[1]!, 'demo', 'cluster'], { env, stdio: ['ignore', 'pipe', 'inherit'] })
      nodes.set(name, child)
      exits.push(new Promise((resolve) => child.once('exit', resolve)))
      createInterface({ input: child.stdout }).on('line', (line) => {
        try {
          onReport(JSON.parse(line) as Report)
        } catch {
          // not a report
        }
      })
    }
    const aborted = new Promise<never>((_, reject) => {
      if (controller.signal.aborted) reject(controller.signal.reason as Error)
      controller.signal.addEventListener('abort', () => reject(controller.signal.reason as Error), { once: true })
    })
    aborted.catch(() => {})
    // Settled: every node sees all three, holds exactly what it is assigned, each ward once, and
    // every ward has counted (and checkpointed) ten inputs.
    const settleBy = performance.now() + SETTLE_WITHIN
    for (;;) {
      const reports = NODES.map((name) => views.get(name))
      const held = reports.flatMap((view) => view?.held ?? [])
      if (reports.every((view) => view !== undefined && view.members === NODES.length && view.held.length === view.assigned) && held.length === WARDS && new Set(held.map((w) => w.ward)).size === WARDS && held.every((w) => Number(w.checkpointed ?? 0) >= 10)) break
      if (performance.now() > settleBy) throw new Error(`the nodes did not settle within ${SETTLE_WITHIN / 1000} s: ${JSON.stringify(Object.fromEntries(views))}`)
      await Promise.race([new Promise((resolve) => setTimeout(resolve, 100)), aborted])
    }
    const counts = NODES.map((name) => `${name} ${views.get(name)!.held.length}`)
    say(`${WARDS} wards running: ${counts.join(', ')}`, { type: 'settled', held: Object.fromEntries(NODES.map((name) => [name, views.get(name)!.held.map((w) => w.ward)])) })
    const victim = [...NODES].sort((x, y) => views.get(y)!.held.length - views.get(x)!.held.length)[0]!
    chosen.victim = victim
    const victimWards = views.get(victim)!.held
    for (const ward of victimWards) moving.set(ward.ward, victim)
    say(`kill -9 node ${victim}, holding ${victimWards.map((w) => `${w.ward} (at ${w.progress ?? 0})`).join(', ')}`, { type: 'kill', victim, wards: victimWards.map((w) => w.ward) })
    killedAt = performance.now()
    nodes.get(victim)!.kill('SIGKILL')
    await Promise.race([moved, aborted])
    const failover = performance.now() - killedAt
    say(`every ward of ${victim} runs again on the others: failover ${(failover / 1000).toFixed(2)} s (leaseTtl ${LEASE_TTL / 1000} s, then a beat to notice, then the claim)`, { type: 'failover', victim, ms: Math.round(failover) })
    for (const [name, child] of nodes) if (name !== victim) child.kill('SIGTERM')
    await Promise.race([Promise.all(exits), aborted])
    say('the other nodes stopped gracefully: each handed its wards over and left', { type: 'stopped' })
    return 0
  } catch (error) {
    process.stderr.write(`steward demo cluster: ${(error as Error).message}\n`)
    return controller.signal.aborted ? (controller.signal.reason as Error).message.includes('SIGINT') ? 130 : 143 : 1
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
    for (const child of nodes.values()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await Promise.all([...nodes.values()].map((child) => (child.exitCode === null && child.signalCode === null ? new Promise((resolve) => child.once('exit', resolve)) : Promise.resolve())))
    if (admin.client !== undefined) {
      // On a Redis of the user's, the demo's keys go with it.
      if (server === undefined && admin.client.status === 'ready') {
        for (const pattern of [`{${namespace}}*`, `{${namespace}:*`]) {
          const keys = await admin.client.keys(pattern).catch(() => [] as string[])
          if (keys.length > 0) await admin.client.del(...keys).catch(() => 0)
        }
      }
      admin.client.disconnect()
    }
    if (server !== undefined && server.exitCode === null) {
      server.kill('SIGTERM')
      await new Promise((resolve) => server!.once('exit', resolve))
    }
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true })
  }
}
