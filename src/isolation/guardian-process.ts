// The guardian's entry (built to dist/isolation/guardian-process.js, started by guardian.ts with
// `node`): a small process that outlives the steward process holding the process wards, and
// stops their process groups when that holder dies without saying goodbye.
//
// Its stdin is a pipe from the holder. It reads lines:
//   +PGID SIGNAL   a process group to stop with SIGNAL if the holder dies
//   -PGID          that group is gone (or no longer the holder's to guard)
//   bye            the holder leaves in good order: exit without stopping anything
// The end of the pipe without `bye` means the holder died (SIGKILL, the OOM killer, an uncaught
// exception, a signal's default action, `process.exit()` with wards running): each registered
// group gets its SIGNAL and SIGCONT (a stopped process acts on nothing else), and SIGKILL once
// GRACE_MS passed with members left; the guardian exits as soon as every group is empty.
// It is in a session of its own, so a terminal's SIGINT or SIGHUP to the holder's process group
// does not reach it.
import { groupAlive, signalGroup } from './process-group.js'

/** How long a group may take to leave after its signal before SIGKILL. Well inside a second. */
const GRACE_MS = 500
/** How often the groups are scanned for live members meanwhile. */
const POLL_MS = 10

process.title = 'steward-guardian'

const groups = new Map<number, string>()
let orderly = false
let stopping = false
let pending = ''

function send(pgid: number, signal: string): void {
  try {
    signalGroup(pgid, signal as NodeJS.Signals)
  } catch {
    // EPERM (not ours any more), or a name this system does not know: nothing more to do.
  }
}

function read(line: string): void {
  if (line === 'bye') orderly = true
  else if (line.startsWith('+')) {
    const [pgid, signal] = line.slice(1).split(' ')
    const id = Number(pgid)
    if (Number.isSafeInteger(id) && id > 1 && signal !== undefined) groups.set(id, signal)
  } else if (line.startsWith('-')) groups.delete(Number(line.slice(1)))
}

/** The holder is gone: ask every group, then insist, then leave. */
function stopAll(): void {
  if (stopping) return
  stopping = true
  if (orderly) process.exit(0)
  for (const [pgid, signal] of groups) {
    send(pgid, signal)
    send(pgid, 'SIGCONT')
  }
  const since = Date.now()
  const poll = (): void => {
    for (const pgid of groups.keys()) if (!groupAlive(pgid)) groups.delete(pgid)
    if (groups.size === 0) process.exit(0)
    if (Date.now() - since >= GRACE_MS) {
      for (const pgid of groups.keys()) send(pgid, 'SIGKILL')
      process.exit(0)
    }
    setTimeout(poll, POLL_MS)
  }
  poll()
}

process.stdin.setEncoding('latin1')
process.stdin.on('data', (chunk: string) => {
  pending += chunk
  let newline: number
  while ((newline = pending.indexOf('\n')) !== -1) {
    read(pending.slice(0, newline))
    pending = pending.slice(newline + 1)
  }
})
process.stdin.once('end', stopAll)
process.stdin.once('error', stopAll)
