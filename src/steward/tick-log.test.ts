import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TickLog } from './tick-log.js'

test('a recent stamp is dated by the first tick strictly after it', () => {
  const log = new TickLog(8)
  for (let i = 0; i <= 5; i++) log.record(i * 10) // ticks at 0, 10, ..., 50
  assert.equal(log.after(0), 10)
  assert.equal(log.after(5), 10)
  assert.equal(log.after(10), 20, 'a stamp equal to a tick is dated by the next one')
  assert.equal(log.after(39.5), 40)
  assert.equal(log.after(49), 50)
  assert.equal(log.after(50), Infinity, 'nothing comes after the latest tick')
})

test('ticks at the same time: the stamp is dated by a later time, never by its own', () => {
  const log = new TickLog(8)
  for (const time of [0, 1, 1, 1, 2, 2, 3]) log.record(time)
  assert.equal(log.after(1), 2)
  assert.equal(log.after(2), 3)
})

/**
 * Records `count` ticks at irregular, increasing times, then dates a stamp in every gap between
 * ticks (and at each tick): never before its true successor, and late by at most a small part of
 * its age (level L is used only for stamps older than level L-1 reaches, about ring·16^(L-1)
 * ticks, and is late by less than its stride 16^L).
 */
function checkOldStamps(ring: number, count: number): number {
  const log = new TickLog(ring)
  const times: number[] = []
  let time = 1_000
  for (let i = 0; i < count; i++) {
    time += 0.5 + ((i * 7919) % 13) / 10
    times.push(time)
    log.record(time)
  }
  let worst = 0
  for (let i = 0; i + 1 < count; i++) {
    for (const stamp of [times[i]!, (times[i]! + times[i + 1]!) / 2]) {
      const dated = log.after(stamp)
      const successor = i + 1 // the true first tick after the stamp
      const index = times.indexOf(dated)
      assert.ok(index !== -1, `dated ${stamp} by ${dated}, which is no tick`)
      assert.ok(index >= successor, `dated ${stamp} by tick ${index}, before its successor ${successor}: early`)
      const late = index - successor
      const age = count - 1 - successor // ticks from the successor to the latest
      if (age < ring - 1) assert.equal(late, 0, `a stamp ${age} ticks old is dated exactly`)
      assert.ok(late <= (16 * age) / (ring - 1), `a stamp ${age} ticks old is dated ${late} ticks late`)
      worst = Math.max(worst, late / Math.max(1, age))
    }
  }
  return worst
}

test('an old stamp is never dated early, and late by a small fraction of its age', () => {
  const worst = checkOldStamps(8, 5_000) // levels reach 8, 128, 2,048 and 32,768 ticks back
  assert.ok(worst > 0, 'the coarser levels were used')
})

test('a stamp older than every level reaches is dated by the oldest kept tick, never early', () => {
  const log = new TickLog(2) // each level keeps 2 ticks: of every tick, every 16th, 256th, 4,096th
  for (let i = 0; i < 10_000; i++) log.record(i)
  assert.equal(log.after(5), 4_096) // the oldest tick the coarsest level still keeps
  assert.equal(log.after(9_997.5), 9_998)
  assert.equal(log.after(9_000), 9_728) // level 2 keeps 9,728 and 9,984; level 3 ends at 8,192
})

test('a log with no ring keeps nothing', () => {
  const log = new TickLog(0)
  log.record(1)
  log.record(2)
  assert.equal(log.after(0), Infinity)
})
