import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ManualClock } from '../time/manual-clock.js'
import { steward } from '../steward/steward.js'
import type { WardContext } from '../steward/ward.js'
import type { Backoff } from '../policy/backoff.js'
import { cliBackoff, restartDefaults } from './defaults.js'
import { parseRun } from './run.js'
import { configBackoff } from './config.js'

/** The delays a policy gives for restarts after incarnations that ran `uptimes` ms. */
function delays(backoff: Backoff, uptimes: number[]): number[] {
  let state = backoff.initial
  return uptimes.map((uptime, index) => {
    const step = backoff.next(state, { restart: index + 1, uptime })
    state = step.state
    return step.delay
  })
}

const zeros = (n: number): number[] => Array.from({ length: n }, () => 0)

test('the CLI backoff keeps every delay inside [min, max], jitter included', () => {
  const range = { min: 100, max: 1_000, resetAfter: Infinity }
  const highest = delays(cliBackoff(range, () => 0.999_999), zeros(8))
  const lowest = delays(cliBackoff(range, () => 0), zeros(8))
  // Jitter at its top: +20 % of each step, but never above max (the cap before the jitter gave 1,200).
  assert.deepEqual(highest.map(Math.round), [120, 240, 480, 960, 1_000, 1_000, 1_000, 1_000])
  // Jitter at its bottom: −20 %, but never below min.
  assert.deepEqual(lowest.map(Math.round), [100, 160, 320, 640, 800, 800, 800, 800])
})

test('the CLI backoff restarts at once after a healthy run of resetAfter, then starts over', () => {
  const backoff = cliBackoff({ min: 100, max: 1_000, resetAfter: 5_000 }, () => 0.5)
  assert.deepEqual(delays(backoff, [0, 0, 0, 4_999, 0, 5_000, 0, 0]), [100, 200, 400, 800, 1_000, 0, 100, 200])
})

test('run and up share the defaults: never give up, 100ms doubling to 30s, reset after 10s', () => {
  assert.deepEqual(restartDefaults.backoff, { min: 100, max: 30_000, resetAfter: 10_000 })
  assert.equal(restartDefaults.maxRestarts, Infinity)
  const plan = parseRun(['--', 'x'])
  assert.equal(plan.steward.maxRestarts, Infinity)
  assert.equal(plan.steward.within, 60_000)
  const top = delays(plan.steward.backoff!, zeros(12))
  assert.ok(top.every((delay) => delay >= 100 && delay <= 30_000), top.join(', '))
  assert.ok(top.at(-1)! >= 24_000, `capped near 30 s after 12 restarts: ${top.join(', ')}`)
  // --backoff-reset: the same backoff, starting over after the given run time.
  const reset = parseRun(['--backoff', '1s..8s', '--backoff-reset', '2s', '--', 'x']).steward.backoff!
  const afterHealthy = delays(reset, [0, 0, 0, 0, 2_000])
  assert.ok(afterHealthy[3]! >= 6_400 && afterHealthy[4] === 0, afterHealthy.join(', '))
  const never = parseRun(['--backoff', '1s..8s', '--backoff-reset', 'Infinity', '--', 'x']).steward.backoff!
  assert.ok(delays(never, [0, 0, 0, 0, 3_600_000])[4]! >= 6_400, 'Infinity never resets')
})

test('a steward with the CLI backoff on a ManualClock: delays grow, are capped, and a crash after a healthy run restarts at once', async () => {
  const clock = new ManualClock()
  const starts: number[] = []
  const waits: number[] = []
  // Attempts 1–6 fail at once; 7 runs 6 s (healthy) and fails; 8 fails at once; 9 completes.
  const ward = async (ctx: WardContext): Promise<void> => {
    starts.push(clock.now())
    if (ctx.attempt === 9) return
    if (ctx.attempt === 7) await ctx.clock.sleep(6_000, ctx.signal)
    throw new Error(`attempt ${ctx.attempt} fails`)
  }
  const options = { maxRestarts: restartDefaults.maxRestarts, within: restartDefaults.within, timeout: 60_000 }
  const run = steward(ward, { ...options, backoff: cliBackoff({ min: 100, max: 1_000, resetAfter: 5_000 }, () => 0.5) }).start({
    clock,
    onEvent: (event) => {
      if (event.type === 'restarting') waits.push(event.delay)
    },
  })
  assert.equal((await clock.runUntil(run.done)).kind, 'completed')
  assert.deepEqual(waits, [100, 200, 400, 800, 1_000, 1_000, 0, 100])
  assert.deepEqual(starts, [0, 100, 300, 700, 1_500, 2_500, 3_500, 9_500, 9_600])
})

test("the config's backoff: absent, 'MIN..MAX' or { min, max, resetAfter } (each key optional)", () => {
  const fail = (reason: string): never => {
    throw new Error(reason)
  }
  assert.deepEqual(configBackoff(undefined, fail), { min: 100, max: 30_000, resetAfter: 10_000 })
  assert.deepEqual(configBackoff('1s..1m', fail), { min: 1_000, max: 60_000, resetAfter: 10_000 })
  assert.deepEqual(configBackoff({ max: '5s', resetAfter: '2m' }, fail), { min: 100, max: 5_000, resetAfter: 120_000 })
  assert.deepEqual(configBackoff({ min: 250, resetAfter: Infinity }, fail), { min: 250, max: 30_000, resetAfter: Infinity })
  assert.throws(() => configBackoff({ min: 0 }, fail), /key 'backoff\.min' must be a duration greater than zero, got 0/)
  assert.throws(() => configBackoff({ max: true }, fail), /key 'backoff\.max' must be a duration like '30s'/)
  assert.throws(() => configBackoff(5, fail), /key 'backoff' must be "MIN\.\.MAX" or an object/)
})
