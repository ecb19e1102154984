// `steward demo cluster`: three node processes on a real Redis (its own redis-server, or --redis),
// one killed with SIGKILL; its wards are claimed by the others and resume from their checkpoints.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Redis } from 'ioredis'
import { runCli } from '../testing/cli.js'
import { RedisServer } from '../testing/redis-server.js'

test('steward demo cluster: the killed node’s wards are claimed by the others and resume where they were checkpointed; the nodes stop gracefully', { timeout: 120_000 }, async () => {
  const { code, stdout, stderr } = await runCli(['demo', 'cluster'], process.cwd(), process.env)
  assert.equal(code, 0, stderr)
  const lines = stdout.trimEnd().split('\n')
  assert.match(lines[0]!, /^cluster: 3 nodes share 12 wards on Redis/)
  const body = lines.slice(1).map((line) => line.replace(/^ +\d+\.\d{3}s {2}/, ''))
  assert.match(body[0]!, /^redis-server started on 127\.0\.0\.1:\d+ for the demo \(AOF on\)$/)
  assert.deepEqual(body.filter((line) => line.startsWith('node ') && line.includes('joined')).map((line) => line.slice(0, 6)).sort(), ['node a', 'node b', 'node c'])
  const running = body.find((line) => line.startsWith('12 wards running: '))
  const counts = /^12 wards running: a (\d+), b (\d+), c (\d+)$/.exec(running ?? '')
  assert.ok(counts, body.join('\n'))
  assert.equal(Number(counts[1]) + Number(counts[2]) + Number(counts[3]), 12)
  const kill = /^kill -9 node ([abc]), holding (.+)$/.exec(body.find((line) => line.startsWith('kill -9')) ?? '')
  assert.ok(kill, body.join('\n'))
  const victim = kill[1]!
  const at = new Map([...kill[2]!.matchAll(/(stream-\d+) \(at (\d+)\)/g)].map((m) => [m[1]!, Number(m[2])]))
  assert.equal(at.size, Number(counts[1 + 'abc'.indexOf(victim)]))
  const claims = body.flatMap((line) => {
    const m = /^(stream-\d+): claimed by ([abc]) from dead ([abc]) \(token (\d+)\), resumes at (\d+)$/.exec(line)
    return m === null ? [] : [{ ward: m[1]!, by: m[2]!, from: m[3]!, resume: Number(m[5]) }]
  })
  assert.deepEqual(claims.map((c) => c.ward).sort(), [...at.keys()].sort(), 'each ward of the victim claimed once')
  for (const claim of claims) {
    assert.equal(claim.from, victim)
    assert.notEqual(claim.by, victim)
    // It resumes from its checkpoint: at least the ten inputs counted before the kill, at most where it was.
    assert.ok(claim.resume >= 10 && claim.resume <= at.get(claim.ward)!, `${claim.ward} resumed at ${claim.resume}, was at ${at.get(claim.ward)}`)
  }
  assert.match(body.at(-2)!, new RegExp(`^every ward of ${victim} runs again on the others: failover \\d+\\.\\d\\d s`))
  assert.equal(body.at(-1), 'the other nodes stopped gracefully: each handed its wards over and left')
})

test('steward demo cluster --redis URL --json: the nodes’ events and the demo’s steps as JSON; the demo’s keys are deleted from that Redis; a bad flag exits 2', { timeout: 120_000 }, async () => {
  const server = await RedisServer.start()
  const admin = new Redis(server.port, '127.0.0.1')
  try {
    await admin.set('mine', 'kept')
    const { code, stdout, stderr } = await runCli(['demo', 'cluster', '--redis', server.url, '--json'], process.cwd(), process.env)
    assert.equal(code, 0, stderr)
    const events = stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as { type: string; node: string | null; victim?: string; wards?: string[] })
    const kill = events.find((e) => e.type === 'kill')!
    assert.ok(kill !== undefined && kill.wards!.length > 0)
    const claimedFromVictim = events.filter((e) => e.type === 'claimed' && (e as { from?: { node: string } | null }).from?.node === kill.victim)
    assert.deepEqual(claimedFromVictim.map((e) => (e as { ward?: string }).ward).sort(), [...kill.wards!].sort())
    assert.deepEqual(events.filter((e) => e.node === null).map((e) => e.type), ['settled', 'kill', 'failover', 'stopped'])
    assert.deepEqual(await admin.keys('*'), ['mine'], 'only the key that was there before')
    const bad = await runCli(['demo', 'cluster', '--redis', 'http://127.0.0.1:1'], process.cwd(), process.env)
    assert.equal(bad.code, 2)
    assert.match(bad.stderr, /--redis must be a redis:\/\/ URL, got 'http:\/\/127\.0\.0\.1:1'/)
  } finally {
    admin.disconnect()
    await server.stop()
  }
})
