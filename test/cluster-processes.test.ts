// steward/cluster with real node processes on a real Redis (a server, then a 3-master Redis
// Cluster): 300 wards logging every input with their fencing token. kill -9 of a node, SIGSTOP
// past the lease, a Redis restart, a fourth node joining; then an audit of every log.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { Cluster, Redis } from 'ioredis'
import { RedisServer, startRedisCluster, until } from '../src/testing/redis-server.js'
import { RedisStore } from '../src/cluster/redis-store.js'
import { assign } from '../src/cluster/assign.js'

const WARDS = 300
const LEASE_TTL = 1_500
const BEAT = 500
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
const wardIds = Array.from({ length: WARDS }, (_, i) => `w${i}`)

interface NodeProcess {
  readonly name: string
  readonly child: ChildProcess
  readonly events: Array<Record<string, unknown>>
  readonly exited: Promise<unknown>
}

function startNode(name: string, ports: number[], namespace: string): NodeProcess {
  const config = { ports, namespace, node: name, leaseTtl: LEASE_TTL, beat: BEAT, checkpointEvery: 300, every: 250, quiet: true }
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/cluster-node.ts'], {
    env: { ...process.env, STEWARD_TEST_CLUSTER: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const events: Array<Record<string, unknown>> = []
  createInterface({ input: child.stdout }).on('line', (line) => {
    try {
      events.push(JSON.parse(line) as Record<string, unknown>)
    } catch {
      // not ours
    }
  })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  return { name, child, events, exited }
}

interface Entry {
  readonly kind: 's' | 'p'
  readonly token: number
  readonly position: number
}

function parse(entries: readonly string[]): Entry[] {
  return entries.map((text) => {
    const [kind, token, position] = text.split(':')
    return { kind: kind as 's' | 'p', token: Number(token), position: Number(position) }
  })
}

/** The audit: tokens never go back in a ward's log (a stale owner's write was never accepted), each owner runs its inputs in order from its resume point, resume points never go back, and none skips an input. */
function audit(ward: string, entries: readonly Entry[]): string[] {
  const problems: string[] = []
  let token = 0
  let expected = -1
  let highest = -1
  let lastResume = -1
  for (const entry of entries) {
    if (entry.token < token) problems.push(`${ward}: a write of token ${entry.token} after token ${token}`)
    if (entry.kind === 's') {
      if (entry.token <= token && token !== 0) problems.push(`${ward}: token ${entry.token} started twice or after a newer one`)
      if (entry.position < lastResume) problems.push(`${ward}: resume went back from ${lastResume} to ${entry.position}`)
      if (entry.position > highest + 1) problems.push(`${ward}: inputs ${highest + 1}..${entry.position - 1} skipped (resume ${entry.position})`)
      lastResume = entry.position
      token = entry.token
      expected = entry.position
      continue
    }
    if (entry.token !== token) {
      // A restart of the ward under the same lease (a steward restart) begins with no 's'.
      problems.push(`${ward}: input of token ${entry.token} without its start`)
      token = entry.token
    }
    if (entry.position !== expected && !(entry.position < expected && entry.position >= lastResume)) problems.push(`${ward}: token ${entry.token} ran input ${entry.position}, expected ${expected}`)
    expected = entry.position + 1
    highest = Math.max(highest, entry.position)
  }
  return problems
}

async function scenario(kind: 'server' | 'cluster'): Promise<void> {
  const namespace = `t-${kind}`
  const single = kind === 'server' ? await RedisServer.start() : undefined
  const multi = kind === 'cluster' ? await startRedisCluster() : undefined
  const ports = single !== undefined ? [single.port] : multi!.servers.map((server) => server.port)
  const admin: Redis | Cluster = single !== undefined ? new Redis(single.port, '127.0.0.1', { maxRetriesPerRequest: 1 }) : new Cluster(ports.map((port) => ({ host: '127.0.0.1', port })))
  admin.on('error', () => {})
  const store = new RedisStore(admin, namespace)
  const nodes = new Map<string, NodeProcess>()
  const owners = async (): Promise<Array<{ node: string; token: number }>> =>
    Promise.all(wardIds.map(async (ward) => {
      const [node, token] = await admin.hmget(store.keys.ward(ward), 'node', 'token')
      return { node: node ?? '', token: Number(token ?? 0) }
    }))
  const logs = async (): Promise<Map<string, Entry[]>> => {
    const all = await Promise.all(wardIds.map((ward) => admin.lrange(store.keys.user(ward, 'log'), 0, -1)))
    return new Map(wardIds.map((ward, i) => [ward, parse(all[i]!)]))
  }
  /** Each ward's checkpoint now: a later owner must resume at or after it. */
  const checkpoints = async (): Promise<Array<{ token: number; progress: number }>> =>
    Promise.all(wardIds.map(async (ward) => {
      const [token, progress] = await admin.hmget(store.keys.ward(ward), 'token', 'progress')
      return { token: Number(token ?? 0), progress: progress === null || progress === '' ? 0 : Number(progress) }
    }))
  const checkResumes = async (seen: Array<{ token: number; progress: number }>, what: string): Promise<void> => {
    const entries = await logs()
    const now = await checkpoints()
    wardIds.forEach((ward, i) => {
      assert.ok(now[i]!.progress >= seen[i]!.progress || now[i]!.token === seen[i]!.token, `${ward}: its checkpoint went back from ${seen[i]!.progress} to ${now[i]!.progress} (${what})`)
      const later = entries.get(ward)!.find((e) => e.kind === 's' && e.token > seen[i]!.token)
      if (later !== undefined) assert.ok(later.position >= seen[i]!.progress, `${ward}: token ${later.token} resumed at ${later.position}, before the checkpoint ${seen[i]!.progress} (${what})`)
    })
  }
  const staleWrites = (): number => [...nodes.values()].reduce((n, node) => n + node.events.filter((e) => e.type === 'stale-write').length, 0)
  /** The stale-write events, with their node, for an assertion's message. */
  const staleList = (): string =>
    JSON.stringify([...nodes.values()].flatMap((node) => node.events.filter((e) => e.type === 'stale-write').map((e) => ({ node: node.name, ...e }))))
  const starts = (entries: Map<string, Entry[]>): number => [...entries.values()].reduce((n, list) => n + list.filter((e) => e.kind === 's').length, 0)
  try {
    for (const name of ['a', 'b', 'c']) nodes.set(name, startNode(name, ports, namespace))
    await until(() => [...nodes.values()].every((node) => node.events.some((e) => e.type === 'ready')), 30_000, 'three nodes ready')
    await store.addWards(wardIds)
    await until(async () => (await owners()).every((o) => o.node !== ''), 30_000, 'every ward owned')
    await until(async () => [...(await logs()).values()].every((list) => list.length >= 2), 30_000, 'every ward running')

    // kill -9 one node: its wards resume on the others within leaseTtl + a beat + restart time.
    const before = await owners()
    const beforeKill = await checkpoints()
    const victims = wardIds.filter((_, i) => before[i]!.node === 'c')
    assert.ok(victims.length > 50, `c held ${victims.length} wards`)
    const killedAt = Date.now()
    nodes.get('c')!.child.kill('SIGKILL')
    await nodes.get('c')!.exited
    nodes.delete('c')
    await until(async () => {
      const entries = await logs()
      return victims.every((ward) => {
        const i = wardIds.indexOf(ward)
        const list = entries.get(ward)!
        return list.some((e) => e.kind === 'p' && e.token > before[i]!.token)
      })
    }, 20_000, "c's wards running elsewhere")
    const failover = Date.now() - killedAt
    console.log(`# ${kind}: kill -9 of a node holding ${victims.length} wards → every one running again after ${failover} ms (leaseTtl ${LEASE_TTL} ms, beat ${BEAT} ms)`)
    assert.ok(failover < LEASE_TTL + BEAT + 4_000, `failover took ${failover} ms`)
    await checkResumes(beforeKill, 'after kill -9')
    assert.equal(staleWrites(), 0, `no node tried to write under a lease it had lost: ${staleList()}`)

    // SIGSTOP one node past its lease, then SIGCONT: it stops its wards itself; its late writes are refused.
    const b = nodes.get('b')!
    const bWards = (await owners()).filter((o) => o.node === 'b').length
    const beforeStop = await checkpoints()
    b.child.kill('SIGSTOP')
    await sleep(LEASE_TTL * 2.5)
    const whileStopped = await owners()
    assert.equal(whileStopped.filter((o) => o.node === 'b').length, 0, 'every ward of the stopped node was claimed by another')
    const lostBefore = b.events.filter((e) => e.type === 'lease-lost').length
    const wokenAt = Date.now()
    b.child.kill('SIGCONT')
    await until(() => b.events.filter((e) => e.type === 'lease-lost').length > lostBefore, 10_000, 'the woken node to find its lease lost')
    assert.ok(bWards > 0)
    await until(async () => (await owners()).some((o) => o.node === 'b'), 20_000, 'the woken node to rejoin and claim its wards again')
    await checkResumes(beforeStop, 'after SIGSTOP')
    // It stopped its wards at its local deadline: it issued no write after waking. A write already
    // on its way when it was stopped reaches Redis after the lease moved on, and Redis refuses it.
    const late = b.events.filter((e) => e.type === 'refused-write' && Number(e.issuedAt) >= wokenAt)
    assert.deepEqual(late, [], 'the woken node issued no write under its lost lease')
    const inFlight = b.events.filter((e) => e.type === 'refused-write').length
    if (inFlight > 0) console.log(`# ${kind}: ${inFlight} write(s) on their way when the node stopped, refused by Redis`)

    // Restart Redis: the nodes reconnect and carry on.
    if (single !== undefined) {
      const progressBefore = await logs()
      await single.kill()
      await sleep(500)
      await single.launch()
      await until(async () => {
        const entries = await logs()
        return wardIds.every((ward) => entries.get(ward)!.length > progressBefore.get(ward)!.length + 1)
      }, 30_000, 'every ward to make progress after the Redis restart')
    } else {
      const progressBefore = await logs()
      const server = multi!.servers[1]!
      await server.kill()
      await sleep(500)
      await server.launch()
      await until(async () => {
        try {
          const entries = await logs()
          return wardIds.every((ward) => entries.get(ward)!.length > progressBefore.get(ward)!.length + 1)
        } catch {
          return false
        }
      }, 40_000, 'every ward to make progress after a Redis master restart')
    }

    // A fourth node joins: only the wards that move to it restart.
    await until(async () => (await owners()).every((o) => o.node !== ''), 20_000, 'every ward owned again')
    await sleep(LEASE_TTL)
    const settled = await owners()
    const startsBefore = starts(await logs())
    const live = [...nodes.keys()].map((node) => ({ node, epoch: 0 }))
    const expected = assign(wardIds, [...live, { node: 'd', epoch: 0 }])
    const moving = wardIds.filter((ward) => expected.get(ward) === 'd')
    const misplaced = wardIds.filter((ward, i) => expected.get(ward) !== 'd' && settled[i]!.node !== expected.get(ward))
    const staleBeforeD = staleWrites()
    nodes.set('d', startNode('d', ports, namespace))
    await until(async () => (await owners()).filter((o) => o.node === 'd').length === moving.length, 20_000, 'the moving wards on the new node')
    await sleep(BEAT * 2)
    const restarted = starts(await logs()) - startsBefore
    assert.equal(staleWrites(), staleBeforeD, `no stale write while the new node took its wards over: ${staleList()}`)
    assert.equal(restarted, moving.length + misplaced.length, `${restarted} restarts for ${moving.length} moving wards (+${misplaced.length} not yet home)`)

    // The audit over every log.
    const entries = await logs()
    const problems = wardIds.flatMap((ward) => audit(ward, entries.get(ward)!))
    assert.deepEqual(problems.slice(0, 10), [], `${problems.length} problems`)
  } finally {
    for (const node of nodes.values()) {
      node.child.kill('SIGCONT')
      node.child.kill('SIGKILL')
      await node.exited
    }
    admin.disconnect()
    await single?.stop()
    await multi?.stop()
  }
}

test('three node processes, 300 wards on one Redis: kill -9, SIGSTOP past the lease, a Redis restart, a fourth node; the audit holds', { timeout: 180_000 }, () => scenario('server'))
test('the same on a 3-master Redis Cluster', { timeout: 180_000 }, () => scenario('cluster'))
