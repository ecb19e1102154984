// The fault matrix: each row a fault of a ward's first incarnation, each column a kind of ward
// (a promise ward, an async-generator ward, a steward nested in a steward). Every cell asserts
// the events, the outputs delivered, the outcome, and that nothing was left behind.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { ManualClock } from '../time/manual-clock.js'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import type { StewardEvent } from '../observe/events.js'
import { steward } from './steward.js'
import type { Outcome, Run } from './run-api.js'
import type { StewardOptions } from './options.js'
import type { Ward, WardContext } from './ward.js'
import { aborted } from '../testing/wait.js'

type Kind = 'promise' | 'stream' | 'nested'

type Fault =
  | 'throws synchronously'
  | 'rejects later'
  | 'returns early'
  | 'hangs silently'
  | 'livelocks'
  | 'waits for input forever'
  | 'waits for input forever, with idleTimeout'
  | 'ignores its abort and never settles'
  | 'keeps emitting after its abort'
  | 'throws a non-Error value'
  | 'beats after it was replaced'

/** The first event a fault causes, or none when it does not end the incarnation. */
const causes: Record<Fault, string | undefined> = {
  'throws synchronously': 'failed',
  'rejects later': 'failed',
  'returns early': undefined,
  'hangs silently': 'hung',
  livelocks: 'stalled',
  'waits for input forever': undefined,
  'waits for input forever, with idleTimeout': 'idle-timeout',
  'ignores its abort and never settles': 'hung',
  'keeps emitting after its abort': 'hung',
  'throws a non-Error value': 'failed',
  'beats after it was replaced': 'hung',
}
const deaf = new Set<Fault>(['ignores its abort and never settles', 'beats after it was replaced'])

/** What a cell's wards share: the clock, a call count, and the means to end the misbehaviour afterwards. */
class Env {
  readonly clock = new ManualClock()
  calls = 0
  #releases: Array<() => void> = []
  zombie = true

  /** A promise that settles only when the test cleans up: a ward that never settles on its own. */
  never(): Promise<void> {
    return new Promise((resolve) => this.#releases.push(resolve))
  }

  async cleanUp(): Promise<void> {
    this.zombie = false
    for (const release of this.#releases) release()
    await this.clock.advance(1_000)
  }
}

/** The first incarnation misbehaves as `fault`; later ones work (the stream ones yield 'a', 'b'). */
function faulty(kind: 'promise' | 'stream', fault: Fault, env: Env): Ward<string> {
  const { clock } = env
  const misbehave = async (ctx: WardContext, emit: (value: string) => void): Promise<void> => {
    switch (fault) {
      case 'rejects later':
        await clock.sleep(20, ctx.signal)
        throw new Error('rejected later')
      case 'returns early':
        return
      case 'hangs silently':
        return aborted(ctx.signal)
      case 'livelocks':
        while (!ctx.signal.aborted) {
          ctx.beat() // alive, never progressing
          await clock.sleep(50, ctx.signal).catch(() => {})
        }
        return
      case 'waits for input forever':
      case 'waits for input forever, with idleTimeout':
        await ctx.idle(aborted(ctx.signal))
        return
      case 'ignores its abort and never settles':
        return env.never()
      case 'keeps emitting after its abort':
        await aborted(ctx.signal)
        emit('late 1')
        emit('late 2')
        return
      case 'beats after it was replaced':
        void (async () => {
          await aborted(ctx.signal)
          while (env.zombie) {
            ctx.beat('zombie')
            await clock.sleep(30)
          }
        })()
        return env.never()
      case 'throws a non-Error value':
        throw 'not an error' // eslint-disable-line @typescript-eslint/only-throw-error
      case 'throws synchronously':
        throw new Error('unreachable: thrown before')
    }
  }
  if (kind === 'promise') {
    return (ctx: WardContext): Promise<void> => {
      if (++env.calls > 1) return (async () => ctx.beat())()
      if (fault === 'throws synchronously') throw new Error('thrown at once')
      return misbehave(ctx, (value) => ctx.beat(value))
    }
  }
  return (ctx: WardContext): AsyncIterable<string> => {
    if (++env.calls === 1 && fault === 'throws synchronously') throw new Error('thrown at once')
    const first = env.calls === 1
    return (async function* (): AsyncGenerator<string> {
      if (first) {
        const late: string[] = []
        await misbehave(ctx, (value) => late.push(value))
        yield* late
        return
      }
      ctx.beat()
      yield 'a'
      ctx.beat()
      yield 'b'
    })()
  }
}

const inner = (fault: Fault): StewardOptions => ({
  timeout: 100,
  progressTimeout: 300,
  stopTimeout: 50,
  ...(fault === 'waits for input forever, with idleTimeout' ? { idleTimeout: 500 } : {}),
})

function start(kind: Kind, fault: Fault, env: Env, onEvent: (event: StewardEvent) => void): Run<string> {
  if (kind === 'nested') {
    const child = steward(faulty('stream', fault, env), { name: 'inner', maxRestarts: 0, ...inner(fault) })
    return steward(child, { name: 'outer', timeout: 1_000, maxRestarts: 5 }).start({ clock: env.clock, onEvent })
  }
  return steward(faulty(kind, fault, env), { name: 'ward', maxRestarts: 5, ...inner(fault) }).start({ clock: env.clock, onEvent })
}

/** The significant events a cell must show, in order. */
function expectedEvents(kind: Kind, fault: Fault): string[] {
  const cause = causes[fault]
  const waits = fault === 'waits for input forever'
  if (kind !== 'nested') {
    if (cause === undefined) return [waits ? 'ward stopped' : 'ward completed']
    return [`ward ${cause}`, 'ward restarting', ...(deaf.has(fault) ? ['ward unstopped'] : []), 'ward completed']
  }
  if (cause === undefined) return waits ? ['outer/inner stopped', 'outer stopped'] : ['outer/inner completed', 'outer completed']
  return [
    `outer/inner ${cause}`,
    ...(deaf.has(fault) ? ['outer/inner unstopped'] : []),
    'outer/inner gave-up',
    'outer failed',
    'outer restarting',
    'outer/inner completed',
    'outer completed',
  ]
}

const significant = new Set(['failed', 'hung', 'stalled', 'idle-timeout', 'unstopped', 'restarting', 'gave-up', 'completed', 'stopped'])

const faults = Object.keys(causes) as Fault[]
const kinds: Kind[] = ['promise', 'stream', 'nested']

for (const fault of faults) {
  for (const kind of kinds) {
    test(`${kind} ward that ${fault}`, async () => {
      const env = new Env()
      const events: string[] = []
      let failedError: string | undefined
      const { result, leaks } = await checkLeaks(async () => {
        const run = start(kind, fault, env, (event) => {
          if (significant.has(event.type)) events.push(`${event.path} ${event.type}`)
          if (event.type === 'failed' && failedError === undefined) failedError = event.error.name
        })
        const outputs: string[] = []
        const consuming = (async () => {
          for await (const value of run) outputs.push(value)
        })()
        if (fault === 'waits for input forever') {
          await env.clock.advance(2_000)
          assert.deepEqual(events, [], 'waiting for input is healthy')
          await env.clock.runUntil(run.stop())
        }
        await env.clock.runUntil(consuming)
        const outcome: Outcome = await run.done
        const status = run.status()
        await env.cleanUp()
        return { outputs, outcome, status }
      })
      assert.deepEqual(events, expectedEvents(kind, fault))
      const healed = causes[fault] !== undefined
      assert.deepEqual(result.outputs, kind === 'promise' || !healed ? [] : ['a', 'b'], 'outputs')
      assert.equal(result.outcome.kind, fault === 'waits for input forever' ? 'stopped' : 'completed')
      assert.equal(result.outcome.restarts, healed ? 1 : 0)
      if (fault === 'throws a non-Error value') assert.equal(failedError, 'NonErrorThrown')
      if (fault === 'beats after it was replaced') assert.notEqual(result.status.progress, 'zombie')
      assert.deepEqual(leaks, noLeaks, 'left something behind')
      assert.equal(env.clock.pendingTimers, 0, 'a timer is left')
    })
  }
}

test('a ward that ignores its abort is named in the stop report and an event, and does not block the stop', async () => {
  const env = new Env()
  const events: string[] = []
  const run = steward(faulty('promise', 'ignores its abort and never settles', env), {
    name: 'deaf',
    stopTimeout: '3s',
  }).start({ clock: env.clock, onEvent: (event) => events.push(`${event.at} ${event.type}`) })
  await env.clock.advance(10)
  const report = await env.clock.runUntil(run.stop())
  assert.deepEqual(report, { unstopped: ['deaf'], killed: [] })
  assert.deepEqual(events, ['0 started', '3010 unstopped', '3010 stopped'])
  await env.cleanUp()
})
