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

/** The figures of a process group's live members, from /proc: see {@link groupsUsage}. @internal */
export interface GroupUsage {
  /** Resident memory in bytes: the sum of the members' `VmRSS`, as {@link groupRss}. */
  readonly rss: number
  /** CPU time (user + system) in seconds, to the clock tick. */
  readonly cpu: number
  /** Open file descriptors: the entries of each member's `/proc/<pid>/fd`, summed. */
  readonly fds: number
  /** When the group's leader (or, once it left, its oldest member) started, in unix seconds. */
  readonly startTime: number
}

let bootTime: number | undefined

/** The system's boot time in unix seconds (`btime` of /proc/stat), read once. */
function bootSeconds(): number {
  if (bootTime === undefined) {
    const stat = readFileSync('/proc/stat', 'latin1')
    const at = stat.indexOf('btime ')
    bootTime = at === -1 ? 0 : Number.parseInt(stat.slice(at + 6), 10)
  }
  return bootTime
}

/**
 * The figures (RSS, CPU time, open fds, start time) of each of the process groups `pgids`, from
 * one scan of /proc however many groups are asked: a group with no live member has no entry. Its
 * exited members' CPU time is not counted (the kernel adds it to their parent's `cutime` only once
 * reaped). For `status()` through the shared usage sampler, never per beat. Linux only. @internal
 */
export function groupsUsage(pgids: ReadonlySet<number>): Map<number, GroupUsage> {
  const usage = new Map<number, GroupUsage>()
  if (pgids.size === 0) return usage
  const boot = bootSeconds()
  for (const [pgid, pids] of groupsMembers(pgids)) {
    let rss = 0
    let ticks = 0
    let fds = 0
    let leaderStart = -1
    let oldest = Infinity
    for (const pid of pids) {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, 'latin1')
        // After "pid (comm) ": state is field 3, utime 14, stime 15, starttime 22.
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ', 20)
        ticks += Number(fields[11]) + Number(fields[12])
        const start = Number(fields[19])
        if (pid === pgid) leaderStart = start
        if (start < oldest) oldest = start
        const status = readFileSync(`/proc/${pid}/status`, 'latin1')
        const at = status.indexOf('VmRSS:')
        if (at !== -1) rss += Number.parseInt(status.slice(at + 6), 10) * 1024 // in kB
        fds += readdirSync(`/proc/${pid}/fd`).length
      } catch {
        // it exited while we looked
      }
    }
    if (oldest === Infinity) continue // every member exited while we looked
    usage.set(pgid, {
      rss,
      cpu: Math.round((ticks / ticksPerSecond) * 100) / 100,
      fds,
      // The leader's start is the group's; once it left, the oldest member's.
      startTime: boot + (leaderStart >= 0 ? leaderStart : oldest) / ticksPerSecond,
    })
  }
  return usage
}

/**
 * The figures of process group `pgid` (see {@link groupsUsage}); `undefined` without /proc or
 * when it has no live member. One scan of /proc: for one group only (tests, a one-off). @internal
 */
export function groupUsage(pgid: number): GroupUsage | undefined {
  if (!hasProc) return undefined
  return groupsUsage(new Set([pgid])).get(pgid)
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
