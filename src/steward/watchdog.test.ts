import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ManualClock } from '../time/manual-clock.js'
import type { Clock } from '../time/clock.js'
import { IDLE, STARTING, WORKING } from './run-states.js'
import { Watchdog, type Watched } from './watchdog.js'

/** A clock that hides the manual clock's exact time field, so the watchdog runs in coarse mode. */
function coarse(clock: ManualClock): Clock {
  return {
    now: () => clock.now(),
    setTimer: (ms, callback) => clock.setTimer(ms, callback),
    sleep: (ms, signal) => clock.sleep(ms, signal),
  }
}

function watched(timeout: number, hangs: number[], clock: Clock): Watched {
  return {
    lastBeat: 0,
    progressAt: 0,
    timeout,
    tickTimeout: timeout,
    progressTimeout: Infinity,
    idleTimeout: Infinity,
    state: STARTING,
    heapIndex: -1,
    onHang: () => hangs.push(clock.now()),
  }
}

test('exact mode: a hang is reported exactly timeout after the last beat; beats push it back', async () => {
  const clock = new ManualClock()
  const watchdog = new Watchdog(clock)
  const hangs: number[] = []
  const w = watched(100, hangs, clock)
  w.state = WORKING
  w.lastBeat = watchdog.cell.now
  watchdog.watch(w)
  await clock.advance(70)
  w.lastBeat = watchdog.cell.now // beat at 70
  await clock.advance(99)
  assert.deepEqual(hangs, [])
  await clock.advance(1)
  assert.deepEqual(hangs, [170])
  assert.equal(watchdog.size, 0)
  assert.equal(clock.pendingTimers, 0)
})

test('an idle entry is dropped when its deadline comes up, leaving no timer', async () => {
  const clock = new ManualClock()
  const watchdog = new Watchdog(clock)
  const hangs: number[] = []
  const w = watched(100, hangs, clock)
  w.state = WORKING
  watchdog.watch(w)
  w.state = IDLE
  await clock.advance(1_000)
  assert.deepEqual(hangs, [])
  assert.equal(watchdog.size, 0)
  assert.equal(clock.pendingTimers, 0)
})

test('unwatch removes any entry of the heap and keeps the others in deadline order', async () => {
  const clock = new ManualClock()
  const watchdog = new Watchdog(clock)
  const hangs: number[] = []
  const entries = [50, 10, 40, 20, 30, 60].map((timeout) => {
    const w = watched(timeout, hangs, clock)
    w.state = WORKING
    w.onHang = () => hangs.push(timeout)
    watchdog.watch(w)
    return w
  })
  watchdog.unwatch(entries[2]!) // 40
  watchdog.unwatch(entries[1]!) // 10
  watchdog.unwatch(entries[1]!) // twice is harmless
  await clock.advance(100)
  assert.deepEqual(hangs, [20, 30, 50, 60])
})

test('coarse mode is never early and at most one tick late', async () => {
  const manual = new ManualClock()
  const clock = coarse(manual)
  const watchdog = new Watchdog(clock)
  const timeout = 100 // ticks every 2 ms
  const lateness: number[] = []
  const entries: Array<{ w: Watched; lastBeat: number }> = []
  for (let i = 0; i < 50; i++) {
    const entry = { w: watched(timeout, [], clock), lastBeat: 0 }
    entry.w.onHang = () => lateness.push(manual.now() - entry.lastBeat - timeout)
    entry.w.state = WORKING
    entry.w.lastBeat = watchdog.cell.now
    watchdog.watch(entry.w)
    entries.push(entry)
  }
  // Each entry beats at odd real moments (between ticks) until its own stop time.
  for (let t = 0; t < 400; t++) {
    await manual.advance(0.7)
    for (const [index, entry] of entries.entries()) {
      if (manual.now() < 37 + index * 5) {
        entry.w.lastBeat = watchdog.cell.now // the stamp may be stale...
        entry.lastBeat = manual.now() // ...the true beat time is now
      }
    }
  }
  await manual.advance(1_000)
  assert.equal(lateness.length, 50)
  for (const late of lateness) {
    assert.ok(late >= 0, `early by ${-late} ms`)
    assert.ok(late <= 2 + 1e-9, `late by ${late} ms`)
  }
  assert.equal(manual.pendingTimers, 0, 'ticking stops when nothing is watched')
})

test('coarse mode: a beat after a tick is dated by the refresh at the end of its event loop turn, not by the next tick', async () => {
  // A clock whose time moves only when told, and whose timers run only when told: a busy turn.
  let now = 0
  const timers: Array<{ at: number; callback: () => void; cancelled: boolean }> = []
  const clock: Clock = {
    now: () => now,
    setTimer: (ms, callback) => {
      const timer = { at: now + ms, callback, cancelled: false }
      timers.push(timer)
      return { cancel: () => void (timer.cancelled = true) }
    },
    sleep: () => Promise.reject(new Error('not used')),
  }
  const immediate = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))
  /** Runs the timers due by `time`, each in a turn of its own, as the event loop would. */
  const advanceTo = async (time: number): Promise<void> => {
    for (;;) {
      const due = timers.filter((timer) => !timer.cancelled && timer.at <= time).sort((a, b) => a.at - b.at)[0]
      if (due === undefined) break
      timers.splice(timers.indexOf(due), 1)
      now = due.at
      due.callback()
      await immediate()
    }
    now = time
  }
  const watchdog = new Watchdog(clock)
  const hangs: number[] = []
  const w = watched(100, hangs, clock) // ticks every 1 ms
  w.state = WORKING
  w.lastBeat = watchdog.cell.now
  watchdog.watch(w)
  // The tick at 1 ms runs; later in the same turn (at 1.3 ms) the ward beats, stamped 1.
  const tick = timers.find((timer) => timer.at === 1)!
  timers.splice(timers.indexOf(tick), 1)
  now = 1
  tick.callback()
  now = 1.3
  w.lastBeat = watchdog.cell.now
  assert.equal(w.lastBeat, 1)
  await immediate() // the turn ends: the refresh dates everything stamped 1 before 1.3
  await advanceTo(200)
  assert.deepEqual(hangs, [101.3], 'dated by the refresh at 1.3, not by the next tick at 2')
})

test('coarse mode: a stamp older than the finest tick log still expires soon, not postponed', async () => {
  const manual = new ManualClock()
  const clock = coarse(manual)
  // Keeps 8 tick times per level: level 0 reaches 8 ticks back, level 1 (every 16th) 128.
  const watchdog = new Watchdog(clock, 8)
  const hangs: number[] = []
  const hung = watched(100, hangs, clock)
  hung.state = WORKING
  hung.lastBeat = watchdog.cell.now
  watchdog.watch(hung)
  const busy = watched(10, [], clock) // ticks every 1 ms (timeout / 100, at least 1 ms)
  busy.state = WORKING
  busy.lastBeat = watchdog.cell.now
  watchdog.watch(busy)
  for (let t = 0; t < 300; t++) {
    await manual.advance(1)
    busy.lastBeat = watchdog.cell.now
  }
  assert.equal(hangs.length, 1, 'the hung entry was reported')
  // Dated by level 1: at most one of its strides (16 ticks of about 1 ms) late.
  assert.ok(hangs[0]! >= 100 && hangs[0]! <= 100 + 16 + 2, `reported at ${hangs[0]}`)
  watchdog.unwatch(busy)
  assert.equal(manual.pendingTimers, 0)
})
