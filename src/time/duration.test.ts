import { test } from 'node:test'
import assert from 'node:assert/strict'
import { toMs } from './duration.js'

test('numbers are milliseconds; strings carry a unit', () => {
  const table: Array<[unknown, number]> = [
    [0, 0],
    [250, 250],
    [1.5, 1.5],
    ['500ms', 500],
    ['4s', 4_000],
    ['1m', 60_000],
    ['1.5m', 90_000],
    ['2h', 7_200_000],
    [' 3 s ', 3_000],
    ['.5s', 500],
  ]
  for (const [input, expected] of table) assert.equal(toMs(input, 'timeout'), expected, String(input))
})

test('bad durations name the option and the reason', () => {
  assert.throws(() => toMs(-1, 'timeout'), { name: 'RangeError', message: /^timeout: must not be negative/ })
  assert.throws(() => toMs(NaN, 'timeout'), { name: 'RangeError', message: /timeout: .*NaN/ })
  assert.throws(() => toMs(Infinity, 'timeout'), { name: 'RangeError', message: /timeout: must be finite/ })
  assert.throws(() => toMs('4 seconds', 'within'), { name: 'TypeError', message: /^within: "4 seconds" is not a duration/ })
  assert.throws(() => toMs('-4s', 'within'), { name: 'TypeError' })
  assert.throws(() => toMs(null, 'stopTimeout'), { name: 'TypeError', message: /stopTimeout: .*got null/ })
  assert.throws(() => toMs(0, 'timeout', { zero: false }), { name: 'RangeError', message: /timeout: must be greater than zero/ })
})

test('Infinity only where allowed', () => {
  assert.equal(toMs(Infinity, 'within', { infinite: true }), Infinity)
})
