// The cluster group: failover after kill -9 (real node processes), Redis round trips per node
// per second at 100 and 10,000 wards per node, and claims per second when a node joins.
// Runs its own redis-server on a free loopback port.
import { spawn, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { Redis } from 'ioredis'
import { cluster, type ClusterNode } from '../src/cluster/index.js'
import { steward } from '../src/steward/steward.js'
import { RedisServer } from '../src/testing/redis-server.js'
import { waitFor } from '../src/testing/wait.js'
import { RedisStore } from '../src/cluster/redis-store.js'
import { assign, Rendezvous } from '../src/cluster/assign.js'
import { percentile, type Figures } from './figure.js'

const quick = process.argv.includes('--quick')
const LEASE_TTL = 1_500
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

/** A ward that waits for input forever (until its run stops). */
const idleWard = steward(async (ctx) => {
  await ctx.idle(
    (signal) =>
      new Promise<void>((_, reject) => {
        signal.addEventListener('abort', () => reject(signal.reason as Error), { once: true })
      }),
  )
})

function node(server: RedisServer, namespace: string, name: string): ClusterNode {
  return cluster({ redis: server.url, namespace, node: name, leaseTtl: LEASE_TTL, ward: () => idleWard })
}

/** Redis round trips of one node per second with `wards` wards held, after they settled. */
async function opsPerNode(server: RedisServer, wards: number): Promise<{ calls: number; commands: number }> {
  const namespace = `ops-${wards}`
  const one = node(server, namespace, 'only')
  const admin = new Redis(server.port, '127.0.0.1')
  try {
    await one.ready
    await one.add(Array.from({ length: wards }, (_, i) => `w${i}`))
    await waitFor(`${wards} wards claimed`, () => one.status().wards.length === wards, 120_000, 50)
    await sleep(LEASE_TTL)
    const window = quick ? 3_000 : 6_000
    const calls0 = one.metrics()['cluster.redis_calls_total']!
    const commands0 = commandsProcessed(await admin.info('stats'))
    await sleep(window)
    const calls = ((one.metrics()['cluster.redis_calls_total']! - calls0) * 1_000) / window
    const commands = ((commandsProcessed(await admin.info('stats')) - commands0 - 1) * 1_000) / window
    return { calls, commands }
  } finally {
    await one.stop()
    admin.disconnect()
  }
}

function commandsProcessed(info: string): number {
  return Number(/total_commands_processed:(\d+)/.exec(info)![1])
}

/** Claims per second when a second node joins a node holding `wards` wards. */
async function claimsWhenJoining(server: RedisServer, wards: number): Promise<{ perSecond: number; moved: number; ms: number }> {
  const namespace = `join-${wards}`
  const first = node(server, namespace, 'first')
  let second: ClusterNode | undefined
  try {
    await first.ready
    await first.add(Array.from({ length: wards }, (_, i) => `w${i}`))
    await waitFor('the first node to hold every ward', () => first.status().wards.length === wards, 120_000, 50)
    const joinedAt = performance.now()
    second = node(server, namespace, 'second')
    await second.ready
    await waitFor('the moved wards to run on the second node', () => {
      const status = second!.status()
      const expected = status.members.find((member) => member.node === 'second')?.assigned
      return expected !== undefined && expected > 0 && status.wards.length === expected && first.status().wards.length === wards - expected
    }, 120_000, 50)
    const ms = performance.now() - joinedAt
    const moved = second.status().wards.length
    return { perSecond: (moved * 1_000) / ms, moved, ms }
  } finally {
    await second?.stop()
    await first.stop()
  }
}

function startProcess(name: string, port: number, namespace: string, commit: boolean, every = 200): { child: ChildProcess; ready: Promise<void> } {
  const config = { ports: [port], namespace, node: name, leaseTtl: LEASE_TTL, checkpointEvery: 300, every, quiet: true, commit }
  const child = spawn(process.execPath, ['--import', 'tsx', 'test/fixtures/cluster-node.ts'], {
    env: { ...process.env, STEWARD_TEST_CLUSTER: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  // Ready when it says so; a node that exits first, or says nothing within a minute, fails the group (no hang).
  const ready = new Promise<void>((resolve, reject) => {
    const late = setTimeout(() => reject(new Error(`node ${name} not ready within 60 s`)), 60_000)
    child.once('exit', (code, signal) => reject(new Error(`node ${name} exited (${signal ?? code}) before it was ready`)))
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (!line.includes('"type":"ready"')) return
      clearTimeout(late)
      resolve()
    })
  })
  ready.catch(() => {})
  return { child, ready }
}

/**
 * Milliseconds from kill -9 of a node to each of its wards running again elsewhere (a fenced
 * write under a newer token), and the inputs whose effect was applied twice: with `commit`, the
 * committed effects (`lease.commit`); without, the plain fenced log writes (at least once).
 */
async function failover(server: RedisServer, trial: number, wards: number, commit: boolean): Promise<{ times: number[]; duplicates: number }> {
  const namespace = `failover-${trial}`
  const admin = new Redis(server.port, '127.0.0.1')
  const store = new RedisStore(admin, namespace)
  const processes = ['a', 'b', 'c'].map((name) => startProcess(name, server.port, namespace, commit))
  try {
    await Promise.all(processes.map((p) => p.ready))
    const ids = Array.from({ length: wards }, (_, i) => `w${i}`)
    await store.addWards(ids)
    const owners = async (): Promise<Array<[string | null, string | null]>> => Promise.all(ids.map((id) => admin.hmget(store.keys.ward(id), 'node', 'token') as Promise<[string | null, string | null]>))
    await waitFor('every ward owned', async () => (await owners()).every(([owner]) => owner !== null && owner !== ''), 60_000, 50)
    await sleep(LEASE_TTL)
    const before = await owners()
    const victims = ids.filter((_, i) => before[i]![0] === 'c')
    const killedAt = performance.now()
    processes[2]!.child.kill('SIGKILL')
    const back = new Map<string, number>()
    await waitFor("the victim's wards running again", async () => {
      const lasts = await Promise.all(victims.map((id) => admin.lindex(store.keys.user(id, 'log'), -1)))
      const now = performance.now()
      victims.forEach((id, i) => {
        const token = Number(lasts[i]?.split(':')[1] ?? 0)
        if (!back.has(id) && token > Number(before[ids.indexOf(id)]![1])) back.set(id, now - killedAt)
      })
      return back.size === victims.length
    }, 30_000, 50)
    // Each victim runs three inputs under its new token before the duplicates are counted.
    const after = async (): Promise<string[][]> => Promise.all(victims.map((id) => admin.lrange(store.keys.user(id, 'log'), 0, -1)))
    await waitFor('three inputs of each victim under its new token', async () => (await after()).every((log, i) => log.filter((e) => e.startsWith('p:') && Number(e.split(':')[1]) > Number(before[ids.indexOf(victims[i]!)]![1])).length >= 3), 30_000, 50)
    let duplicates = 0
    if (commit) {
      for (const id of victims) for (const count of Object.values(await admin.hgetall(store.keys.user(id, 'applied')))) duplicates += Number(count) - 1
    } else {
      for (const log of await after()) {
        const positions = log.filter((e) => e.startsWith('p:')).map((e) => e.split(':')[2])
        duplicates += positions.length - new Set(positions).size
      }
    }
    return { times: [...back.values()], duplicates }
  } finally {
    for (const p of processes) {
      p.child.kill('SIGKILL')
    }
    admin.disconnect()
  }
}

/** Fenced checkpoints per second one Redis primary accepts (many in flight, as the nodes send them). */
async function checkpointThroughput(server: RedisServer): Promise<number> {
  const admin = new Redis(server.port, '127.0.0.1')
  const store = new RedisStore(admin, 'throughput')
  try {
    const wards = Array.from({ length: 1_000 }, (_, i) => `w${i}`)
    const time = await store.renew('none', 0, 1, false)
    await Promise.all(wards.map((ward) => store.claim(ward, 'bench', 1, time.time + 60_000)))
    const rounds = quick ? 10 : 40
    const started = performance.now()
    for (let round = 1; round <= rounds; round++) {
      await Promise.all(wards.map((ward) => store.checkpoint(ward, 1, round, { progress: String(round), failures: 0 })))
    }
    return (wards.length * rounds * 1_000) / (performance.now() - started)
  } finally {
    admin.disconnect()
  }
}

/**
 * Milliseconds from kill -9 of a node process holding about `wards` wards (of twice as many, the
 * rest on an in-process node) until the other node runs every one of them (its claims from the
 * dead node); and the leaseTtl + beat it is judged against.
 */
async function failoverOfMany(server: RedisServer, wards: number): Promise<{ ms: number; victims: number }> {
  const namespace = `many-${wards}`
  const admin = new Redis(server.port, '127.0.0.1')
  const store = new RedisStore(admin, namespace)
  // The victim's wards log their start, then wait a minute per input: the node, not its wards, is measured.
  const victim = startProcess('victim', server.port, namespace, false, 60_000)
  const survivor = cluster({ redis: server.url, namespace, node: 'survivor', leaseTtl: LEASE_TTL, ward: () => idleWard })
  try {
    await Promise.all([victim.ready, survivor.ready])
    const ids = Array.from({ length: 2 * wards }, (_, i) => `w${i}`)
    await store.addWards(ids)
    const owners = async (): Promise<Array<string | null>> => {
      const pipeline = admin.pipeline()
      for (const id of ids) pipeline.hget(store.keys.ward(id), 'node')
      return ((await pipeline.exec()) ?? []).map(([, owner]) => owner as string | null)
    }
    await waitFor('every ward owned by the victim or the survivor', async () => (await owners()).every((owner) => owner === 'victim' || owner === 'survivor'), 120_000, 200)
    await waitFor('the survivor running its share', () => survivor.status().wards.length === survivor.status().members.find((m) => m.node === 'survivor')?.assigned, 120_000, 50)
    const held = (await owners()).filter((owner) => owner === 'victim').length
    const killedAt = performance.now()
    victim.child.kill('SIGKILL')
    // (A claim whose reply was lost and that is claimed again answers "already yours", without `from`: the count of wards run is what tells.)
    await waitFor("every ward of the killed node running on the survivor", () => survivor.status().wards.length === ids.length, 60_000, 5)
    return { ms: performance.now() - killedAt, victims: held }
  } finally {
    victim.child.kill('SIGKILL')
    await survivor.stop()
    admin.disconnect()
  }
}

/** Plain fenced writes and commits (the same effect, plus the checkpoint in the same script) per second on one primary, 1,000 in flight. */
async function commitThroughput(server: RedisServer): Promise<{ fenced: number; commits: number }> {
  const admin = new Redis(server.port, '127.0.0.1')
  const store = new RedisStore(admin, 'commits')
  const effect = "return redis.call('HINCRBY', KEYS[1], ARGV[1], 1)"
  try {
    const wards = Array.from({ length: 1_000 }, (_, i) => `w${i}`)
    const time = await store.renew('none', 0, 1, false)
    await Promise.all(wards.map((ward) => store.claim(ward, 'bench', 1, time.time + 60_000)))
    const rounds = quick ? 10 : 40
    const rate = async (write: (ward: string, round: number) => Promise<unknown>): Promise<number> => {
      const started = performance.now()
      for (let round = 1; round <= rounds; round++) await Promise.all(wards.map((ward) => write(ward, round)))
      return (wards.length * rounds * 1_000) / (performance.now() - started)
    }
    const fenced = await rate((ward, round) => store.fenced(ward, 1, effect, [store.keys.user(ward, 'fenced')], [round]))
    const commits = await rate((ward, round) => store.commit(ward, 1, round, String(round), effect, [store.keys.user(ward, 'applied')], [round]))
    return { fenced, commits }
  } finally {
    admin.disconnect()
  }
}

/** Milliseconds for one assignment of `wards` wards over `nodes` nodes (no Redis: the pure function). */
function assignMs(wards: number, nodes: number): number {
  const ids = Array.from({ length: wards }, (_, i) => `w${i}`)
  const members = Array.from({ length: nodes }, (_, i) => ({ node: `n${i}`, epoch: 0 }))
  const start = performance.now()
  assign(ids, members)
  return performance.now() - start
}

/** Milliseconds for a node's assignment to follow one join, then one leave, of `wards` wards over `nodes` nodes (kept up to date, as the nodes do). */
function assignChangeMs(wards: number, nodes: number): { join: number; leave: number } {
  const ids = Array.from({ length: wards }, (_, i) => `w${i}`)
  const members = Array.from({ length: nodes }, (_, i) => ({ node: `n${i}`, epoch: 0 }))
  const kept = new Rendezvous()
  kept.update(ids, members)
  let start = performance.now()
  kept.update(ids, [...members, { node: 'joined', epoch: 0 }])
  const join = performance.now() - start
  start = performance.now()
  kept.update(ids, members.slice(1).concat({ node: 'joined', epoch: 0 }))
  return { join, leave: performance.now() - start }
}

export async function measure(): Promise<Figures> {
  const server = await RedisServer.start()
  const began = performance.now()
  /** Where the group is, on stderr (the bench shows it as a note): its parts take minutes together. */
  const step = (what: string): void => void process.stderr.write(`${what} at ${Math.round((performance.now() - began) / 1000)} s\n`)
  try {
    const figures: Figures = { 'cluster.lease_ttl_ms': { value: LEASE_TTL, unit: 'ms' } }
    figures['cluster.assign_1m_100_ms'] = { value: Math.round(assignMs(quick ? 100_000 : 1_000_000, 100)), unit: `ms (${quick ? '100k' : '1M'} wards, 100 nodes, from scratch)` }
    const change = assignChangeMs(quick ? 100_000 : 1_000_000, 100)
    figures['cluster.assign_join_1m_100_ms'] = { value: Math.round(change.join), unit: 'ms (a node joins: kept up to date)' }
    figures['cluster.assign_leave_1m_100_ms'] = { value: Math.round(change.leave), unit: 'ms (a node leaves: kept up to date)' }
    const times: number[] = []
    const lastOfTrial: number[] = []
    const duplicates = { plain: [] as number[], commit: [] as number[] }
    for (let trial = 0; trial < (quick ? 2 : 6); trial++) {
      const commit = trial % 2 === 1
      const result = await failover(server, trial, 150, commit)
      times.push(...result.times)
      lastOfTrial.push(Math.max(...result.times))
      duplicates[commit ? 'commit' : 'plain'].push(result.duplicates)
    }
    const mean = (values: number[]): number => values.reduce((a, b) => a + b, 0) / values.length
    figures['cluster.duplicates_per_failover.plain'] = { value: Number(mean(duplicates.plain).toFixed(1)), unit: 'inputs written twice (fenced writes, ~50 wards moved)' }
    figures['cluster.duplicates_per_failover.commit'] = { value: mean(duplicates.commit), unit: 'inputs applied twice (lease.commit, ~50 wards moved)' }
    step('failover trials done')
    const many = await failoverOfMany(server, quick ? 2_000 : 10_000)
    figures['cluster.failover_10k_ms'] = { value: Math.round(many.ms), unit: `ms (${many.victims} wards of a killed node; leaseTtl + beat = ${LEASE_TTL + LEASE_TTL / 3} ms)` }
    step('failover of 10,000 wards done')
    const throughput = await commitThroughput(server)
    figures['cluster.fenced_writes_per_s'] = { value: Math.round(throughput.fenced), unit: 'fenced writes/s (one primary)' }
    figures['cluster.commits_per_s'] = { value: Math.round(throughput.commits), unit: `commits/s (one primary; ${(throughput.commits / throughput.fenced).toFixed(2)}× fenced writes)` }
    figures['cluster.failover_ms.p50'] = { value: Math.round(percentile(times, 50)), unit: 'ms' }
    figures['cluster.failover_ms.p99'] = { value: Math.round(percentile(times, 99)), unit: 'ms' }
    figures['cluster.failover_all_ms.max'] = { value: Math.round(Math.max(...lastOfTrial)), unit: 'ms' }
    for (const wards of [100, quick ? 2_000 : 10_000]) {
      const { calls, commands } = await opsPerNode(server, wards)
      figures[`cluster.redis_ops_per_node_s.${wards}`] = { value: Number(calls.toFixed(2)), unit: 'round trips/s' }
      figures[`cluster.redis_commands_per_node_s.${wards}`] = { value: Number(commands.toFixed(2)), unit: 'commands/s' }
    }
    step('round trips per node done')
    figures['cluster.checkpoints_per_s'] = { value: Math.round(await checkpointThroughput(server)), unit: 'fenced writes/s (one primary)' }
    const join = await claimsWhenJoining(server, quick ? 1_000 : 4_000)
    figures['cluster.claims_per_s'] = { value: Math.round(join.perSecond), unit: 'claims/s' }
    figures['cluster.rebalance_ms'] = { value: Math.round(join.ms), unit: `ms (${join.moved} wards moved)` }
    return figures
  } finally {
    await server.stop()
  }
}
