import { test } from 'node:test'
import assert from 'node:assert/strict'
import { toBytes } from './size.js'

test('sizes in bytes, decimal and binary units', () => {
  const table: Array<[unknown, number]> = [
    [1, 1],
    [1_000_000, 1_000_000],
    [2.9, 2],
    ['512B', 512],
    ['64kB', 64_000],
    ['64KB', 64_000],
    ['512MB', 512_000_000],
    ['1.5GB', 1_500_000_000],
    ['2TB', 2e12],
    ['64KiB', 65_536],
    ['512MiB', 536_870_912],
    [' 1GiB ', 1_073_741_824],
    ['1 TiB', 2 ** 40],
    ['.5MiB', 524_288],
  ]
  for (const [value, bytes] of table) assert.equal(toBytes(value, 'maxMemory'), bytes, String(value))
})

test('bad sizes are refused, naming the option and the reason', () => {
  assert.throws(() => toBytes('512M', 'maxMemory'), { name: 'TypeError', message: /maxMemory: "512M" is not a size/ })
  assert.throws(() => toBytes('lots', 'maxMemory'), /is not a size/)
  assert.throws(() => toBytes('-5MB', 'maxMemory'), /is not a size/)
  assert.throws(() => toBytes(true, 'maxMemory'), { name: 'TypeError', message: /maxMemory: expected a size .* got boolean true/ })
  assert.throws(() => toBytes(0, 'maxMemory'), { name: 'RangeError', message: /maxMemory: must be at least 1 byte/ })
  assert.throws(() => toBytes(-1, 'maxMemory'), { name: 'RangeError' })
  assert.throws(() => toBytes(0.5, 'maxMemory'), { name: 'RangeError' })
  assert.throws(() => toBytes(Number.NaN, 'maxMemory'), { name: 'RangeError', message: /finite/ })
  assert.throws(() => toBytes(Infinity, 'maxMemory'), { name: 'RangeError', message: /finite/ })
})
