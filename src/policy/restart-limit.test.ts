import { test } from 'node:test'
import assert from 'node:assert/strict'
import { nextRestart, noRestarts, type RestartHistory } from './restart-limit.js'

function replay(limit: { maxRestarts: number; within: number }, times: number[]): boolean[] {
  let history: RestartHistory = noRestarts
  return times.map((now) => {
    const decision = nextRestart(limit, history, now)
    history = decision.history
    return decision.allowed
  })
}

test('without a window, the (max+1)th restart is refused', () => {
  assert.deepEqual(replay({ maxRestarts: 4, within: Infinity }, [1, 2, 3, 4, 5]), [true, true, true, true, false])
})

test('zero restarts allowed refuses the first', () => {
  assert.deepEqual(replay({ maxRestarts: 0, within: Infinity }, [0]), [false])
})

test('restarts older than the window stop counting', () => {
  // 2 restarts per 1000 ms: the third inside the window is refused, one after it is allowed.
  assert.deepEqual(replay({ maxRestarts: 2, within: 1000 }, [0, 500, 900, 1000, 1499, 1500]), [
    true,
    true,
    false,
    true, // 0 fell out at 1000 (window is (now-1000, now])
    false,
    true,
  ])
})

test('infinite limit always allows and keeps no history', () => {
  let history: RestartHistory = noRestarts
  for (let i = 0; i < 1000; i++) history = nextRestart({ maxRestarts: Infinity, within: Infinity }, history, i).history
  assert.equal(history.length, 0)
})

test('history never grows beyond maxRestarts', () => {
  let history: RestartHistory = noRestarts
  for (let i = 0; i < 1000; i++) history = nextRestart({ maxRestarts: 3, within: 10 }, history, i * 10).history
  assert.ok(history.length <= 3)
})

test('the input history is not modified', () => {
  const history = Object.freeze([1, 2])
  nextRestart({ maxRestarts: 5, within: Infinity }, history, 3)
  assert.deepEqual(history, [1, 2])
})
