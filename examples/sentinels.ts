// Sentinels: a ward that knows a restart cannot help ends with DoNotRestart (its steward stops,
// its siblings go on), and one that knows the whole service must end throws TerminateTree (every
// steward and supervisor above it stops).
// Run: npx tsx examples/sentinels.ts
import { DoNotRestart, ManualClock, steward, supervisor, TerminateTree, type WardContext } from 'steward'

const clock = new ManualClock() // virtual time: the example prints the same every time
// Waits for input that never comes: the wait rejects (with the stop's reason) when the ward is stopped.
const waitForStop = (ctx: WardContext): Promise<never> => ctx.idle(new Promise<never>(() => {}))

// 1. DoNotRestart on its own: a bad configuration is not fixed by restarting.
const configured = async (ctx: WardContext): Promise<void> => {
  console.log(`loader attempt ${ctx.attempt}`)
  throw new DoNotRestart('config.yaml: missing "queue"')
}
const alone = await clock.runUntil(steward(configured, { name: 'loader' }).start({ clock }).done)
console.log(`loader outcome: ${alone.kind}, restarts ${alone.restarts}, reason: ${alone.kind === 'stopped' ? String(alone.reason) : '-'}`)

// 2. In a tree: the poller drops out with DoNotRestart (the supervisor forgets it, the others run
// on); later the license check ends everything with TerminateTree.
const poller = async (): Promise<void> => {
  console.log(`${clock.now()} ms: poller gives up for good`)
  throw new DoNotRestart('endpoint was removed')
}
const server = async (ctx: WardContext): Promise<void> => {
  console.log(`${clock.now()} ms: server up`)
  try {
    await waitForStop(ctx)
  } finally {
    console.log(`${clock.now()} ms: server stopped`)
  }
}
const license = async (ctx: WardContext): Promise<void> => {
  await ctx.clock.sleep(1_000, ctx.signal)
  console.log(`${clock.now()} ms: license expired`)
  throw new TerminateTree('license expired')
}
const tree = supervisor({ strategy: 'one-for-one' }, [
  { name: 'poller', ward: poller },
  { name: 'server', ward: server },
  { name: 'license', ward: license },
])
const app = steward(tree, { name: 'app' }).start({ clock })
await clock.advance(500)
const [supervised] = app.status().children
console.log(`500 ms: children: ${supervised?.children.map((child) => child.name).join(', ')}`)
const outcome = await clock.runUntil(app.done)
console.log(`app outcome: ${outcome.kind}, reason: ${outcome.kind === 'stopped' ? String(outcome.reason) : '-'}`)
