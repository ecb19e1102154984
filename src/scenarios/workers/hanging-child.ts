// The child process of `steward demo process`: it reports progress over IPC and, the first
// time, stops beating after 3 (it stays alive, doing nothing useful); the next one finishes.
import { attempt, beat, resume } from '../../isolation/child.js'

let i = typeof resume === 'number' ? resume : 0
const keepAlive = setInterval(() => {}, 1_000)
const step = (): void => {
  beat(i)
  if (i === 3 && attempt === 1) return // hangs: alive, silent
  if (++i > 6) {
    clearInterval(keepAlive)
    return
  }
  setTimeout(step, 200)
}
step()
