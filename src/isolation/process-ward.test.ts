import { afterEach, describe, test } from 'node:test'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'
import { connect } from 'node:net'
import { freePort } from '../testing/net.js'
import type { StewardEvent } from '../observe/events.js'
import { steward } from '../steward/steward.js'
import { liveChildren, processWard } from './process-ward.js'
import { liveWorkers, threadWard } from './thread-ward.js'
import { supervisor } from '../tree/supervisor.js'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import { dead } from '../testing/cli.js'
import { waitFor } from '../testing/wait.js'
import { MemoryLimitError, WardStartError } from '../steward/errors.js'

const child = fileURLToPath(new URL('../../test/fixtures/child.mjs', import.meta.url))
const node = process.execPath

/** Every pid seen is gone, and no process ward child is left. */
async function noChildLeft(pids: number[]): Promise<void> {
  await waitFor('every child gone', () => liveChildren.size === 0, 10_000, 10)
  assert.equal(liveChildren.size, 0, 'a child process is still tracked')
  for (const pid of pids) {
    assert.throws(() => process.kill(pid, 0), { code: 'ESRCH' }, `process ${pid} is alive`)
  }
}

function pidsOf(): { pids: number[]; track: () => void } {
  const pids: number[] = []
  return {
    pids,
    track: () => {
      for (const c of liveChildren) if (c.pid !== undefined && !pids.includes(c.pid)) pids.push(c.pid)
    },
  }
}

// A failed test must not leave a (frozen) child, or its group, behind for the next one.
afterEach(() => {
  for (const c of liveChildren) {
    c.kill('SIGCONT')
    c.kill('SIGKILL')
    try {
      if (c.pid !== undefined) process.kill(-c.pid, 'SIGKILL')
    } catch {
      // its group is gone
    }
  }
})


test('a child that stops beating is killed and restarted; its progress survives', { timeout: 30_000 }, async () => {
  const events: string[] = []
  const seen = pidsOf()
  // A child's boot counts against the start deadline (a loaded machine may take over a second), not the 1 s timeout.
  const run = steward(processWard(node, [child, 'hang'], { heartbeat: 'ipc' }), { name: 'hang', timeout: 1_000, startTimeout: '10s' }).start({
    onEvent: (event: StewardEvent) => {
      events.push(event.type)
      seen.track()
    },
  })
  const outcome = await run.done
  assert.equal(outcome.kind, 'completed')
  assert.deepEqual(events, ['started', 'spawned', 'hung', 'restarting', 'started', 'spawned', 'completed'])
  assert.equal(run.status().progress, 6, 'the second process resumed from 3 and finished')
  await noChildLeft(seen.pids)
})

test('a child that ignores SIGTERM gets SIGKILL after killAfter; the stop report says so', { timeout: 30_000 }, async () => {
  const seen = pidsOf()
  const run = steward(processWard(node, [child, 'deaf'], { heartbeat: 'ipc', killAfter: 200 }), { name: 'deaf', timeout: '1m' }).start()
  // Its first beat comes after it installed its SIGTERM handler.
  await waitFor('the ward up', () => run.status().up, 20_000, 10)
  seen.track()
  const report = await run.stop()
  assert.deepEqual(report.unstopped, [])
  assert.deepEqual(report.killed, [`deaf#${seen.pids[0]}`])
  await noChildLeft(seen.pids)
})

test('a child frozen with SIGSTOP is found hung, woken (SIGCONT) to act on its SIGTERM at once, and replaced', { timeout: 30_000 }, async () => {
  const seen = pidsOf()
  const events: string[] = []
  const exits: Array<NodeJS.Signals | null> = []
  // killAfter 60 s: the frozen child must end by its SIGTERM, woken, not by a SIGKILL.
  const ward = processWard(node, [child, 'beats'], { heartbeat: 'ipc', killAfter: '60s', onSpawn: (spawned) => spawned.once('exit', (_, signal) => exits.push(signal)) })
  const run = steward(ward, { timeout: 1_000, startTimeout: '10s', maxRestarts: 3 }).start({
    onEvent: (event) => {
      events.push(event.type)
      seen.track()
    },
  })
  let report
  try {
    await waitFor('the ward up', () => run.status().up, 20_000, 10)
    assert.ok(run.status().up, 'the child is up')
    seen.track()
    process.kill(seen.pids[0]!, 'SIGSTOP')
    await waitFor('a restart', () => events.includes('restarting'), 10_000, 10)
    for (let i = 0; i < 500 && seen.pids.length < 2; i++) {
      seen.track()
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    assert.deepEqual(events.slice(0, 4), ['started', 'spawned', 'hung', 'restarting'])
  } finally {
    // Stopped on every path: a failed assertion must not leave the run restarting children for the next test.
    report = await run.stop()
  }
  assert.deepEqual(report.killed, [], 'none needed SIGKILL')
  assert.equal(exits[0], 'SIGTERM', 'the frozen child ended by its SIGTERM')
  await noChildLeft(seen.pids)
})

test('exit code 0 completes, a non-zero exit is a failure', { timeout: 30_000 }, async () => {
  const ok = await steward(processWard(node, [child, 'exit', '0'])).start().done
  assert.equal(ok.kind, 'completed')
  const bad = await steward(processWard(node, [child, 'exit', '3']), { restart: 'temporary' }).start().done
  assert.ok(bad.kind === 'gave-up' && /exited with code 3/.test(bad.error.cause.message))
  await noChildLeft([])
})

test('lines on stdout are a heartbeat, and reach onLine, line events and the raw streams', { timeout: 30_000 }, async () => {
  const lines: string[] = []
  const events: string[] = []
  let raw = ''
  // 30 lines 100 ms apart: it runs about 3 s, seven times its 400 ms timeout and past its 2 s
  // start deadline, alive on its lines alone.
  const outcome = await steward(
    processWard(node, [child, 'stdout', '30', '100'], {
      heartbeat: 'stdout',
      onLine: (stream, line) => lines.push(`${stream}: ${line}`),
      onSpawn: (spawned) => spawned.stdout?.on('data', (chunk: Buffer) => (raw += chunk.toString())),
    }),
    { timeout: 400, startTimeout: '2s', restart: 'temporary' },
  ).start({
    onEvent: (event) => {
      if (event.type === 'line') events.push(`${event.stream} ${event.line}`)
      else if (event.type !== 'started') events.push(event.type)
    },
  }).done
  assert.equal(outcome.kind, 'completed')
  assert.equal(lines.length, 30)
  assert.equal(lines[0], 'stdout: line 1')
  assert.equal(events.at(-2), 'stdout line 30')
  assert.deepEqual(events.filter((event) => !event.startsWith('stdout')), ['spawned', 'completed'])
  assert.ok(raw.startsWith('line 1\nline 2\n'))
})

test('an HTTP-probed child whose probe starts failing is restarted', { timeout: 30_000 }, async () => {
  const port = await freePort()
  const seen = pidsOf()
  const events: string[] = []
  const times: number[] = []
  // Healthy for 2 s, four times its timeout: only answered probes keep it alive that long.
  const run = steward(processWard(node, [child, 'http', String(port), '2000'], { heartbeat: { http: `http://127.0.0.1:${port}/health`, every: 50 } }), {
    timeout: 500,
    startTimeout: '10s',
  }).start({
    onEvent: (event) => {
      events.push(event.type)
      times.push(event.at)
      seen.track()
    },
  })
  await waitFor('a second start', () => events.filter((type) => type === 'started').length >= 2, 20_000, 10)
  assert.deepEqual(events.slice(0, 5), ['started', 'spawned', 'hung', 'restarting', 'started'])
  assert.ok(times[2]! - times[0]! >= 2_000, `hung ${Math.round(times[2]! - times[0]!)} ms after its start, while its probe still answered`)
  await run.stop()
  await noChildLeft(seen.pids)
})

test('a TCP-probed child is healthy while it accepts connections', { timeout: 30_000 }, async () => {
  const port = await freePort()
  const seen = pidsOf()
  const events: string[] = []
  const run = steward(processWard(node, [child, 'http', String(port)], { heartbeat: { tcp: { port }, every: 50 } }), { timeout: 1_000, startTimeout: '10s' }).start({
    onEvent: (event) => {
      events.push(event.type)
      seen.track()
    },
  })
  await waitFor('its first probe to answer', () => run.status().up, 10_000)
  // Then up for more than two timeouts by the steward's own clock, on probes alone.
  await waitFor('an uptime of two and a half timeouts', () => (run.status().uptime ?? 0) > 2_500 || events.includes('hung'), 20_000)
  seen.track()
  assert.deepEqual(events, ['started', 'spawned'], 'never found hung: its port answers')
  await run.stop()
  await noChildLeft(seen.pids)
})

test("steward/child's idle: a child waiting for input is healthy without beating, and leaves on its own when stopped (no SIGKILL)", { timeout: 30_000 }, async () => {
  const seen = pidsOf()
  const events: string[] = []
  const lines: string[] = []
  // It ignores SIGTERM and killAfter is ten minutes: only leaving on its own ends this test in time.
  const run = steward(processWard(node, [child, 'waits'], { heartbeat: 'ipc', killAfter: '10m', onLine: (_, line) => lines.push(line) }), {
    timeout: 300,
    startTimeout: '10s',
  }).start({
    onEvent: (event) => {
      events.push(event.type)
      seen.track()
    },
  })
  await waitFor('the idle state', () => run.status().state === 'idle', 20_000, 10)
  const idleSince = Date.now()
  // Idle for more than three timeouts, checked all along: never hung.
  while (Date.now() - idleSince < 1_000) {
    assert.equal(run.status().state, 'idle')
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  assert.deepEqual(await run.stop(), { unstopped: [], killed: [] })
  assert.deepEqual(events, ['started', 'spawned', 'line', 'stopped'])
  assert.deepEqual(lines, ['left: steward asked this process to stop'])
  await noChildLeft(seen.pids)
})

test("heartbeat 'none': a child that works without a word for three timeouts is waiting, not hung, and leaves nothing behind", { timeout: 30_000 }, async () => {
  const events: string[] = []
  const { leaks } = await checkLeaks(async () => {
    const outcome = await steward(processWard(node, [child, 'quiet', '1500'], { heartbeat: 'none' }), { timeout: 500, restart: 'temporary' }).start({
      onEvent: (event) => events.push(event.type),
    }).done
    assert.equal(outcome.kind, 'completed')
  })
  assert.deepEqual(events, ['started', 'spawned', 'completed'])
  assert.deepEqual(leaks, noLeaks, 'the abort listener and the killAfter timer are gone')
  await noChildLeft([])
})

/** Whether a TCP connection to the port on 127.0.0.1 opens. */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host: '127.0.0.1' })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => {
      socket.destroy()
      resolve(false)
    })
  })
}

test('a child that stops when asked leaves no killAfter timer behind', { timeout: 30_000 }, async () => {
  const port = await freePort()
  const seen = pidsOf()
  const { leaks } = await checkLeaks(async () => {
    const run = steward(processWard(node, [child, 'http', String(port)], { heartbeat: { tcp: { port }, every: 50 }, killAfter: '10s' }), { timeout: 2_000, startTimeout: '10s' }).start({
      onEvent: () => seen.track(),
    })
    // Up: its port answers (it installs its SIGTERM handler before it listens).
    await waitFor('the port answering', () => answers(port), 10_000, 10)
    assert.deepEqual(await run.stop(), { unstopped: [], killed: [] }) // it exits on SIGTERM
  })
  assert.deepEqual(leaks, noLeaks)
  await noChildLeft(seen.pids)
})

test('a command that cannot be started is a failure, not a hang', { timeout: 30_000 }, async () => {
  const outcome = await steward(processWard('/nonexistent/steward-test-command'), { restart: 'temporary' }).start().done
  assert.ok(outcome.kind === 'gave-up' && /ENOENT/.test(outcome.error.cause.message), JSON.stringify(outcome))
  assert.equal(liveChildren.size, 0)
})

test("a child that sends output() to a process ward made with stream: false (the default) ends the run at once: a start error whose cause is a TypeError naming the option", { timeout: 30_000 }, async () => {
  const events: StewardEvent[] = []
  const run = steward(processWard(node, [child, 'poison'], { heartbeat: 'ipc' }), { name: 'outputs', startTimeout: '10s' }).start({ onEvent: (event) => events.push(event) })
  const outcome = await run.done
  assert.ok(outcome.kind === 'gave-up' && outcome.error.reason === 'start', JSON.stringify(outcome))
  assert.equal(outcome.error.restarts, 0, 'no restart: no new child can heal the option')
  const start = outcome.error.cause
  assert.ok(start instanceof WardStartError, String(start))
  const cause = start.cause
  assert.ok(cause instanceof TypeError, String(cause))
  assert.match(cause.message, /^processWard 'outputs': the child sent an output \(output\(\) of steward\/child\), but the ward was made with option 'stream' false \(the default\)/)
  assert.match(cause.message, /pass \{ heartbeat: 'ipc', stream: true \} to processWard\(\)/)
  assert.equal(start.message, `ward 'outputs': cannot start command '${node}': ${cause.message.replace("processWard 'outputs': ", '')}`, 'the option named in the message the CLI prints')
  assert.deepEqual(events.filter((event) => event.type === 'started').length, 1)
  await noChildLeft([])
})

test('what a child sends just before it exits is delivered: its exit comes after its last message (3 × 30 children at once)', { timeout: 60_000 }, async () => {
  // A busy steward can see a child's exit before the last messages in its IPC pipe: 30 children
  // starting together lost some without the wait for the channel to close (on Node 20, 22 and 24,
  // in most rounds: three rounds make the loss all but certain to show).
  for (let round = 1; round <= 3; round++) {
    const outputs = await Promise.all(
      Array.from({ length: 30 }, async () => {
        const run = steward(processWard<string>(node, [child, 'burst'], { heartbeat: 'ipc', stream: true }), { timeout: '10s', startTimeout: '20s' }).start()
        const values: string[] = []
        for await (const value of run) values.push(value)
        assert.equal((await run.done).kind, 'completed')
        return values
      }),
    )
    assert.deepEqual(outputs.filter((values) => values.length !== 2), [], `round ${round}: a child whose outputs were lost`)
  }
  await noChildLeft([])
})

test('bad process ward arguments are refused', () => {
  assert.throws(() => processWard(''), /command must be a non-empty string/)
  assert.throws(() => processWard(node, ['x'], { heartbeat: 'smoke' as never }), /option 'heartbeat' must be/)
  assert.throws(() => processWard(node, [], { stream: true }), /'stream' needs heartbeat 'ipc'/)
  assert.throws(() => processWard(node, [], { killAfter: -1 }), /option 'killAfter': must not be negative/)
  assert.throws(() => processWard(node, [], { wat: 1 } as never), /unknown option 'wat'/)
  // threadWard's options are named as such, not "unknown"; env values are checked one by one.
  assert.throws(() => processWard(node, [], { warm: true } as never), /processWard: option 'warm' applies only to threadWard \(a worker thread\), not to a child process/)
  assert.throws(() => processWard(node, [], { export: 'run' } as never), /processWard: option 'export' applies only to threadWard/)
  assert.throws(() => processWard(node, [], { env: { PORT: 8080 } } as never), /processWard: option 'env\.PORT' must be a string, got the number 8080/)
  assert.doesNotThrow(() => processWard(node, [], { env: { PORT: '8080', UNSET: undefined } }))
  assert.throws(() => processWard(node, [], { cwd: 7 as never }), /option 'cwd' must be a string/)
  assert.throws(() => processWard(node, [], { env: 'x' as never }), /option 'env' must be an object/)
  assert.throws(() => processWard(node, [], { shell: 1 as never }), /option 'shell' must be a boolean/)
})

test('process and thread wards nest in a supervisor and are gone when it stops', { timeout: 30_000 }, async () => {
  const seen = pidsOf()
  const tree = supervisor({ name: 'isolated' }, [
    { name: 'child', ward: processWard(node, [child, 'beats'], { heartbeat: 'ipc' }), timeout: 1_000, startTimeout: '10s' },
    {
      name: 'thread',
      ward: threadWard(new URL('../../test/fixtures/thread-wards.mjs', import.meta.url), { export: 'waits', stream: false }),
      timeout: 1_000,
      startTimeout: '10s',
    },
  ]).start()
  for (let i = 0; i < 300 && (liveChildren.size === 0 || liveWorkers.size === 0); i++) {
    seen.track()
    await new Promise((resolve) => setTimeout(resolve, 10))
  }
  seen.track()
  assert.equal(seen.pids.length, 1)
  const report = await tree.stop()
  assert.deepEqual(report, { unstopped: [], killed: [] })
  await noChildLeft(seen.pids)
  await waitFor('every worker gone', () => liveWorkers.size === 0, 10_000, 10)
  assert.equal(liveWorkers.size, 0)
})

describe('a stream: true process ward stops its child gracefully on every path', () => {
  const flushes = (file: string): string[] => (existsSync(file) ? readFileSync(file, 'utf8').trim().split('\n') : [])
  const withDir = async (body: (file: string) => Promise<void>): Promise<void> => {
    const dir = mkdtempSync(join(tmpdir(), 'steward-stream-'))
    try {
      await body(join(dir, 'flush.log'))
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  }

  test('stopped while its output waits on the consumer: SIGTERM, the handler runs, nothing killed', { timeout: 30_000 }, () =>
    withDir(async (file) => {
      const run = steward(processWard<number>(node, [child, 'stream-flush', file], { heartbeat: 'ipc', stream: true, killAfter: '10s' }), { timeout: 2_000, startTimeout: '10s' }).start()
      const first = await run.next()
      assert.equal(first.value, 0)
      const report = await run.stop() // the generator is suspended at its yield: nobody pulls
      assert.deepEqual(report, { unstopped: [], killed: [] })
      assert.deepEqual(flushes(file), ['flushed 1'])
      await noChildLeft([])
    }))

  test('the consumer leaves the loop: the same graceful stop', { timeout: 30_000 }, () =>
    withDir(async (file) => {
      const run = steward(processWard<number>(node, [child, 'stream-flush', file], { heartbeat: 'ipc', stream: true, killAfter: '10s' }), { timeout: 2_000, startTimeout: '10s' }).start()
      const values: number[] = []
      for await (const value of run) {
        values.push(value)
        if (values.length === 3) break
      }
      assert.deepEqual(values, [0, 1, 2])
      assert.equal((await run.done).kind, 'stopped')
      assert.deepEqual(await run.stop(), { unstopped: [], killed: [] })
      assert.deepEqual(flushes(file), ['flushed 1'])
      await noChildLeft([])
    }))

  test('a restart (the child stopped beating): the old child is asked, flushes, and the next resumes after the last output', { timeout: 30_000 }, () =>
    withDir(async (file) => {
      const events: string[] = []
      const run = steward(processWard<number>(node, [child, 'stream-flush', file, 'hang'], { heartbeat: 'ipc', stream: true, killAfter: '10s' }), {
        timeout: 500,
        startTimeout: '10s',
      }).start({ onEvent: (event) => void (event.type !== 'line' && events.push(event.type)) })
      const values: number[] = []
      for await (const value of run) {
        values.push(value)
        if (values.length === 6) break
      }
      assert.deepEqual(values, [0, 1, 2, 3, 4, 5])
      assert.deepEqual(flushes(file), ['flushed 1', 'flushed 2'])
      assert.deepEqual(events.slice(0, 5), ['started', 'spawned', 'hung', 'restarting', 'started'])
      assert.deepEqual(await run.stop(), { unstopped: [], killed: [] })
      await noChildLeft([])
    }))

  test('a child that ignores SIGTERM is SIGKILLed after killAfter and listed in killed', { timeout: 30_000 }, () =>
    withDir(async (file) => {
      const run = steward(processWard<number>(node, [child, 'stream-deaf', file], { heartbeat: 'ipc', stream: true, killAfter: 200 }), { timeout: 2_000, startTimeout: '10s' }).start()
      await run.next()
      const pid = Number(readFileSync(`${file}.1.pid`, 'utf8'))
      const report = await run.stop()
      assert.deepEqual(report, { unstopped: [], killed: [`processWard#${pid}`] })
      assert.deepEqual(flushes(file), [])
      await noChildLeft([pid])
    }))
})

describe('exec and function probes', () => {
  test('an exec probe (a command that exits 0) that starts failing: hung within timeout + one probe, restarted; no probe outlives the ward', { timeout: 30_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'steward-exec-'))
    const healthy = join(dir, 'healthy')
    writeFileSync(healthy, '')
    const seen = pidsOf()
    const events: Array<{ type: string; at: number }> = []
    const { leaks } = await checkLeaks(async () => {
      const run = steward(processWard(node, [child, 'quiet', '60000'], { heartbeat: { exec: ['test', '-f', healthy], every: 50, timeout: 1_000 } }), {
        timeout: 500,
        startTimeout: '10s',
      }).start({
        onEvent: (event) => {
          events.push({ type: event.type, at: event.at })
          seen.track()
        },
      })
      await waitFor('the ward up', () => run.status().up, 20_000, 10)
      assert.ok(run.status().up, 'its probe answered')
      const failingFrom = performance.now()
      rmSync(healthy)
      await waitFor('a hung event', () => events.some((event) => event.type === 'hung'), 20_000, 10)
      writeFileSync(healthy, '')
      const hung = events.find((event) => event.type === 'hung')!
      assert.ok(hung.at - failingFrom < 500 + 50 + 1_000, `hung ${Math.round(hung.at - failingFrom)} ms after the probe started failing`)
      await waitFor('a second start', () => events.filter((event) => event.type === 'started').length >= 2, 20_000, 10)
      assert.deepEqual(events.slice(0, 5).map((event) => event.type), ['started', 'spawned', 'hung', 'restarting', 'started'])
      await run.stop()
    })
    rmSync(dir, { recursive: true, force: true })
    assert.deepEqual(leaks, noLeaks, 'no probe process, timer or listener left')
    await noChildLeft(seen.pids)
  })

  test('a probe function sees a server frozen with SIGSTOP (a TCP probe cannot: the kernel still accepts)', { timeout: 30_000 }, async () => {
    const port = await freePort()
    const seen = pidsOf()
    const events: string[] = []
    const run = steward(
      processWard(node, [child, 'http', String(port), '600000'], {
        heartbeat: {
          every: 100,
          // Any protocol: here an HTTP request, cancelled by the probe's signal at its deadline.
          probe: async (signal) => {
            const response = await fetch(`http://127.0.0.1:${port}/health`, { signal })
            await response.body?.cancel()
            if (!response.ok) throw new Error(`status ${response.status}`)
          },
        },
        killAfter: 100,
      }),
      { timeout: 1_000, startTimeout: '10s' },
    ).start({
      onEvent: (event) => {
        events.push(event.type)
        seen.track()
      },
    })
    await waitFor('the ward up', () => run.status().up, 20_000, 10)
    assert.ok(run.status().up)
    seen.track()
    process.kill(seen.pids[0]!, 'SIGSTOP')
    await waitFor('a second start', () => events.filter((type) => type === 'started').length >= 2, 20_000, 10)
    assert.deepEqual(events.slice(0, 5), ['started', 'spawned', 'hung', 'restarting', 'started'])
    await run.stop()
    await noChildLeft(seen.pids)
  })

  test('a slow exec probe is killed when the ward ends: it never outlives it', { timeout: 30_000 }, async () => {
    const marker = `${60 + Math.random()}`
    const probesRunning = (): number[] =>
      readdirSync('/proc').filter((entry) => {
        if (!/^\d+$/.test(entry)) return false
        try {
          return readFileSync(`/proc/${entry}/cmdline`, 'utf8') === `sleep\0${marker}\0`
        } catch {
          return false
        }
      }).map(Number)
    const seen = pidsOf()
    const { leaks } = await checkLeaks(async () => {
      const run = steward(processWard(node, [child, 'quiet', '60000'], { heartbeat: { exec: ['sleep', marker], every: 20, timeout: '1m' } }), {
        timeout: '1m',
      }).start({ onEvent: () => seen.track() })
      await waitFor('a probe running', () => probesRunning().length > 0, 20_000, 10)
      const probes = probesRunning()
      assert.equal(probes.length, 1, 'one probe at a time')
      await run.stop()
      // The ward waited for its probe to exit before it settled: nothing to wait for here.
      assert.deepEqual(probesRunning(), [])
    })
    assert.deepEqual(leaks, noLeaks)
    await noChildLeft(seen.pids)
  })

  test('bad exec and probe heartbeats are refused, naming the key', () => {
    assert.throws(() => processWard(node, [], { heartbeat: { exec: [] as never } }), /'heartbeat.exec' must be \[command, ...args\]/)
    assert.throws(() => processWard(node, [], { heartbeat: { exec: ['ok', 3] as never } }), /'heartbeat.exec'/)
    assert.throws(() => processWard(node, [], { heartbeat: { exec: ['ok'], timeout: -1 } }), /'heartbeat.timeout'/)
    assert.throws(() => processWard(node, [], { heartbeat: { probe: 'ping' as never } }), /'heartbeat.probe' must be a function/)
  })

  test("a bad heartbeat.every is refused when the ward is made, for every probe kind: no incarnation spawns a child the probe loop would then refuse", () => {
    const probes = [{ tcp: { port: 1 } }, { http: 'http://127.0.0.1:1/' }, { exec: ['true'] as [string] }, { probe: async () => {} }]
    for (const probe of probes) {
      for (const every of [0, -5, 'soon']) {
        assert.throws(() => processWard(node, [], { heartbeat: { ...probe, every } as never }), { message: /processWard: option 'heartbeat.every'/ }, `${JSON.stringify(probe)} every ${String(every)}`)
      }
    }
  })
})

describe('process groups: nothing the child started outlives the ward', () => {
  const grandchildren = (lines: string[]): number[] => lines.flatMap((line) => (/^grandchild (\d+)$/.exec(line) ? [Number(line.slice(11))] : []))
  const linuxOnly = { skip: process.platform === 'linux' ? false : 'reads /proc' }

  test('stop(): grandchildren that ignore SIGTERM get SIGKILL with the group after killAfter; none is alive when stop() resolves', { timeout: 30_000, ...linuxOnly }, async () => {
    const lines: string[] = []
    const seen = pidsOf()
    const run = steward(processWard(node, [child, 'tree', '2', 'deaf'], { heartbeat: 'ipc', killAfter: 300, onLine: (_, line) => lines.push(line) }), {
      name: 'tree',
      timeout: 2_000,
      startTimeout: '10s',
    }).start({ onEvent: () => seen.track() })
    // Its first beat comes after every grandchild printed its pid.
    await waitFor('the ward up', () => run.status().up, 20_000, 10)
    seen.track()
    const pids = grandchildren(lines)
    assert.equal(pids.length, 4, `two shells and their sleeps: ${lines.join(', ')}`)
    assert.ok(pids.every((pid) => !dead(pid)), 'they run')
    const report = await run.stop()
    assert.deepEqual(
      pids.filter((pid) => !dead(pid)),
      [],
      'no grandchild is alive once stop() resolved',
    )
    assert.deepEqual(report.killed, [`tree#${seen.pids[0]}`], 'SIGKILL was needed, and said so')
    await noChildLeft(seen.pids)
  })

  test('stop(): grandchildren that exit on SIGTERM need no SIGKILL, and the report says none', { timeout: 30_000, ...linuxOnly }, async () => {
    const lines: string[] = []
    const seen = pidsOf()
    const run = steward(processWard(node, [child, 'tree', '2', 'polite'], { heartbeat: 'ipc', killAfter: '20s', onLine: (_, line) => lines.push(line) }), {
      timeout: 2_000,
      startTimeout: '10s',
    }).start({ onEvent: () => seen.track() })
    await waitFor('the ward up', () => run.status().up, 20_000, 10)
    seen.track()
    const pids = grandchildren(lines)
    assert.equal(pids.length, 4)
    const started = performance.now()
    const report = await run.stop()
    assert.ok(performance.now() - started < 10_000, 'well before killAfter')
    assert.deepEqual(report, { unstopped: [], killed: [] })
    assert.deepEqual(pids.filter((pid) => !dead(pid)), [])
    await noChildLeft(seen.pids)
  })

  test('a crash: the child exits on its own, its group is signalled, and the ward settles only when no member is left', { timeout: 30_000, ...linuxOnly }, async () => {
    const lines: string[] = []
    const seen = pidsOf()
    const events: string[] = []
    let aliveAtFailure: number[] | undefined
    let spawned: ChildProcess | undefined
    const run = steward(
      processWard(node, [child, 'tree', '2', 'deaf', 'crash'], { heartbeat: 'ipc', killAfter: 1_500, onLine: (_, line) => lines.push(line), onSpawn: (c) => (spawned = c) }),
      {
        name: 'crash',
        restart: 'temporary',
        startTimeout: '10s',
      },
    ).start({
      onEvent: (event) => {
        if (event.type !== 'line') events.push(event.type)
        seen.track()
        if (event.type === 'failed') aliveAtFailure = grandchildren(lines).filter((pid) => !dead(pid))
      },
    })
    // The child exited; its deaf grandchildren live on until SIGKILL, 1.5 s later: it is still tracked.
    await waitFor('the child\'s exit', () => spawned?.exitCode != null, 20_000, 10)
    assert.equal(spawned?.exitCode, 1)
    const tracked = liveChildren.has(spawned)
    const outcome = await run.done
    assert.ok(tracked, 'a child whose group is alive stays in liveChildren after its exit')
    const pids = grandchildren(lines)
    assert.equal(pids.length, 4, lines.join(', '))
    assert.ok(outcome.kind === 'gave-up' && /exited with code 1/.test(outcome.error.cause.message), JSON.stringify(outcome))
    assert.deepEqual(events, ['started', 'spawned', 'failed', 'gave-up'])
    assert.deepEqual(aliveAtFailure, [], 'the failure is reported once the group is empty')
    assert.deepEqual(pids.filter((pid) => !dead(pid)), [])
    assert.deepEqual((await run.stop()).killed, [`crash#${seen.pids[0]}`])
    await noChildLeft(seen.pids)
  })
})

describe('maxMemory: a process group over its limit is retired, a failure with reason memory', () => {
  const linuxOnly = { skip: process.platform === 'linux' ? false : 'reads /proc' }
  const limit = 200_000_000

  test('a child that grows past maxMemory is killed and restarted; failed and restarting say memory', { timeout: 30_000, ...linuxOnly }, async () => {
    const events: StewardEvent[] = []
    let failure: unknown
    const pids: number[] = []
    const run = steward(processWard(node, [child, 'hog'], { heartbeat: 'ipc', maxMemory: '200MB', memoryEvery: 50, killAfter: 500, onSpawn: (spawned) => pids.push(spawned.pid!) }), {
      name: 'hog',
      timeout: 2_000,
      startTimeout: '10s',
      shouldRestart: (error) => {
        failure = error
        return true
      },
    }).start({
      onEvent: (event) => events.push(event),
    })
    const outcome = await run.done
    assert.equal(outcome.kind, 'completed', JSON.stringify(outcome))
    assert.deepEqual(
      events.filter((event) => event.type !== 'line').map((event) => ('reason' in event ? `${event.type} ${event.reason}` : event.type)),
      ['started', 'spawned', 'failed memory', 'restarting memory', 'started', 'spawned', 'completed'],
    )
    const failed = events.find((event) => event.type === 'failed')
    assert.equal(failed?.type === 'failed' && failed.error.code, 'ERR_WARD_MEMORY')
    assert.ok(failure instanceof MemoryLimitError, String(failure))
    assert.equal(failure.limit, limit)
    assert.equal(failure.pid, pids[0])
    // Sampled every 50 ms while it grows 20 MB every 50 ms: caught near the line, not at 1 GB.
    assert.ok(failure.rss !== undefined && failure.rss > limit && failure.rss < limit + 300_000_000, `rss ${failure.rss}`)
    await noChildLeft(pids)
  })

  test("the whole group counts: a grandchild that grows restarts its child; a supervisor's decision says memory", { timeout: 30_000, ...linuxOnly }, async () => {
    const pids: number[] = []
    const events: StewardEvent[] = []
    const tree = supervisor({ name: 'tree' }, [
      { name: 'hog', ward: processWard(node, [child, 'hog', 'grandchild'], { heartbeat: 'ipc', maxMemory: limit, memoryEvery: 50, onSpawn: (spawned) => pids.push(spawned.pid!) }), restart: 'transient', timeout: 2_000, startTimeout: '10s' },
    ]).start({
      onEvent: (event) => events.push(event),
    })
    await waitFor('the completed event', () => events.some((event) => event.type === 'completed'), 40_000, 10)
    const decision = events.find((event) => event.type === 'decision')
    assert.ok(decision?.type === 'decision', events.map((event) => event.type).join(', '))
    assert.equal(decision.reason, 'memory')
    assert.equal(decision.child, 'hog')
    assert.deepEqual(
      events.filter((event) => event.type === 'restarting' || event.type === 'failed').map((event) => `${event.type} ${'reason' in event ? event.reason : ''}`),
      ['failed memory', 'restarting memory'],
    )
    assert.ok(events.some((event) => event.type === 'completed'), 'the second child completed')
    await tree.stop()
    assert.equal(pids.length, 2)
    await noChildLeft(pids)
  })

  test('a stream ward whose consumer does not pull: the child over its limit is killed all the same, the failure seen at the next pull', { timeout: 30_000, ...linuxOnly }, async () => {
    const pids: number[] = []
    const events: string[] = []
    const run = steward(
      processWard<number>(node, [child, 'hog', 'stream'], { heartbeat: 'ipc', stream: true, maxMemory: limit, memoryEvery: 50, killAfter: 500, onSpawn: (spawned) => pids.push(spawned.pid!) }),
      { timeout: 2_000, startTimeout: '10s' },
    ).start({ onEvent: (event) => void (event.type !== 'line' && events.push('reason' in event ? `${event.type} ${event.reason}` : event.type)) })
    assert.equal((await run.next()).value, 0)
    // Nobody pulls: the ward is suspended at its yield, and its child grows past the limit.
    const gone = (): boolean => {
      try {
        process.kill(pids[0]!, 0)
        return false
      } catch {
        return true
      }
    }
    await waitFor('the child gone', () => gone(), 20_000, 10)
    assert.ok(gone(), 'the child was killed while nobody pulled')
    assert.deepEqual(events, ['started', 'spawned'], 'the failure waits for the ward to run')
    assert.equal((await run.next()).done, true, 'the next pull: the failure, a restart, the second child completes')
    assert.deepEqual(events, ['started', 'spawned', 'failed memory', 'restarting memory', 'started', 'spawned', 'completed'])
    await noChildLeft(pids)
  })

  test('a child under its limit runs on; the sampler leaves nothing behind', { timeout: 30_000, ...linuxOnly }, async () => {
    const events: string[] = []
    const { leaks } = await checkLeaks(async () => {
      const outcome = await steward(processWard(node, [child, 'quiet', '600'], { maxMemory: '1GiB', memoryEvery: 20 }), { restart: 'temporary' }).start({
        onEvent: (event) => events.push(event.type),
      }).done
      assert.equal(outcome.kind, 'completed')
    })
    assert.deepEqual(events, ['started', 'spawned', 'completed'])
    assert.deepEqual(leaks, noLeaks, 'no sampling timer left')
    await noChildLeft([])
  })

  test('bad maxMemory and memoryEvery are refused, naming the option and the reason', () => {
    assert.throws(() => processWard(node, [], { maxMemory: 'lots' as never }), /processWard: option 'maxMemory': "lots" is not a size/)
    assert.throws(() => processWard(node, [], { maxMemory: '512M' as never }), /option 'maxMemory': "512M" is not a size/)
    assert.throws(() => processWard(node, [], { maxMemory: 0 }), /option 'maxMemory': must be at least 1 byte/)
    assert.throws(() => processWard(node, [], { maxMemory: true as never }), /option 'maxMemory': expected a size/)
    assert.throws(() => processWard(node, [], { memoryEvery: '1s' }), /option 'memoryEvery' needs option 'maxMemory'/)
    assert.throws(() => processWard(node, [], { maxMemory: '1GB', memoryEvery: 0 }), /option 'memoryEvery': must be greater than zero/)
    assert.throws(() => processWard(node, [], { maxMemory: '1GB', memoryEvery: 'often' as never }), /option 'memoryEvery': "often" is not a duration/)
  })
})
