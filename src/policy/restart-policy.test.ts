import { test } from 'node:test'
import assert from 'node:assert/strict'
import { fixed } from './backoff.js'
import { decide, initialRestartState, type Failure, type RestartPolicy } from './restart-policy.js'

const unlimited: RestartPolicy = { intensity: { maxRestarts: Infinity, within: Infinity }, backoff: undefined }
const twoPerSecond: RestartPolicy = { intensity: { maxRestarts: 2, within: 1000 }, backoff: fixed(50) }
const failure = (over: Partial<Failure> = {}): Failure => ({ cannotStart: false, temporary: false, answer: undefined, now: 0, uptime: 0, ...over })

test('decide: the checks that come before the policy, in order', () => {
  const rows: [string, Failure, string][] = [
    ['a start error gives up', failure({ cannotStart: true }), 'give-up start'],
    ['a start error the hook insists on restarts', failure({ cannotStart: true, answer: true }), 'restart'],
    ['a start error the hook declines gives up (not declined)', failure({ cannotStart: true, answer: false }), 'give-up start'],
    ['a start error of a temporary ward the hook insists on gives up as temporary', failure({ cannotStart: true, temporary: true, answer: true }), 'give-up temporary'],
    ['a temporary ward gives up', failure({ temporary: true }), 'give-up temporary'],
    ['a false answer declines', failure({ answer: false }), 'decline'],
    ['a true answer restarts', failure({ answer: true }), 'restart'],
    ['no answer restarts', failure(), 'restart'],
  ]
  for (const [what, input, expected] of rows) {
    const decision = decide(unlimited, undefined, input)
    assert.equal(`${decision.action}${decision.why === undefined ? '' : ` ${decision.why}`}`, expected, what)
  }
})

test('decide: without a limit, a backoff or a state, a restart at once that allocates nothing', () => {
  const first = decide(unlimited, undefined, failure())
  assert.equal(decide(unlimited, undefined, failure({ now: 5 })), first, 'the same frozen decision')
  assert.deepEqual(first, { action: 'restart', why: undefined, delay: 0, state: undefined, counted: 0 })
  // With a state (a supervisor's), the policy counts.
  const counted = decide(unlimited, initialRestartState(unlimited), failure())
  assert.equal(counted.state?.restarts, 1)
})

test('decide: the intensity, then the backoff, with the state carried from one failure to the next', () => {
  let state = undefined as ReturnType<typeof decide>['state']
  const seen: string[] = []
  for (const now of [0, 10, 20, 1500]) {
    const decision = decide(twoPerSecond, state, failure({ now }))
    state = decision.state
    seen.push(`${now}: ${decision.action}${decision.why === undefined ? '' : ` ${decision.why}`} delay ${decision.delay} counted ${decision.counted}`)
  }
  assert.deepEqual(seen, [
    '0: restart delay 50 counted 1',
    '10: restart delay 50 counted 2',
    '20: give-up limit delay 0 counted 3',
    // The refused restart was not recorded: the window at 1500 holds none of the earlier ones.
    '1500: restart delay 50 counted 1',
  ])
})
