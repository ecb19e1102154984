// The run's states (run-states.ts) as status().state shows them, on a manual clock. Every move
// is also checked against the state table: `npm test` sets STEWARD_CHECK_STATES=1.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ManualClock } from '../time/manual-clock.js'
import { fixed } from '../policy/backoff.js'
import { aborted } from '../testing/wait.js'
import { CHECK_STATES, checkMove, RETIRING, SETTLED, STARTING, STATE_NAMES, STOPPING, TRANSITIONS, WORKING } from './run-states.js'
import { steward } from './steward.js'
import type { WardContext } from './ward.js'

test('the state table: every state has a public name, nothing leaves SETTLED, and the check is on under npm test', (t) => {
  assert.equal(STATE_NAMES.length, TRANSITIONS.length)
  assert.equal(TRANSITIONS[SETTLED], 0)
  assert.equal(CHECK_STATES, true, 'scripts/run-tests.mjs sets STEWARD_CHECK_STATES=1')
  // A wrong move throws, and is printed too (it may happen where a throw is caught): caught here.
  const printed: string[] = []
  const write = t.mock.method(process.stderr, 'write', (chunk: string) => printed.push(chunk) > 0)
  try {
    assert.throws(() => checkMove('w', STOPPING, WORKING), /run 'w' moved from STOPPING to WORKING, which its state table does not allow/)
    assert.throws(() => checkMove('w', STARTING, RETIRING), /STARTING to RETIRING/)
    checkMove('w', STARTING, WORKING)
  } finally {
    write.mock.restore()
  }
  assert.equal(printed.length, 2)
  assert.match(printed[0]!, /STOPPING to WORKING/)
})

test('a steward through its states: starting, working, idle, working, stopping (a slow retirement), backoff, working, stopping, stopped', async () => {
  const clock = new ManualClock()
  const ward = async (ctx: WardContext): Promise<void> => {
    if (ctx.attempt === 1) {
      await ctx.idle(clock.sleep(100))
      ctx.beat()
      await clock.sleep(1000) // hangs: no beat within the timeout, and does not read its signal
      return
    }
    await ctx.idle(aborted(ctx.signal))
  }
  const run = steward(ward, { timeout: 200, stopTimeout: 2000, maxRestarts: 5, backoff: fixed(300) }).start({ clock })
  const states: string[] = [run.status().state]
  const at = async (time: number): Promise<void> => {
    await clock.advance(time - clock.now())
    states.push(`${time} ${run.status().state}`)
  }
  await clock.advance(0)
  states.push(`0 ${run.status().state}`)
  await at(150) // idle until 100, then working (the beat), hung at 300
  await at(350) // the hung incarnation does not settle until 1100 (its sleep), within stopTimeout: RETIRING
  await at(1100) // settled at 1100: the backoff of 300 starts
  await at(1450) // relaunched at 1400, idle at once
  const stopping = run.stop()
  states.push(`stop ${run.status().state}`)
  await clock.runUntil(stopping)
  states.push(run.status().state)
  assert.deepEqual(states, ['starting', '0 idle', '150 working', '350 stopping', '1100 backoff', '1450 idle', 'stop stopping', 'stopped'])
})

test('a stop during a restart retirement (RETIRING to STOPPING) waits for that incarnation, and no other starts', async () => {
  const clock = new ManualClock()
  let starts = 0
  const ward = async (): Promise<void> => {
    starts++
    await clock.sleep(1000) // hangs, ignoring its signal
  }
  const run = steward(ward, { timeout: 100, stopTimeout: 5000 }).start({ clock })
  await clock.advance(150)
  assert.equal(run.status().state, 'stopping', 'the hung incarnation is being retired')
  const report = run.stop()
  await clock.runUntil(report)
  const outcome = await run.done
  assert.equal(outcome.kind, 'stopped')
  assert.equal(clock.now(), 1000, 'settled when the retired incarnation did')
  assert.equal(starts, 1)
})
