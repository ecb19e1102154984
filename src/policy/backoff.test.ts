import { test } from 'node:test'
import assert from 'node:assert/strict'
import { exponential, fixed, jittered, resetAfter, upTo, type Backoff } from './backoff.js'

/** The delays a policy gives for restarts with these uptimes (ms the failed incarnation ran). */
function delays<S>(backoff: Backoff<S>, uptimes: number[]): number[] {
  let state = backoff.initial
  return uptimes.map((uptime, index) => {
    const step = backoff.next(state, { restart: index + 1, uptime })
    state = step.state
    return step.delay
  })
}

const quick = (n: number): number[] => Array.from({ length: n }, () => 0)

test('exponential: initial, times factor, capped at max', () => {
  assert.deepEqual(delays(exponential({ initial: '100ms', factor: 2, max: '1s' }), quick(6)), [100, 200, 400, 800, 1000, 1000])
  assert.deepEqual(delays(exponential({ initial: 10, factor: 3, max: Infinity }), quick(4)), [10, 30, 90, 270])
  assert.deepEqual(delays(exponential(), quick(3)), [100, 200, 400])
})

test('fixed: the same delay every time', () => {
  assert.deepEqual(delays(fixed('2s'), quick(3)), [2000, 2000, 2000])
})

test('jittered: spreads each delay by the random factor', () => {
  const randoms = [0, 0.5, 0.999999, 0.25]
  let i = 0
  const random = (): number => randoms[i++ % randoms.length]!
  const result = delays(jittered(fixed(1000), { ratio: 0.5, random }), quick(4))
  assert.deepEqual(result.map(Math.round), [500, 1000, 1500, 750])
})

test('upTo caps any policy', () => {
  assert.deepEqual(delays(upTo(exponential({ initial: 100, max: Infinity }), 350), quick(4)), [100, 200, 350, 350])
})

test('resetAfter starts over after a stable run', () => {
  const policy = resetAfter(exponential({ initial: 100, max: '1m' }), '10m')
  assert.deepEqual(delays(policy, [0, 0, 0, 600_000, 5, 0]), [100, 200, 400, 100, 200, 400])
})

test('bad backoff options name the option', () => {
  assert.throws(() => exponential({ factor: 0.5 }), /exponential: option 'factor' must be a finite number ≥ 1/)
  assert.throws(() => exponential({ initial: '1s', max: '10ms' }), /option 'max' \(10 ms\) must not be below 'initial' \(1000 ms\)/)
  assert.throws(() => exponential({ initial: -1 }), /exponential: option 'initial': must not be negative/)
  assert.throws(() => fixed('soon' as never), /fixed: delay: "soon" is not a duration/)
  assert.throws(() => jittered(fixed(1), { ratio: 2 }), /option 'ratio' must be a number from 0 to 1/)
  assert.throws(() => resetAfter(fixed(1), 0), /resetAfter: stable: must be greater than zero/)
})
