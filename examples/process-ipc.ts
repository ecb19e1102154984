// A child process as a ward, reporting over IPC: it beats and sends outputs with steward/child,
// and a child that stops beating (stuck, though its process is alive) is killed and replaced.
// The new process is told where to resume (STEWARD_RESUME), so no line is lost or repeated.
// Run: npm run build && npx tsx examples/process-ipc.ts
import { fileURLToPath } from 'node:url'
import { processWard, steward } from 'steward'

const child = fileURLToPath(new URL('./workers/ipc-child.mjs', import.meta.url))
const run = steward(processWard<string, number>(process.execPath, [child], { heartbeat: 'ipc', stream: true, killAfter: '1s' }), {
  name: 'lines',
  timeout: '1s',
  // Starting Node may take longer than a second on a busy machine; only a stuck child is a hang.
  startTimeout: '30s',
}).start()
run.on('hung', (event) => console.log(`attempt ${event.attempt} stopped beating; killing it`))
for await (const line of run) console.log(line)
const outcome = await run.done
console.log(`outcome: ${outcome.kind} after ${outcome.restarts} restart(s)`)
