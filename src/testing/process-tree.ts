// Test-only helpers for tests that end a process holding process wards and check what it leaves:
// a process's command line and start time from /proc, a poll with a deadline, the check that
// nothing of a tree is alive, and a cleanup that never touches a pid reused by another program.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { dead } from './cli.js'

/** A process's command line (`?` once it is gone). Linux. */
export function commandOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\0', ' ').trim()
  } catch {
    return '?'
  }
}

/** A process's start time (field 22 of /proc/<pid>/stat): it tells it from a later process of the same pid. */
export function startTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

/**
 * Fails unless every process of `tree` is gone (a zombie counts as gone) within `within` ms of
 * `since` (`performance.now()`), polling; what is left then is named, and SIGKILLed.
 */
export async function noneLeft(tree: readonly number[], since: number, what: string, within = 2_000): Promise<void> {
  while (tree.some((pid) => !dead(pid))) {
    if (performance.now() - since > within) {
      const left = tree.filter((pid) => !dead(pid))
      const described = left.map((pid) => `${pid} ${commandOf(pid)}`).join('; ')
      for (const pid of left) kill(pid)
      assert.fail(`alive ${within} ms after ${what}: ${described}`)
    }
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/**
 * Processes to SIGKILL when the test ends, whatever happened (a failed test must leave nothing
 * for the next one): `add` them as they are seen; each is killed only if it is still the same
 * process (same start time), never a later one that reused its pid.
 */
export function cleanup(t: { after(fn: () => void): void }): { add(...pids: number[]): void } {
  const seen = new Map<number, string | undefined>()
  t.after(() => {
    for (const [pid, started] of seen) if (started !== undefined && startTime(pid) === started) kill(pid)
  })
  return {
    add(...pids) {
      for (const pid of pids) if (!seen.has(pid)) seen.set(pid, startTime(pid))
    },
  }
}

function kill(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL')
  } catch {
    // gone meanwhile
  }
}
