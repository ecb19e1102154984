import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { ManualClock } from '../time/manual-clock.js'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import { supervisor } from '../tree/supervisor.js'
import { steward } from '../steward/steward.js'
import type { WardContext } from '../steward/ward.js'
import { stewardMetrics } from './metrics.js'

function aborted(signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }))
}

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
  await clock.advanceTo(500)
  const text = metrics.render()
  // hanger beats at 0, 50 … 200 and stops (its sleep ends at 250), timeout 200: hung at 400 exactly.
  assert.equal(sample(text, 'steward_restarts_total{path="app/hanger",reason="hung"}'), 1)
  assert.equal(sample(text, 'steward_hangs_total{path="app/hanger"}'), 1)
  assert.equal(sample(text, 'steward_restarts_total{path="app/crasher",reason="failed"}'), 2)
  assert.equal(sample(text, 'steward_failures_total{path="app/crasher"}'), 2)
  assert.equal(sample(text, 'steward_restarts_total{path="app/beater",reason="hung"}'), undefined)
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
