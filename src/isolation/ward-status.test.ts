// A process ward's status carries its child's pid, uptime, and its process group's RSS and CPU
// time, read from /proc; a thread ward's its worker's threadId. Checked against /proc itself.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { StewardEvent } from '../observe/events.js'
import { steward } from '../steward/steward.js'
import { liveChildren, processWard } from './process-ward.js'
import { liveWorkers, threadWard } from './thread-ward.js'
import { hasProc } from './process-group.js'
import { usageSampler, usageScans } from './memory-sampler.js'
import { supervisor } from '../tree/supervisor.js'

const child = fileURLToPath(new URL('../../test/fixtures/child.mjs', import.meta.url))
const fixtures = new URL('../../test/fixtures/thread-wards.mjs', import.meta.url)
const linux = { skip: hasProc ? false : 'needs /proc' }

async function until<T>(what: string, value: () => T | undefined, within = 20_000): Promise<T> {
  const deadline = performance.now() + within
  for (;;) {
    const got = value()
    if (got !== undefined) return got
    if (performance.now() > deadline) throw new Error(`no ${what} within ${within} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

/** `/proc/<pid>/status`'s VmRSS in bytes, and `/proc/<pid>/stat`'s process group. */
function proc(pid: number): { rss: number; pgrp: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'latin1')
  const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
  return {
    rss: Number(/VmRSS:\s+(\d+)/.exec(status)![1]) * 1024,
    pgrp: Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[2]),
  }
}

test("a process ward's status: its child's pid, uptime, its group's RSS and CPU seconds as /proc has them; all null once it stopped", { timeout: 60_000, ...linux }, async () => {
  const spawned: number[] = []
  const run = steward(processWard(process.execPath, [child, 'beats'], { heartbeat: 'ipc' }), { name: 'w', timeout: '10s', startTimeout: '10s' }).start({
    onEvent: (event: StewardEvent) => void (event.type === 'spawned' && event.pid !== undefined && spawned.push(event.pid)),
  })
  try {
    const pid = await until('a pid in status', () => run.status().pid ?? undefined)
    assert.deepEqual(spawned, [pid], "the pid of the child's spawned event")
    assert.equal(proc(pid).pgrp, pid, 'the child leads its own process group')
    // CPU: a Node child's boot takes some; wait until the sample shows it.
    const status = await until('CPU time in status', () => {
      const now = run.status()
      return now.cpu !== null && now.cpu > 0 ? now : undefined
    })
    assert.equal(status.pid, pid)
    assert.equal(status.threadId, null)
    assert.ok(status.cpu! < 60, `cpu seconds: ${status.cpu}`)
    const rss = proc(pid).rss
    assert.ok(status.rss! > rss / 2 && status.rss! < rss * 2, `status rss ${status.rss} beside /proc's ${rss}`)
    assert.ok(status.uptime !== null && status.uptime >= 0, `uptime ${status.uptime}`)
    const later = await until('uptime growing', () => {
      const now = run.status()
      return now.uptime! > status.uptime! ? now : undefined
    })
    assert.equal(later.pid, pid)
  } finally {
    await run.stop()
  }
  const stopped = run.status()
  assert.deepEqual([stopped.pid, stopped.rss, stopped.cpu, stopped.uptime], [null, null, null, null])
  assert.equal(liveChildren.size, 0)
})

test("a thread ward's status: its worker's threadId, no pid, RSS or CPU; null once it stopped", { timeout: 60_000 }, async () => {
  const ids: number[] = []
  const run = steward(threadWard(fixtures, { export: 'beatsUntilStopped' }), { name: 't', timeout: '10s', startTimeout: '10s' }).start({
    onEvent: (event: StewardEvent) => void (event.type === 'spawned' && event.threadId !== undefined && ids.push(event.threadId)),
  })
  try {
    const threadId = await until('a threadId in status', () => run.status().threadId ?? undefined)
    assert.deepEqual(ids, [threadId])
    const status = run.status()
    assert.deepEqual([status.pid, status.rss, status.cpu], [null, null, null])
  } finally {
    await run.stop()
  }
  assert.equal(run.status().threadId, null)
  assert.equal(liveWorkers.size, 0)
})

test("a process ward's status: its open fds and start time as /proc has them, null once it stopped", { timeout: 60_000, ...linux }, async () => {
  let spawnedAt = 0
  const run = steward(processWard(process.execPath, [child, 'beats'], { heartbeat: 'ipc' }), { name: 'w', timeout: '10s', startTimeout: '10s' }).start({
    onEvent: (event: StewardEvent) => void (event.type === 'spawned' && (spawnedAt = Date.now() / 1000)),
  })
  try {
    const pid = await until('a pid in status', () => run.status().pid ?? undefined)
    // stdin, stdout, stderr, the IPC channel and Node's own (epoll, eventfds…): the count /proc has.
    // A booting Node opens more as it goes and a status may be a second old, so the status must
    // agree exactly once the child's count has held still for longer than a status can be old.
    let last = ''
    let steady = { fds: -1, since: 0 }
    const status = await until("fds in status equal to /proc's settled count", () => {
      const fds = readdirSync(`/proc/${pid}/fd`).length
      if (fds !== steady.fds) steady = { fds, since: performance.now() }
      const now = run.status()
      last = `status ${now.fds}, /proc ${fds} for ${Math.round(performance.now() - steady.since)} ms`
      return performance.now() - steady.since > usageSampler.every + 200 && now.fds === fds ? now : undefined
    }).catch((error: Error) => assert.fail(`${error.message}; last: ${last}`))
    assert.ok(status.fds! >= 4, `fds ${status.fds}`)
    assert.ok(status.startTime !== null && Math.abs(status.startTime - spawnedAt) < 2, `start time ${status.startTime}, spawned at ${spawnedAt}`)
  } finally {
    await run.stop()
  }
  const stopped = run.status()
  assert.deepEqual([stopped.fds, stopped.startTime], [null, null])
})

test('one /proc scan per status however many process wards, and none while the last one is fresh', { timeout: 60_000, ...linux }, async () => {
  const wards = 5
  const run = supervisor(
    { name: 'many' },
    Array.from({ length: wards }, (_, i) => ({ name: `s${i}`, ward: processWard('sleep', ['60'], { heartbeat: 'none' }) })),
  ).start()
  const every = usageSampler.every
  try {
    await until('every ward with its figures', () => (run.status().children.every((ward) => ward.fds !== null && ward.startTime !== null) ? true : undefined))
    usageSampler.every = 60_000
    const fresh = usageScans.count
    for (let i = 0; i < 10; i++) assert.equal(run.status().children.filter((ward) => ward.rss !== null).length, wards)
    assert.equal(usageScans.count - fresh, 0, 'statuses within the interval read the last scan')
    usageSampler.every = 0
    const before = usageScans.count
    for (let i = 0; i < 3; i++) {
      run.status()
      await new Promise((resolve) => setImmediate(resolve))
    }
    assert.equal(usageScans.count - before, 3, `one scan per status for ${wards} wards, not one per ward`)
  } finally {
    usageSampler.every = every
    await run.stop()
  }
  assert.equal(liveChildren.size, 0)
})
