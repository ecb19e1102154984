import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { ManualClock } from '../time/manual-clock.js'
import { hasProc } from './process-group.js'
import { MemorySampler, memoryScans } from './memory-sampler.js'
import { processWard } from './process-ward.js'
import { steward } from '../steward/steward.js'
import type { StewardEvent } from '../observe/events.js'
import { waitFor } from '../testing/wait.js'

const linux = { skip: hasProc ? false : 'reads /proc' }

/** `count` sleeping processes, each the leader of its own process group. */
function sleepers(count: number): ChildProcess[] {
  return Array.from({ length: count }, () => spawn('sleep', ['60'], { detached: true, stdio: 'ignore' }))
}

/** Waits until each child is `sleep` asleep (exec'd and loaded: a process still loading has a tiny RSS). */
async function asleep(children: ChildProcess[], within = 20_000): Promise<void> {
  const deadline = performance.now() + within
  const settled = (pid: number): boolean => {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
      return stat.includes('(sleep)') && stat.slice(stat.lastIndexOf(')') + 2).startsWith('S')
    } catch {
      return false
    }
  }
  while (!children.every((child) => settled(child.pid!))) {
    if (performance.now() > deadline) throw new Error(`the sleepers were not asleep within ${within} ms`)
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
}

async function kill(children: ChildProcess[]): Promise<void> {
  await Promise.all(
    children.map(
      (child) =>
        new Promise((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve(null)
          child.once('exit', resolve)
          child.kill('SIGKILL')
        }),
    ),
  )
}

test('one scan of /proc per tick answers every group due then, however many are watched', { ...linux, timeout: 20_000 }, async () => {
  const clock = new ManualClock()
  const sampler = new MemorySampler(clock)
  const children = sleepers(3)
  try {
    await asleep(children)
    const samples = children.map(() => [] as number[])
    const unwatch = children.map((child, i) => sampler.watch(child.pid!, 1_000, (rss) => samples[i]!.push(rss)))
    const before = memoryScans.count
    await clock.advance(3_000)
    assert.equal(memoryScans.count - before, 3, 'one scan a second for three groups')
    for (const [i, list] of samples.entries()) {
      assert.equal(list.length, 3, `group ${i} sampled at each tick`)
      assert.ok(list.every((rss) => rss > 100_000 && rss < 50_000_000), `a sleep's RSS: ${list.join(', ')}`)
    }
    // Watches of different intervals: each sampled on its own multiples, the shared ticks scanned once.
    for (const stop of unwatch.slice(1)) stop()
    const fast: number[] = []
    const stopFast = sampler.watch(children[1]!.pid!, 500, (rss) => fast.push(rss))
    const scans = memoryScans.count
    const slow = samples[0]!.length
    await clock.advance(2_000) // ticks at 3500, 4000, 4500, 5000: the slow one at 4000 and 5000
    assert.equal(memoryScans.count - scans, 4)
    assert.equal(fast.length, 4)
    assert.equal(samples[0]!.length - slow, 2)
    unwatch[0]!()
    stopFast()
    assert.equal(clock.pendingTimers, 0, 'no timer once nothing is watched')
    await clock.advance(5_000)
    assert.equal(memoryScans.count - scans, 4, 'no scan once nothing is watched')
  } finally {
    await kill(children)
  }
})

test('a group with no live member samples 0; a watch that ends itself in its callback is not called again', { ...linux, timeout: 20_000 }, async () => {
  const clock = new ManualClock()
  const sampler = new MemorySampler(clock)
  const [gone, live] = sleepers(2) as [ChildProcess, ChildProcess]
  try {
    await kill([gone])
    const goneSamples: number[] = []
    const liveSamples: number[] = []
    const stopGone = sampler.watch(gone.pid!, 100, (rss) => {
      goneSamples.push(rss)
      stopGone()
    })
    const stopLive = sampler.watch(live.pid!, 100, (rss) => liveSamples.push(rss))
    await clock.advance(300)
    assert.deepEqual(goneSamples, [0])
    assert.equal(liveSamples.length, 3)
    stopLive()
    assert.equal(clock.pendingTimers, 0)
  } finally {
    await kill([gone, live])
  }
})

test('process wards with maxMemory share the scans: five wards, one scan per memoryEvery; the one over its limit is retired', { ...linux, timeout: 30_000 }, async () => {
  const clock = new ManualClock()
  const events: StewardEvent[] = []
  const pids: number[] = []
  const ward = (maxMemory: number) =>
    steward(processWard('sleep', ['60'], { maxMemory, memoryEvery: '1s', killAfter: 100, onSpawn: (child) => pids.push(child.pid!) }), {
      name: `sleep-${maxMemory}`,
      timeout: '1m',
      restart: 'temporary',
    })
  const runs = [1, 2, 3, 4].map(() => ward(1_000_000_000).start({ clock }))
  const small = ward(1_000).start({ clock, onEvent: (event) => events.push(event) })
  try {
    await waitFor('five sampled pids', () => pids.length >= 5, 20_000, 5)
    assert.equal(pids.length, 5, 'five children started')
    const before = memoryScans.count
    await clock.advance(1_000)
    assert.equal(memoryScans.count - before, 1, 'one scan for five wards')
    // The small one's child is asked to go; its exit is real time, its group gone then.
    const outcome = await small.done
    assert.equal(outcome.kind, 'gave-up')
    assert.deepEqual(
      events.filter((event) => event.type === 'failed').map((event) => event.type === 'failed' && event.reason),
      ['memory'],
    )
    await clock.advance(2_000)
    assert.equal(memoryScans.count - before, 3, 'the four others, still one scan a second')
  } finally {
    await Promise.all(runs.map((run) => run.stop()))
    await small.stop()
  }
  assert.equal(clock.pendingTimers, 0, 'the sampler stopped with the last ward')
})
