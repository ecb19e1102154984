// The public types, pinned. `npm run typecheck` checks the assertions (each
// `expectTypeOf` and each `@ts-expect-error`); the test runner runs the small
// supervised runs they are written on, so the values agree with the types.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { expectTypeOf } from 'expect-type'
import {
  ManualClock,
  steward,
  supervisor,
  threadWard,
  processWard,
  walk,
  type ChildSpec,
  type HungEvent,
  type Outcome,
  type Output,
  type RestartReason,
  type RestartingEvent,
  type Run,
  type StartOptions,
  type Steward,
  type StewardEvent,
  type StewardOptions,
  type Subscription,
  type Supervisor,
  type SupervisorRun,
  type Ward,
  type WardContext,
} from '../src/index.js'

/** Type-checks `check` without running it: for calls whose point is that they do not compile. */
function typeOnly(_check: () => unknown): void {}

async function drain<T>(clock: ManualClock, run: AsyncIterable<T>): Promise<T[]> {
  const values: T[] = []
  await clock.runUntil(
    (async () => {
      for await (const value of run) values.push(value)
    })(),
  )
  return values
}

test('Ward<T, P> is a function of a WardContext<P> returning a promise or a stream of T (bare or as Output<T, P>)', () => {
  expectTypeOf<Ward<string, number>>().parameters.toEqualTypeOf<[ctx: WardContext<number>]>()
  expectTypeOf<Ward<string, number>>().returns.toEqualTypeOf<PromiseLike<unknown> | AsyncIterable<string | Output<string, number>>>()
  expectTypeOf<Ward>().toEqualTypeOf<Ward<unknown, unknown>>()
  expectTypeOf<WardContext>().toEqualTypeOf<WardContext<unknown>>()
  // A ward that needs number progress is not a ward of any progress (ChildSpec is what lifts that).
  expectTypeOf<Ward<string, number>>().not.toExtend<Ward<string, unknown>>()
})

test('WardContext<P>: resume is P | undefined; beat, output and deadLetter take a P and nothing else', async () => {
  const clock = new ManualClock()
  const ward = async function* (ctx: WardContext<number>): AsyncGenerator<Output<string, number>> {
    expectTypeOf(ctx.resume).toEqualTypeOf<number | undefined>()
    expectTypeOf(ctx).toHaveProperty('beat').parameters.toEqualTypeOf<[progress?: number | undefined]>()
    expectTypeOf(ctx).toHaveProperty('beat').toBeCallableWith(undefined)
    expectTypeOf(ctx).toHaveProperty('deadLetter').parameters.toEqualTypeOf<[input: unknown, next: number]>()
    expectTypeOf(ctx.output('x', 1)).toEqualTypeOf<Output<string, number>>()
    expectTypeOf(ctx.signal).toEqualTypeOf<AbortSignal>()
    expectTypeOf(ctx.attempt).toEqualTypeOf<number>()
    typeOnly(() => {
      // @ts-expect-error: progress is a number
      ctx.beat('one')
      // @ts-expect-error: an output needs the progress its delivery commits
      ctx.output('x')
      // @ts-expect-error: progress is a number
      ctx.output('x', 'one')
      // @ts-expect-error: the next progress is a number
      ctx.deadLetter('poison', 'two')
      // @ts-expect-error: resume may be undefined
      const _start: number = ctx.resume
    })
    for (let i = ctx.resume ?? 0; i < 3; i++) {
      ctx.beat()
      yield ctx.output(`v${i}`, i + 1)
    }
  }
  const run = steward(ward).start({ clock, resume: 1 })
  assert.deepEqual(await drain(clock, run), ['v1', 'v2'])
  assert.equal(run.progress, 3)
})

test('steward(ward).start() infers T and P from the ward', async () => {
  const clock = new ManualClock()
  const counter = steward(async function* (ctx: WardContext<number>) {
    for (let i = ctx.resume ?? 0; i < 3; i++) {
      ctx.beat()
      yield ctx.output(i * 10, i + 1)
    }
  })
  expectTypeOf(counter).toEqualTypeOf<Steward<number, number>>()
  expectTypeOf(counter).toHaveProperty('start').parameters.toEqualTypeOf<[options?: StartOptions<number> | undefined]>()
  expectTypeOf(counter).toHaveProperty('start').toBeCallableWith({ resume: 2 })
  // @ts-expect-error: the progress is a number
  expectTypeOf(counter).toHaveProperty('start').toBeCallableWith({ resume: 'two' })

  const run = counter.start({ clock })
  expectTypeOf(run).toEqualTypeOf<Run<number, number>>()
  expectTypeOf(run.progress).toEqualTypeOf<number | undefined>()
  const values = await drain(clock, run)
  expectTypeOf(values).toEqualTypeOf<number[]>()
  assert.deepEqual(values, [0, 10, 20])
  assert.equal(run.progress, 3)
  // A run's progress is a checkpoint to start another run from, as it is.
  assert.deepEqual(await drain(clock, counter.start({ clock, resume: run.progress })), [])

  // Promise wards: T is unknown; P from the annotation.
  expectTypeOf(steward(async (ctx: WardContext<string>) => ctx.beat('x'))).toEqualTypeOf<Steward<unknown, string>>()
  // Without an annotation P cannot be inferred from the body: unknown (or given explicitly).
  steward(async function* (ctx) {
    expectTypeOf(ctx).toEqualTypeOf<WardContext<unknown>>()
    yield 'a'
  })
  expectTypeOf(steward(async function* (_ctx) { yield 'a' })).toEqualTypeOf<Steward<string, unknown>>()
  expectTypeOf(steward(async function* (ctx) { yield ctx.output('a', 1) })).toEqualTypeOf<Steward<string, unknown>>()
  steward<string, number>(async function* (ctx) {
    expectTypeOf(ctx.resume).toEqualTypeOf<number | undefined>()
    yield ctx.output('a', 1)
  })
})

test('a Steward<T, P> is a ward of progress P: stewards nest and keep their types', async () => {
  const clock = new ManualClock()
  const inner = steward(walk(['a', 'b'], (s) => s.toUpperCase()), { name: 'inner' })
  expectTypeOf(inner).toExtend<Ward<string, number>>()
  expectTypeOf(inner).parameters.toEqualTypeOf<[ctx: WardContext<number>]>()
  expectTypeOf(inner).returns.toEqualTypeOf<Run<string, number>>()
  const outer = steward(inner, { name: 'outer' })
  expectTypeOf(outer).toEqualTypeOf<Steward<string, number>>()
  const run = outer.start({ clock })
  assert.deepEqual(await drain(clock, run), ['A', 'B'])
  assert.equal(run.progress, 2)
})

test('Run<T, P> is an AsyncIterable<T> and AsyncDisposable with done, typed on/once, and progress: P | undefined', async () => {
  expectTypeOf<Run<string, number>>().toExtend<AsyncIterable<string>>()
  expectTypeOf<Run<string, number>>().toExtend<AsyncDisposable>()
  expectTypeOf<Run<string, number>>().toHaveProperty('done').toEqualTypeOf<Promise<Outcome>>()
  expectTypeOf<Run<string, number>>().toHaveProperty('progress').toEqualTypeOf<number | undefined>()
  expectTypeOf<Run<string>>().toEqualTypeOf<Run<string, unknown>>()

  const clock = new ManualClock()
  let failed = false
  const run = steward(
    async (ctx: WardContext<number>) => {
      ctx.beat(1)
      if (!failed) {
        failed = true
        throw new Error('once')
      }
      await clock.sleep(2_000, ctx.signal) // no beat: hung
    },
    { timeout: 1_000, maxRestarts: 1 },
  ).start({ clock })
  const reasons: RestartReason[] = []
  const subscription = run.on('restarting', (event) => {
    expectTypeOf(event).toEqualTypeOf<RestartingEvent>()
    expectTypeOf(event.reason).toEqualTypeOf<RestartReason>()
    reasons.push(event.reason)
  })
  expectTypeOf(subscription).toEqualTypeOf<Subscription>()
  run.on((event) => expectTypeOf(event).toEqualTypeOf<StewardEvent>())
  const hung = run.once('hung')
  expectTypeOf(hung).toEqualTypeOf<Promise<HungEvent>>()
  expectTypeOf((await clock.runUntil(hung)).type).toEqualTypeOf<'hung'>()
  const outcome = await clock.runUntil(run.done)
  expectTypeOf(outcome).toEqualTypeOf<Outcome>()
  assert.equal(outcome.kind, 'gave-up')
  assert.deepEqual(reasons, ['failed'])
  assert.equal(run.progress, 1)
})

test('walk() is a Ward<O, number> whose work gets a WardContext<number>; undefined results are not outputs', () => {
  const pages = walk(['a', 'b'], (url, ctx, position) => {
    expectTypeOf(url).toEqualTypeOf<string>()
    expectTypeOf(ctx).toEqualTypeOf<WardContext<number>>()
    expectTypeOf(position).toEqualTypeOf<number>()
    return url.length
  })
  expectTypeOf(pages).toEqualTypeOf<Ward<number, number>>()
  const some = walk([1, 2, 3], async (n) => (n % 2 === 0 ? undefined : String(n)))
  expectTypeOf(some).toEqualTypeOf<Ward<string, number>>()
  expectTypeOf(steward(some)).toHaveProperty('start').returns.toEqualTypeOf<Run<string, number>>()
})

test('StewardOptions rejects unknown keys at compile time (and steward() at run time)', () => {
  const ward = async (): Promise<void> => {}
  expectTypeOf<StewardOptions>().toHaveProperty('timeout')
  // @ts-expect-error: 'timout' is not an option
  assert.throws(() => steward(ward, { timout: 1 }), /timout/)
  // @ts-expect-error: maxRestarts is a number
  assert.throws(() => steward(ward, { maxRestarts: 'three' }), /maxRestarts/)
})

test('supervisor() takes children of any output and progress types; start() is a SupervisorRun', async () => {
  const clock = new ManualClock()
  const counter = steward(async (ctx: WardContext<string>) => ctx.beat('started'))
  const tree = supervisor({ name: 'tree' }, [
    { name: 'pages', ward: walk(['a'], (s) => s), restart: 'transient' },
    {
      name: 'plain',
      restart: 'transient',
      ward: async (ctx) => {
        // An unannotated child's context is WardContext<unknown>, not any.
        expectTypeOf(ctx).toEqualTypeOf<WardContext<unknown>>()
        ctx.beat(1)
      },
    },
    { name: 'counter', ward: counter, restart: 'transient' },
    { name: 'typed', ward: async (ctx: WardContext<number>) => ctx.beat(ctx.resume ?? 0), restart: 'transient' },
  ])
  expectTypeOf(tree).toEqualTypeOf<Supervisor>()
  expectTypeOf(tree).toExtend<Ward>()
  const run = tree.start({ clock })
  expectTypeOf(run).toEqualTypeOf<SupervisorRun>()
  expectTypeOf(run).toHaveProperty('add').toBeCallableWith({ name: 'more', ward: walk([1], (n) => n) })
  const started: string[] = []
  run.on('started', (event) => started.push(event.path))
  await clock.advance(10)
  assert.deepEqual(started, ['tree/pages', 'tree/plain', 'tree/counter', 'tree/typed', 'tree/counter/ward'])
  await clock.runUntil(run.stop())
  assert.equal((await run.done).kind, 'stopped')

  // A spec with a progress type gives an unannotated ward that context and refuses another.
  const typed: ChildSpec<unknown, number> = {
    name: 'typed',
    ward: async (ctx) => expectTypeOf(ctx.resume).toEqualTypeOf<number | undefined>(),
  }
  expectTypeOf(typed.ward).parameters.toEqualTypeOf<[ctx: WardContext<number>]>()
  typeOnly(() => {
    // @ts-expect-error: a ward of string progress is not a ward of number progress
    const _wrong: ChildSpec<unknown, number> = { name: 'wrong', ward: async (ctx: WardContext<string>) => ctx.beat('x') }
    // @ts-expect-error: not a ward
    supervisor({}, [{ name: 'n', ward: 42 }])
  })
})

test('ChildSpec refuses the options its supervisor decides (and supervisor() at run time)', () => {
  const ward = async (): Promise<void> => {}
  expectTypeOf<ChildSpec>().not.toHaveProperty('maxRestarts')
  expectTypeOf<ChildSpec>().not.toHaveProperty('onEvent')
  // @ts-expect-error: maxRestarts belongs on the supervisor
  assert.throws(() => supervisor({}, [{ name: 'a', ward, maxRestarts: 1 }]), /maxRestarts/)
  // @ts-expect-error: 'timout' is not an option
  assert.throws(() => supervisor({}, [{ name: 'a', ward, timout: 1 }]), /timout/)
})

test('threadWard<T, P>() and processWard<T, P>() are wards of the declared types', () => {
  expectTypeOf(threadWard<string, number>).returns.toEqualTypeOf<Ward<string, number>>()
  expectTypeOf(processWard<string, number>).returns.toEqualTypeOf<Ward<string, number>>()
  expectTypeOf(threadWard).returns.toEqualTypeOf<Ward<unknown, unknown>>()
})
