import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { ManualClock } from '../time/manual-clock.js'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import { supervisor } from '../tree/supervisor.js'
import { steward } from '../steward/steward.js'
import type { WardContext } from '../steward/ward.js'
import type { WardStatus } from './status.js'
import { processWard } from '../isolation/process-ward.js'
import { stewardMetrics } from './metrics.js'
import { aborted } from '../testing/wait.js'

/** A tree on a manual clock: `beater` beats every 100 ms, `hanger` beats until 250 ms on its first incarnation only, `crasher` throws at 50 ms twice. */
function tree(clock: ManualClock) {
  let hangerRuns = 0
  let crasherRuns = 0
  return supervisor({ name: 'app', maxRestarts: 10, within: '1m' }, [
    {
      name: 'beater',
      timeout: 200,
      ward: async (ctx: WardContext) => {
        while (!ctx.signal.aborted) {
          ctx.beat()
          await clock.sleep(100, ctx.signal).catch(() => {})
        }
      },
    },
    {
      name: 'hanger',
      timeout: 200,
      ward: async (ctx: WardContext) => {
        hangerRuns++
        if (hangerRuns === 1) {
          while (clock.now() < 250) {
            ctx.beat()
            await clock.sleep(50, ctx.signal)
          }
          await aborted(ctx.signal)
          return
        }
        await ctx.idle(aborted(ctx.signal))
      },
    },
    {
      name: 'crasher',
      ward: async (ctx: WardContext) => {
        crasherRuns++
        if (crasherRuns <= 2) {
          await clock.sleep(50, ctx.signal)
          throw new Error('crash "quoted"\nline')
        }
        await ctx.idle(aborted(ctx.signal))
      },
    },
  ]).start({ clock })
}

function sample(text: string, name: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${name} `))
  return line === undefined ? undefined : Number(line.slice(name.length + 1))
}

test('metrics count restarts by reason and hangs, and read the gauges from the status tree', async () => {
  const clock = new ManualClock()
  const run = tree(clock)
  const metrics = stewardMetrics(run, { clock })
  await clock.advance(1)
  // A render before the changes: the lines it made are not reused once their values changed.
  const first = metrics.render()
  assert.equal(sample(first, 'steward_state{path="app/hanger",kind="steward",state="working"}'), 1)
  assert.equal(sample(first, 'steward_attempt{path="app/hanger"}'), 1)
  await clock.advanceTo(500)
  const text = metrics.render()
  assert.equal(sample(text, 'steward_state{path="app/hanger",kind="steward",state="working"}'), undefined)
  // hanger beats at 0, 50 … 200 and stops (its sleep ends at 250), timeout 200: hung at 400 exactly.
  assert.equal(sample(text, 'steward_restarts_total{path="app/hanger",reason="hung"}'), 1)
  assert.equal(sample(text, 'steward_hangs_total{path="app/hanger"}'), 1)
  assert.equal(sample(text, 'steward_restarts_total{path="app/crasher",reason="failed"}'), 2)
  assert.equal(sample(text, 'steward_failures_total{path="app/crasher"}'), 2)
  // Every series that applies exists from the start, at 0: beater can hang, so its hung series is there.
  assert.equal(sample(text, 'steward_restarts_total{path="app/beater",reason="hung"}'), 0)
  assert.equal(sample(text, 'steward_attempt{path="app/crasher"}'), 3)
  assert.equal(sample(text, 'steward_attempt{path="app/hanger"}'), 2)
  assert.equal(sample(text, 'steward_state{path="app/hanger",kind="steward",state="idle"}'), 1)
  assert.equal(sample(text, 'steward_state{path="app",kind="supervisor",state="working"}'), 1)
  assert.equal(sample(text, 'steward_up{path="app/beater"}'), 1)
  // beater beat at 500 - the clock ran to 500 and its sleep ended there.
  assert.equal(sample(text, 'steward_last_beat_age_seconds{path="app/beater"}'), 0)
  assert.equal(sample(text, 'steward_incarnation_uptime_seconds{path="app/beater"}'), 0.5)
  assert.equal(sample(text, 'steward_incarnation_uptime_seconds{path="app/hanger"}'), 0.1)
  // On a manual clock the deadline is exact: a hang noticed 0 s late.
  assert.equal(sample(text, 'steward_hang_detection_lateness_seconds_bucket{le="0.001"}'), 1)
  assert.equal(sample(text, 'steward_hang_detection_lateness_seconds_count'), 1)
  assert.match(text, /^# HELP steward_restarts_total .+\n# TYPE steward_restarts_total counter$/m)
  await clock.runUntil(run.stop())
})

test('counters only grow: a second hang adds to the first, after restarts', async () => {
  const clock = new ManualClock()
  let beats = true
  const run = steward(
    async (ctx: WardContext) => {
      while (beats) {
        ctx.beat()
        await clock.sleep(10, ctx.signal)
      }
      await aborted(ctx.signal)
    },
    { name: 'w', timeout: 100, maxRestarts: Infinity },
  ).start({ clock })
  const metrics = stewardMetrics(run, { clock })
  beats = false
  const counts: number[] = []
  for (let i = 0; i < 4; i++) {
    await clock.advance(100)
    counts.push(sample(metrics.render(), 'steward_restarts_total{path="w",reason="hung"}') ?? 0)
  }
  assert.deepEqual(counts, [1, 2, 3, 4])
  await clock.runUntil(run.stop())
})

test('label values are escaped, and promtool accepts the exposition', { skip: false }, async () => {
  const clock = new ManualClock()
  const run = supervisor({ name: 'we"ird\\tree' }, [
    {
      name: 'line\nbreak',
      ward: async (ctx: WardContext) => {
        if (ctx.attempt === 1) throw new Error('boom')
        await ctx.idle(aborted(ctx.signal))
      },
    },
  ]).start({ clock })
  const metrics = stewardMetrics(run, { clock })
  await clock.advance(10)
  const text = metrics.render()
  assert.ok(text.includes('steward_restarts_total{path="we\\"ird\\\\tree/line\\nbreak",reason="failed"} 1'), text)
  const checked = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
  assert.equal(checked.error, undefined, 'promtool runs (scripts/test-deps.sh installs it)')
  assert.equal(checked.status, 0, `promtool check metrics:\n${checked.stdout}${checked.stderr}`)
  assert.equal(`${checked.stdout}${checked.stderr}`.trim(), '')
  await clock.runUntil(run.stop())
})

test('the subscription ends with the run and leaves nothing behind; options are validated', async () => {
  const { leaks } = await checkLeaks(async () => {
    const clock = new ManualClock()
    const run = tree(clock)
    const metrics = stewardMetrics(run, { clock })
    await clock.advance(100)
    await clock.runUntil(run.stop())
    assert.equal(sample(metrics.render(), 'steward_state{path="app",kind="supervisor",state="stopped"}'), 1)
    metrics.dispose()
  })
  assert.deepEqual(leaks, noLeaks)
  const run = steward(async () => {}, { name: 'x' }).start()
  assert.throws(() => stewardMetrics(run, { clok: 1 } as never), /unknown option 'clok'/)
  assert.throws(() => stewardMetrics(run, { latenessBuckets: [1, 0.5] }), /option 'latenessBuckets'/)
  assert.throws(() => stewardMetrics({} as never), /run must be a steward or supervisor run/)
  await run.done
})

/** The counter samples of an exposition (families typed `counter`), by series. */
function counterSamples(text: string): Map<string, number> {
  const counters = new Set<string>()
  const samples = new Map<string, number>()
  for (const line of text.split('\n')) {
    const type = /^# TYPE (\S+) counter$/.exec(line)
    if (type !== null) counters.add(type[1]!)
    if (line === '' || line.startsWith('#')) continue
    const space = line.lastIndexOf(' ')
    const series = line.slice(0, space)
    const name = series.replace(/\{.*$/, '')
    if (counters.has(name)) samples.set(series, Number(line.slice(space + 1)))
  }
  return samples
}

test('every counter series that applies to a ward is 0 from its start, for children added later too', async () => {
  const clock = new ManualClock()
  const idle = async (ctx: WardContext) => ctx.idle(aborted(ctx.signal))
  const run = supervisor({ name: 'app', strategy: 'one-for-all' }, [
    { name: 'full', ward: idle, timeout: 1000, progressTimeout: 5000, idleTimeout: 60_000, shouldRestart: () => true },
    { name: 'plain', ward: idle, restart: 'transient' },
    { name: 'once', ward: idle, restart: 'temporary' },
  ]).start({ clock })
  const metrics = stewardMetrics(run, { clock, processMetrics: false })
  // Before anything ran: the first render reads the status tree.
  const text = metrics.render()
  const zero = (series: string): void => assert.equal(sample(text, series), 0, series)
  const none = (series: string): void => assert.equal(sample(text, series), undefined, series)
  for (const reason of ['hung', 'stalled', 'idle', 'failed', 'start', 'returned', 'sibling', 'manual']) zero(`steward_restarts_total{path="app/full",reason="${reason}"}`)
  none('steward_restarts_total{path="app/full",reason="memory"}')
  for (const name of ['hangs', 'stalls', 'idle_timeouts', 'failures', 'give_ups', 'dead_letters', 'stop_deadlines_missed']) zero(`steward_${name}_total{path="app/full"}`)
  // Transient, no other deadline: it can hang or fail, or be restarted by its siblings or an operator.
  for (const reason of ['hung', 'failed', 'sibling', 'manual']) zero(`steward_restarts_total{path="app/plain",reason="${reason}"}`)
  for (const reason of ['stalled', 'idle', 'returned', 'start', 'memory']) none(`steward_restarts_total{path="app/plain",reason="${reason}"}`)
  none('steward_stalls_total{path="app/plain"}')
  none('steward_idle_timeouts_total{path="app/plain"}')
  zero('steward_failures_total{path="app/plain"}')
  // Temporary: never restarted for its own failures.
  none('steward_restarts_total{path="app/once",reason="failed"}')
  none('steward_restarts_total{path="app/once",reason="hung"}')
  zero('steward_give_ups_total{path="app"}')
  none('steward_failures_total{path="app"}')
  run.add({ name: 'late', ward: idle })
  const later = metrics.render()
  assert.equal(sample(later, 'steward_restarts_total{path="app/late",reason="hung"}'), 0)
  assert.equal(sample(later, 'steward_restarts_total{path="app/late",reason="failed"}'), 0)
  assert.equal(sample(later, 'steward_hangs_total{path="app/late"}'), 0)
  await clock.runUntil(run.stop())
  // Once the ward is gone its series stay: a series that disappears and comes back starts over.
  assert.equal(sample(metrics.render(), 'steward_restarts_total{path="app/late",reason="hung"}'), 0)
})

test('a started event alone gives a ward its zero counters: a child that completed before any render', async () => {
  const clock = new ManualClock()
  const run = supervisor({ name: 'app' }, [
    { name: 'brief', restart: 'transient', ward: async () => {} },
    { name: 'stays', ward: async (ctx: WardContext) => ctx.idle(aborted(ctx.signal)) },
  ]).start({ clock })
  const metrics = stewardMetrics(run, { clock, processMetrics: false })
  await clock.advance(1)
  // A transient child that completed is forgotten: the status no longer shows it.
  assert.deepEqual(run.status().children.map((child) => child.name), ['stays'])
  assert.equal(sample(metrics.render(), 'steward_failures_total{path="app/brief"}'), 0)
  await clock.runUntil(run.stop())
})

test('a process ward with maxMemory has a memory restart series at 0', async () => {
  const clock = new ManualClock()
  const ward = processWard('sleep', ['30'], { heartbeat: 'none', maxMemory: '1GiB' })
  const run = steward(ward, { name: 'mem' }).start({ clock })
  assert.deepEqual(run.status().restartReasons, ['hung', 'failed', 'memory'])
  const metrics = stewardMetrics(run, { clock, processMetrics: false })
  assert.equal(sample(metrics.render(), 'steward_restarts_total{path="mem",reason="memory"}'), 0)
  await run.stop()
})

test('restarts are counted one per event, by reason: a path that failed and then hung has 1 of each', async () => {
  const clock = new ManualClock()
  const run = steward(
    async (ctx: WardContext) => {
      if (ctx.attempt === 1) {
        await clock.sleep(10, ctx.signal)
        throw new Error('boom')
      }
      if (ctx.attempt === 2) return aborted(ctx.signal) // never beats: hung at 100 ms
      await ctx.idle(aborted(ctx.signal))
    },
    { name: 'two', timeout: 100, maxRestarts: 10 },
  ).start({ clock })
  const metrics = stewardMetrics(run, { clock })
  await clock.advance(500)
  const text = metrics.render()
  assert.equal(run.status().restarts, 2)
  assert.equal(sample(text, 'steward_restarts_total{path="two",reason="failed"}'), 1)
  assert.equal(sample(text, 'steward_restarts_total{path="two",reason="hung"}'), 1)
  await clock.runUntil(run.stop())
})

test('a nested steward restarted with its parent: no counter series ever goes down across scrapes', async () => {
  const clock = new ManualClock()
  // inner fails every 10 ms, gives up at its third failure (2 restarts); outer then fails and restarts,
  // which starts a new inner run whose own restart count begins at 1 again.
  const inner = steward(
    async (ctx: WardContext) => {
      await clock.sleep(10, ctx.signal)
      throw new Error('inner fails')
    },
    { name: 'inner', maxRestarts: 2, within: Infinity },
  )
  const run = steward(inner, { name: 'outer', maxRestarts: 3, within: Infinity }).start({ clock })
  const metrics = stewardMetrics(run, { clock })
  let last = counterSamples(metrics.render())
  let innerRestarts = 0
  for (let step = 0; step < 20 && run.status().state !== 'gave-up'; step++) {
    await clock.advance(5)
    const now = counterSamples(metrics.render())
    for (const [series, value] of last) {
      const next = now.get(series)
      assert.ok(next !== undefined, `${series} disappeared at ${clock.now()} ms`)
      assert.ok(next >= value, `${series} went down from ${value} to ${next} at ${clock.now()} ms`)
    }
    innerRestarts = now.get('steward_restarts_total{path="outer/inner",reason="failed"}') ?? 0
    last = now
  }
  // At least two inner runs each restarted twice: the counter adds them up.
  assert.ok(innerRestarts >= 4, `outer/inner restarts: ${innerRestarts}`)
  assert.ok((last.get('steward_restarts_total{path="outer",reason="failed"}') ?? 0) >= 1)
  await clock.runUntil(run.stop())
})

test('process figures of the steward process itself, and none with processMetrics: false', async () => {
  const clock = new ManualClock()
  const run = steward(async (ctx: WardContext) => ctx.idle(aborted(ctx.signal)), { name: 'w' }).start({ clock })
  const text = stewardMetrics(run, { clock }).render()
  assert.ok(sample(text, 'process_resident_memory_bytes')! > 1_000_000)
  assert.ok(sample(text, 'process_cpu_seconds_total')! > 0)
  assert.ok(sample(text, 'process_open_fds')! > 0)
  const start = sample(text, 'process_start_time_seconds')!
  assert.ok(Math.abs(start - (Date.now() / 1000 - process.uptime())) < 5, `start ${start}`)
  assert.match(text, /^# TYPE process_cpu_seconds_total counter$/m)
  assert.doesNotMatch(stewardMetrics(run, { clock, processMetrics: false }).render(), /^process_/m)
  assert.throws(() => stewardMetrics(run, { processMetrics: 'yes' as never }), /option 'processMetrics' must be true or false/)
  await clock.runUntil(run.stop())
})

test("a process ward's figures: pid, RSS, CPU, open fds and start time under its path; promtool accepts them", { timeout: 30_000, skip: process.platform === 'linux' ? false : 'needs /proc' }, async () => {
  const run = supervisor({ name: 'app' }, [{ name: 'sleeper', ward: processWard('sleep', ['60'], { heartbeat: 'none' }) }]).start()
  const metrics = stewardMetrics(run)
  try {
    const deadline = Date.now() + 20_000
    while (run.status().children[0]?.fds == null) {
      assert.ok(Date.now() < deadline, 'the sleeper has its figures within 20 s')
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const text = metrics.render()
    const status = run.status().children[0]!
    assert.equal(sample(text, 'steward_process_pid{path="app/sleeper"}'), status.pid)
    assert.ok(sample(text, 'steward_process_resident_memory_bytes{path="app/sleeper"}')! > 100_000)
    assert.ok(sample(text, 'steward_process_cpu_seconds_total{path="app/sleeper"}')! >= 0)
    assert.ok(sample(text, 'steward_process_open_fds{path="app/sleeper"}')! >= 3)
    const started = sample(text, 'steward_process_start_time_seconds{path="app/sleeper"}')!
    assert.ok(Math.abs(started - Date.now() / 1000) < 30, `start time ${started}`)
    assert.match(text, /^# TYPE steward_process_cpu_seconds_total counter$/m)
    const checked = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
    assert.equal(checked.status, 0, `promtool check metrics:\n${checked.stdout}${checked.stderr}`)
    assert.equal(`${checked.stdout}${checked.stderr}`.trim(), '')
  } finally {
    await run.stop()
  }
  // Gone with its child; its counters stay.
  const after = metrics.render()
  assert.equal(sample(after, 'steward_process_pid{path="app/sleeper"}'), undefined)
  assert.equal(sample(after, 'steward_restarts_total{path="app/sleeper",reason="failed"}'), 0)
})

test('a render after any change of the tree is the render of fresh metrics: the blocks kept between renders are never stale', () => {
  // A status tree changed at random between renders (states, up, attempt, pid and start time,
  // children added, removed and reordered) with no events: fresh metrics of the same tree write
  // the same gauges, so whatever the long-lived ones keep from render to render must follow.
  let seed = 11
  const random = (n: number): number => {
    seed = (Math.imul(seed, 1_103_515_245) + 12_345) >>> 0
    return Math.floor((seed / 2 ** 32) * n)
  }
  type Mutable = { -readonly [K in keyof WardStatus]: WardStatus[K] }
  const states = ['working', 'idle', 'waiting', 'backoff', 'restarting', 'stopped'] as const
  const ward = (name: string): Mutable =>
    ({ name, path: `app/${name}`, kind: 'steward', state: 'working', attempt: 1, restarts: 0, restartReasons: ['hung', 'failed'], up: true, lastBeatAgo: null, progress: undefined, failuresHere: 0, lastFailure: null, probeFailure: null, pid: null, threadId: null, uptime: null, rss: null, cpu: null, fds: null, startTime: null, children: [] }) as unknown as Mutable
  const root = { ...ward('app'), path: 'app', kind: 'supervisor', restartReasons: [], children: [] as WardStatus[] } as Mutable
  let next = 0
  const children = (): Mutable[] => root.children as Mutable[]
  root.children = Array.from({ length: 5 }, () => ward(`w${next++}`))
  const run = { status: () => root as WardStatus, on: () => ({ dispose() {}, [Symbol.dispose]() {} }) } as unknown as Parameters<typeof stewardMetrics>[0]
  const kept = stewardMetrics(run, { processMetrics: false })
  kept.render()
  for (let step = 0; step < 300; step++) {
    const list = children()
    const one = list[random(list.length)]
    switch (random(8)) {
      case 0:
        if (one !== undefined) one.state = states[random(states.length)]!
        break
      case 1:
        if (one !== undefined) one.up = !one.up
        break
      case 2:
        if (one !== undefined) one.attempt++
        break
      case 3:
        if (one !== undefined) one.pid = one.pid === null ? 1_000 + random(100) : null
        break
      case 4:
        if (one !== undefined && one.pid !== null) one.startTime = one.startTime === null ? 1_700_000_000 + random(1_000) : null
        break
      case 5:
        list.push(ward(`w${next++}`))
        break
      case 6:
        if (list.length > 1) list.splice(random(list.length), 1)
        break
      default:
        list.reverse()
    }
    // The counters of a path that left stay in the long-lived metrics (counters never go away).
    const gauges = (text: string): string => text.replace(/^steward_(restarts|hangs|stalls|idle_timeouts|failures|give_ups|dead_letters|stop_deadlines_missed)_total\{.*\n/gm, '')
    assert.equal(gauges(kept.render()), gauges(stewardMetrics(run, { processMetrics: false }).render()), `step ${step}`)
  }
})
