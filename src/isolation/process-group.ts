import { existsSync, readdirSync, readFileSync } from 'node:fs'

/** Whether this system has Linux's /proc, which group scans and memory samples read. @internal */
export const hasProc = process.platform === 'linux' && existsSync('/proc/self/stat')

/**
 * The live members of process group `pgid`: every process whose `/proc/<pid>/stat` names that
 * group and whose state is not zombie (`Z`) or dead (`X`). A zombie holds no port, memory or
 * file, and where PID 1 does not reap orphans (a container without an init) a dead grandchild
 * stays one, so `kill(-pgid, 0)` cannot tell an empty group from a group of zombies. Linux only
 * (`hasProc`). @internal
 */
export function groupMembers(pgid: number): number[] {
  return groupsMembers(new Set([pgid])).get(pgid) ?? []
}

/**
 * The live members of each of the process groups `pgids`, from one scan of /proc (see
 * {@link groupMembers}): a group with no live member has no entry. Linux only. @internal
 */
export function groupsMembers(pgids: ReadonlySet<number>): Map<number, number[]> {
  const members = new Map<number, number[]>()
  for (const entry of readdirSync('/proc')) {
    const first = entry.charCodeAt(0)
    if (first < 48 || first > 57) continue // not a pid
    let stat: string
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'latin1')
    } catch {
      continue // it exited while we looked
    }
    // pid (comm) state ppid pgrp …: comm may hold spaces and parentheses, so read after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ', 3)
    const state = fields[0]
    const pgid = Number(fields[2])
    if (!pgids.has(pgid) || state === 'Z' || state === 'X') continue
    const list = members.get(pgid)
    if (list === undefined) members.set(pgid, [Number(entry)])
    else list.push(Number(entry))
  }
  return members
}

/**
 * Whether anything of process group `pgid` is alive. `kill(-pgid, 0)` first (one system call:
 * the common answer, no process at all); when it finds one, a scan of /proc where there is one,
 * since that may be a zombie. @internal
 */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0)
  } catch {
    return false // ESRCH: no process, not even a zombie (or EPERM: none we may signal)
  }
  return hasProc ? groupMembers(pgid).length > 0 : true
}

/**
 * The resident memory of process group `pgid` in bytes: the sum of its live members' `VmRSS`
 * (`/proc/<pid>/status`). Memory two members share (a forked worker's untouched pages) is
 * counted in each, as `ps` does. Linux only (`hasProc`). @internal
 */
export function groupRss(pgid: number): number {
  return groupsRss(new Set([pgid])).get(pgid) ?? 0
}

/**
 * The resident memory of each of the process groups `pgids` in bytes (see {@link groupRss}), from
 * one scan of /proc however many groups are asked: a group with no live member has no entry.
 * Linux only. @internal
 */
export function groupsRss(pgids: ReadonlySet<number>): Map<number, number> {
  const rss = new Map<number, number>()
  for (const [pgid, pids] of groupsMembers(pgids)) {
    let bytes = 0
    for (const pid of pids) {
      let status: string
      try {
        status = readFileSync(`/proc/${pid}/status`, 'latin1')
      } catch {
        continue
      }
      const at = status.indexOf('VmRSS:')
      if (at === -1) continue // a kernel thread, or it just exited
      bytes += Number.parseInt(status.slice(at + 6), 10) * 1024 // in kB
    }
    rss.set(pgid, bytes)
  }
  return rss
}

/** Clock ticks per second of /proc/<pid>/stat's times: `USER_HZ`, 100 on every Linux architecture Node runs on. */
const ticksPerSecond = 100

/**
 * The resident memory (bytes, as {@link groupRss}) and CPU time (user + system, seconds, from
 * `/proc/<pid>/stat`) of process group `pgid`'s live members, from one scan of /proc; `undefined`
 * without /proc. Its exited members' time is not counted (the kernel adds it to their parent's
 * `cutime` only once reaped). For `status()`, never per beat. @internal
 */
export function groupUsage(pgid: number): { rss: number; cpu: number } | undefined {
  if (!hasProc) return undefined
  let cpu = 0
  for (const pid of groupMembers(pgid)) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
      // After "pid (comm) ": state is field 3, utime field 14, stime field 15.
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      cpu += (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
    } catch {
      // it exited while we looked
    }
  }
  return { rss: groupRss(pgid), cpu: Math.round(cpu * 100) / 100 }
}

/** Sends `signal` to every process of group `pgid`; `false` when the group has no process left. @internal */
export function signalGroup(pgid: number, signal: NodeJS.Signals): boolean {
  try {
    process.kill(-pgid, signal)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false
    throw error
  }
}
