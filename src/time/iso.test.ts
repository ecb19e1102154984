import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { isoTime } from './iso.js'

test('isoTime is toISOString for every millisecond of the years 0 to 9999', () => {
  // Date.UTC reads the years 0–99 as 1900–1999: year 0 is set on a date instead.
  const start = new Date(Date.UTC(2000, 0, 1)).setUTCFullYear(0)
  const end = Date.UTC(9999, 11, 31, 23, 59, 59, 999)
  fc.assert(fc.property(fc.integer({ min: start, max: end }), (ms) => isoTime(ms) === new Date(ms).toISOString()), { numRuns: 20_000 })
  for (const ms of [start, end, 0, -1, Date.UTC(2026, 11, 5, 9, 5, 7, 3), Date.UTC(2024, 1, 29, 23, 59, 59, 999)]) assert.equal(isoTime(ms), new Date(ms).toISOString())
})
