// The child process of examples/process-ipc.ts: it reports to its steward over IPC with
// steward/child. It sends each line as an output with the position after it (its progress), so a
// replacement process starts at `resume`, after the last line the consumer received. The first
// process stops beating at line 3 (stuck, but alive): its steward kills it and starts another.
import { attempt, beat, output, resume } from 'steward/child'

const lines = ['alpha', 'bravo', 'charlie', 'delta', 'echo']
const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

for (let position = resume ?? 0; position < lines.length; position++) {
  beat()
  if (position === 3 && attempt === 1) {
    setInterval(() => {}, 60_000) // alive and silent: only the missing beats give it away
    await new Promise(() => {})
  }
  await pause(20)
  output(`${lines[position]} from process attempt ${attempt}`, position + 1)
}
