// Three wards that depend on each other under rest-for-one: a connection, a reader and a
// writer that use it. When the connection drops, the reader and writer (started after it)
// are stopped and started again on the new connection; when the writer crashes, only it is.
// Run: npx tsx examples/tree.ts
import { ManualClock, supervisor, type WardContext } from 'steward'

const clock = new ManualClock() // virtual time, so the example prints the same every time
let generation = 0
let link = 0 // the live connection's number; 0 while down

// Waits for input that never comes: the wait rejects (with the stop's reason) when the ward is stopped.
const waitForStop = (ctx: WardContext): Promise<never> => ctx.idle(new Promise<never>(() => {}))

const connection = async (ctx: WardContext): Promise<void> => {
  link = ++generation
  console.log(`${clock.now()} ms: connection ${link} up`)
  if (link === 1) {
    await ctx.clock.sleep(100, ctx.signal)
    link = 0
    throw new Error('connection reset by peer')
  }
  try {
    await waitForStop(ctx)
  } finally {
    console.log(`${clock.now()} ms: connection ${link} closed`)
  }
}

const reader = async (ctx: WardContext): Promise<void> => {
  console.log(`${clock.now()} ms: reader on connection ${link}`)
  await waitForStop(ctx)
}

let writes = 0
const writer = async (ctx: WardContext): Promise<void> => {
  console.log(`${clock.now()} ms: writer on connection ${link}`)
  if (link === 2 && ++writes === 1) {
    await ctx.clock.sleep(50, ctx.signal)
    throw new Error('write failed')
  }
  await waitForStop(ctx)
}

const tree = supervisor({ name: 'client', strategy: 'rest-for-one', maxRestarts: 3, within: '1m' }, [
  { name: 'connection', ward: connection, timeout: '5s' },
  { name: 'reader', ward: reader, timeout: '5s' },
  { name: 'writer', ward: writer, timeout: '5s' },
]).start({
  clock,
  onEvent: (event) => {
    if (event.type === 'failed') console.log(`${event.at} ms: ${event.path} failed: ${event.error.message}`)
  },
})
await clock.advance(1_000)
console.log(JSON.stringify(tree.status().children.map((child) => [child.name, child.state])))
const report = await clock.runUntil(tree.stop())
console.log(`stopped; unstopped: ${JSON.stringify(report.unstopped)}`)
