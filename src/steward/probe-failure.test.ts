import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { HungEvent } from '../observe/events.js'
import { ManualClock } from '../time/manual-clock.js'
import { WardHungError } from './errors.js'
import { wardHost } from './host.js'
import { steward } from './steward.js'
import type { WardContext } from './ward.js'

// The run's side of probe reasons, as a process ward's probes tell it (the ward host's noteProbe):
// status() keeps the last failure until a healthy answer; a hang carries it only when it is the
// hung incarnation's own.

const failure = (attempt: number, at: number) => ({ kind: 'exec', message: 'exec redis-clii: not found (ENOENT)', code: 'ENOENT', attempt, at, failures: 1 }) as const

test('status() shows the last probe failure until a healthy answer clears it', async () => {
  const clock = new ManualClock()
  const run = steward(
    async (ctx: WardContext) => {
      ctx.beat()
      await clock.sleep(100, ctx.signal)
      ctx[wardHost]!.noteProbe(failure(ctx.attempt, clock.now()))
      ctx.beat()
      await clock.sleep(100, ctx.signal)
      ctx[wardHost]!.noteProbe(null)
      ctx.beat()
      await clock.sleep(100, ctx.signal)
    },
    { timeout: 1_000, restart: 'transient' },
  ).start({ clock })
  assert.equal(run.status().probeFailure, null)
  await clock.advance(150)
  assert.deepEqual(run.status().probeFailure, failure(1, 100))
  await clock.advance(100)
  assert.equal(run.status().probeFailure, null)
  await clock.runUntil(run.done)
})

test("a hang carries its own incarnation's probe failure, never an earlier one's", async () => {
  const clock = new ManualClock()
  const hangs: HungEvent[] = []
  // Attempt 1: its probe fails, then it hangs. Attempt 2: hangs with no probe failure of its own.
  const run = steward(
    async (ctx: WardContext) => {
      if (ctx.attempt === 1) ctx[wardHost]!.noteProbe(failure(1, clock.now()))
      await new Promise(() => {})
    },
    { timeout: 500, maxRestarts: 1, within: Infinity },
  ).start({ clock, onEvent: (event) => void (event.type === 'hung' && hangs.push(event)) })
  const outcome = await clock.runUntil(run.done)
  assert.equal(hangs.length, 2)
  assert.deepEqual(hangs[0]!.probeFailure, failure(1, 0))
  assert.equal(hangs[1]!.probeFailure, undefined, "attempt 2 has no failure of its own: attempt 1's is not its reason")
  assert.ok(outcome.kind === 'gave-up' && outcome.error.cause instanceof WardHungError)
  assert.equal(outcome.error.cause.probe, undefined)
  assert.equal(outcome.error.cause.message, "ward 'ward' did not beat for 500 ms")
})
