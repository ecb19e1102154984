// Recipe: a worker thread whose module is TypeScript, run under tsx. On Node 22 and 24 a worker
// inherits the main thread's `--import tsx` (and Node ≥ 22.18 strips erasable types by itself),
// so threadWard('./worker.ts') works as is; on Node 20 a worker thread gets no loader and fails
// with ERR_UNKNOWN_FILE_EXTENSION. A small .mjs entry that registers tsx in the worker's own
// thread (examples/workers/square-entry.mjs) works on all three. In production, compile the
// worker to JavaScript and point threadWard at the .js file.
// Run: npm run build && npx tsx examples/ts-worker.ts
import { steward, threadWard } from 'steward'

const run = steward(threadWard<never, number>(new URL('./workers/square-entry.mjs', import.meta.url)), {
  name: 'square',
  timeout: '5s',
  startTimeout: '30s', // a cold worker that compiles TypeScript first may be slow on a busy machine
  maxRestarts: 0,
}).start()
run.on('failed', (event) => console.log(`failed: ${event.error.message}`))
const outcome = await run.done
console.log(outcome.kind === 'completed' ? `completed: ${String(outcome.value)}` : `outcome: ${outcome.kind}`)
