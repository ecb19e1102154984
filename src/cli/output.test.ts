import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { StewardEvent } from '../observe/events.js'
import { Printer } from './output.js'
import { runUsage } from './run.js'
import { upUsage } from './up.js'
import { usage as mainUsage } from './main.js'

// What a person reads: a ward is "started" once its child or worker is (spawned, with its pid or
// thread); a hang says why its probe failed; a piece of a long line says the line goes on.

const base = { ward: 'api', path: 'app/api', at: 5, attempt: 1 }

function printed(json: boolean, ...events: StewardEvent[]): string[] {
  const lines: string[] = []
  const printer = new Printer({ json, colour: false, write: (line) => lines.push(line), now: () => Date.UTC(2026, 0, 1, 12, 30, 45, 123), pid: 100 })
  for (const event of events) printer.event(event)
  return lines
}

const time = '2026-01-01T12:30:45.123Z'

test('text: started prints nothing, spawned prints started with its pid or thread and attempt; JSON prints both as they are, with time and pid', () => {
  const started = { ...base, type: 'started', resume: undefined } as const
  const spawned = { ...base, type: 'spawned', pid: 4242 } as const
  const again = { ...base, attempt: 3, type: 'spawned', threadId: 7 } as const
  assert.deepEqual(printed(false, started, spawned, again), ['12:30:45.123 app/api started (pid 4242)', '12:30:45.123 app/api started (attempt 3, thread 7)'])
  assert.deepEqual(
    printed(true, started, spawned).map((line) => JSON.parse(line) as { type: string }),
    [
      { ...base, type: 'started', time, pid: 100 },
      { ...spawned, time, pid: 4242 },
    ],
  )
})

test("JSON: an event of a process ward's incarnation carries its child's pid from spawned on; before it, after the next start, and for other wards and notes, steward's own", () => {
  const lines: string[] = []
  const printer = new Printer({ json: true, colour: false, write: (line) => lines.push(line), now: () => Date.UTC(2026, 0, 1, 12, 30, 45, 123), pid: 100 })
  printer.event({ ...base, type: 'started', resume: undefined })
  printer.event({ ...base, type: 'spawned', pid: 4242 })
  printer.event({ ...base, type: 'line', stream: 'stderr', line: 'x' })
  printer.event({ ...base, type: 'hung', timeout: 10, starting: false, overdue: 1 })
  printer.event({ ...base, ward: 'web', path: 'app/web', type: 'line', stream: 'stdout', line: 'y' })
  printer.event({ ...base, attempt: 2, type: 'started', resume: undefined })
  printer.event({ ...base, attempt: 2, type: 'spawned', pid: 5353 })
  printer.event({ ...base, attempt: 2, type: 'line', stream: 'stdout', line: 'z' })
  printer.note('stopping', { signal: 'SIGTERM' })
  printer.report({ unstopped: [], killed: [] }, 143)
  const parsed = lines.map((line) => JSON.parse(line) as { type: string; pid: number; time: string })
  assert.deepEqual(
    parsed.map((line) => `${line.type} ${line.pid}`),
    ['started 100', 'spawned 4242', 'line 4242', 'hung 4242', 'line 100', 'started 100', 'spawned 5353', 'line 5353', 'steward 100', 'stop-report 100'],
  )
  for (const line of parsed) assert.equal(line.time, time)
})

test("text: a hang says its probe's failure; a partial line is marked, its last piece not", () => {
  const probeFailure = { kind: 'exec', message: 'exec redis-clii: not found (ENOENT)', code: 'ENOENT', attempt: 1, at: 4, failures: 3 } as const
  assert.deepEqual(printed(false, { ...base, type: 'hung', timeout: 2_000, starting: true, overdue: 3, probeFailure }), [
    '12:30:45.123 app/api hung: no first beat within 2000 ms; probe: exec redis-clii: not found (ENOENT)',
  ])
  assert.deepEqual(
    printed(false, { ...base, type: 'line', stream: 'stderr', line: 'aaaa', partial: true }, { ...base, type: 'line', stream: 'stderr', line: 'bb' }),
    ['app/api ! aaaa [continues]', 'app/api ! bb'],
  )
})

test('text: a decision reads as a restart, an escalation, or (independent) a child giving up alone', () => {
  const decision = {
    ...base,
    ward: 'app',
    path: 'app',
    type: 'decision',
    child: 'api',
    reason: 'failed',
    strategy: 'independent',
    action: 'restart',
    restarting: ['api'],
    merged: false,
    restarts: 2,
    maxRestarts: 3,
    within: 5000,
    intensity: 'window',
    delay: 0,
  } as const
  assert.deepEqual(printed(false, decision, { ...decision, action: 'give-up', restarting: [], restarts: 4 }, { ...decision, strategy: 'one-for-one', action: 'escalate', restarting: [], restarts: 4 }), [
    '12:30:45.123 app api failed: restart api (independent; 2 of 3)',
    '12:30:45.123 app api failed: api gives up alone (4 restarts, 3 allowed)',
    '12:30:45.123 app api failed: escalate (4 restarts, 3 allowed)',
  ])
})

test('--help of run, up and the demo: every flag row and its continuation lines align at one column', () => {
  const column = 24
  for (const [name, text] of [
    ['run', runUsage],
    ['up', upUsage],
    ['steward', mainUsage],
  ] as const) {
    const lines = text.split('\n')
    let inFlags = false
    for (const line of lines) {
      const flag = /^ {2}(--\S+(?: \S+)?)( +)\S/.exec(line)
      if (flag !== null) {
        inFlags = true
        // A flag too long for the column is followed by two spaces (--max-line-length SIZE).
        const at = 2 + flag[1]!.length + flag[2]!.length
        assert.ok(at === column || (2 + flag[1]!.length >= column - 2 && flag[2] === '  '), `${name}: ${JSON.stringify(line)} starts its text at ${at}, not ${column}`)
      } else if (inFlags && /^ +\S/.test(line)) {
        assert.equal(/^ */.exec(line)![0].length, column, `${name}: continuation ${JSON.stringify(line)}`)
      } else inFlags = false
    }
  }
})
