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

/** A clock whose time moves only when told and whose timers run only when told (each `at` is kept): a busy turn. */
function heldClock(): { clock: Clock; set: (time: number) => void; reads: () => number; timers: Array<{ at: number; callback: () => void; cancelled: boolean }> } {
  let now = 0
  let reads = 0
  const timers: Array<{ at: number; callback: () => void; cancelled: boolean }> = []
  const clock: Clock = {
    now: () => (reads++, now),
    setTimer: (ms, callback) => {
      const timer = { at: now + ms, callback, cancelled: false }
      timers.push(timer)
      return { cancel: () => void (timer.cancelled = true) }
    },
    sleep: () => Promise.reject(new Error('not used')),
  }
  return { clock, set: (time) => void (now = time), reads: () => reads, timers }
}

/** Runs the earliest live timer of `timers` at its time, as its turn's timers phase would. */
function runNextTimer(held: ReturnType<typeof heldClock>): number {
  const timer = held.timers.filter((one) => !one.cancelled).sort((a, b) => a.at - b.at)[0]!
  held.timers.splice(held.timers.indexOf(timer), 1)
  held.set(timer.at)
  timer.callback()
  return timer.at
}

/** The rest of this event loop turn: its check phase, where the watchdog's refresh and polls run. */
function turn(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** A watchdog on a held clock, watching one working entry (timeout 100 ms, ticks every 1 ms) that records its hangs. */
function watchingOne(): { held: ReturnType<typeof heldClock>; watchdog: Watchdog; w: Watched; hangs: number[] } {
  const held = heldClock()
  const watchdog = new Watchdog(held.clock)
  const hangs: number[] = []
  const w = watched(100, hangs, held.clock)
  w.state = WORKING
  w.lastBeat = watchdog.cell.now
  watchdog.watch(w)
  return { held, watchdog, w, hangs }
}

/**
 * The next tick runs; 0.3 ms later in its turn `w` beats for the last time (stamped by the tick,
 * dated by the turn's refresh); then the timers run, a turn each, until its lower bound (the tick
 * + 100), where it is filed for its true deadline, 0.3 ms later. `each` runs in every such turn.
 * Returns the tick's time.
 */
async function lastBeatAfterTick(held: ReturnType<typeof heldClock>, watchdog: Watchdog, w: Watched, each = (): void => {}): Promise<number> {
  const tick = runNextTimer(held)
  held.set(tick + 0.3)
  w.lastBeat = watchdog.cell.now
  assert.equal(w.lastBeat, tick)
  await turn()
  while (runNextTimer(held) < tick + 100) {
    each()
    await turn()
  }
  return tick
}

test('coarse mode: a beat after a tick is dated by the refresh at the end of its event loop turn, not by the next tick', async () => {
  const { held, watchdog, w, hangs } = watchingOne()
  // The tick at 1 ms runs; later in the same turn (at 1.3 ms) the ward beats, stamped 1.
  await lastBeatAfterTick(held, watchdog, w)
  while (hangs.length === 0 && held.timers.some((timer) => !timer.cancelled)) {
    runNextTimer(held)
    await turn()
  }
  assert.deepEqual(hangs, [101.3], 'dated by the refresh at 1.3, not by the next tick at 2')
})

test('coarse mode: a deadline that passes during the tick\'s turn is reported by the refresh at its end, not by the next timer', async () => {
  const { held, hangs } = watchingOne() // stamped 0, dated by the tick at 1
  while (runNextTimer(held) < 100) await turn()
  // The timer at 100 (its lower bound) files it for 101 (its true deadline); the turn runs on to 101.5.
  assert.deepEqual(hangs, [])
  held.set(101.5)
  await turn()
  assert.deepEqual(hangs, [101.5], 'reported in the check phase of the same turn; no timer ran')
})

test('coarse mode: a true deadline less than 1 ms away is polled for each turn, not left to a timer rounded up to the next ms', async () => {
  const { held, watchdog, w, hangs } = watchingOne()
  // Filed at 101 for 101.3, 0.3 ms away; Node's timer would wait a whole ms.
  await lastBeatAfterTick(held, watchdog, w)
  held.set(101.2)
  await turn()
  assert.deepEqual(hangs, [], 'not early')
  held.set(101.4)
  await turn()
  assert.deepEqual(hangs, [101.4], 'reported by the next turn\'s poll; no timer ran')
})

test('coarse mode: polling for a deadline stops after MAX_POLLS turns when the clock stands still', async () => {
  const { held, watchdog, w, hangs } = watchingOne()
  await lastBeatAfterTick(held, watchdog, w)
  // Filed for 101.3 at 101; the clock stands at 101.2 from here on.
  held.set(101.2)
  const before = held.reads()
  for (let i = 0; i < 12_000; i++) await turn()
  const polls = held.reads() - before
  assert.ok(polls >= 4_000 && polls <= 5_100, `${polls} polls`)
  const after = held.reads()
  for (let i = 0; i < 1_000; i++) await turn()
  assert.equal(held.reads(), after, 'no more polls: the timer is left to report it')
  assert.deepEqual(hangs, [])
  held.set(101.3)
  runNextTimer(held)
  assert.deepEqual(hangs, [101.3])
  // The next deadline is polled for again: the count is per deadline.
  w.lastBeat = watchdog.cell.now
  watchdog.watch(w)
  const tick = await lastBeatAfterTick(held, watchdog, w)
  held.set(tick + 100.2)
  const polled = held.reads()
  for (let i = 0; i < 3; i++) await turn()
  assert.ok(held.reads() > polled, 'polled again')
  held.set(tick + 100.4)
  await turn()
  assert.deepEqual(hangs, [101.3, tick + 100.4])
})

test('coarse mode: a poll after a long blocked turn dates a beat of that turn by the poll, never early', async () => {
  const { held, watchdog, w, hangs } = watchingOne()
  const busyHangs: number[] = []
  const busy = watched(100, busyHangs, held.clock)
  busy.state = WORKING
  busy.lastBeat = watchdog.cell.now
  watchdog.watch(busy)
  // `w` beats last at 1.3 (stamped 1); `busy` beats in every turn.
  await lastBeatAfterTick(held, watchdog, w, () => void (busy.lastBeat = watchdog.cell.now))
  held.set(101.2)
  await turn() // the refresh at 101.2, then a poll: 0.1 ms to go
  // A callback blocks the loop for 150 ms; `busy` beats in it (stamped 101.2). The next turn's poll
  // comes before any timer: `w` is reported, and `busy`'s beat is dated by the poll, not by its stamp.
  held.set(200)
  busy.lastBeat = watchdog.cell.now
  held.set(251.2)
  await turn()
  assert.deepEqual(hangs, [251.2])
  assert.deepEqual(busyHangs, [], 'busy beat at 200, 51 ms ago: not hung')
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
