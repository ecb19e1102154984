// The recipes of docs/guides/recipes.md: each runnable example under examples/ runs here as a
// user would run it (`node --import tsx`), against a real redis-server where it needs one, and
// its output shows the claim the recipe makes. Nothing outlives a test: the example processes
// are waited for (or SIGKILLed in cleanup), the redis-server is stopped.
import { after, before, test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import { Redis } from 'ioredis'
import { lineReader } from '../src/isolation/lines.js'
import { dead, descendants } from '../src/testing/cli.js'
import { cleanup, noneLeft } from '../src/testing/process-tree.js'
import { waitFor } from '../src/testing/wait.js'
import { RedisServer } from '../src/testing/redis-server.js'

const run = promisify(execFile)

async function example(file: string, ...args: string[]): Promise<string[]> {
  const { stdout } = await run(process.execPath, ['--import', 'tsx', file, ...args], { timeout: 60_000 })
  return stdout.trimEnd().split('\n')
}

/** A running process, its stdout and stderr lines as they come, and its exit. */
interface Running {
  readonly child: ChildProcess
  readonly lines: string[]
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** The first line `pattern` matches, waiting at most `within` ms (then a failure naming `what` and the lines seen). */
  line(what: string, pattern: RegExp, within?: number): Promise<RegExpExecArray>
}

function start(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Running {
  const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] })
  const lines: string[] = []
  const read = lineReader((text) => lines.push(text))
  child.stdout.on('data', read)
  child.stderr.on('data', lineReader((text) => lines.push(text)))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })))
  return {
    child,
    lines,
    exited,
    async line(what, pattern, within = 30_000) {
      let found: RegExpExecArray | null = null
      try {
        await waitFor(what, () => lines.some((text) => (found = pattern.exec(text)) !== null), within)
      } catch (error) {
        throw new Error(`${(error as Error).message}; lines: ${JSON.stringify(lines)}`)
      }
      return found!
    },
  }
}

let redis: RedisServer
before(async () => {
  redis = await RedisServer.start()
})
after(async () => {
  await redis.stop()
})

/** The server's normal client connections now. */
async function clientCount(): Promise<number> {
  const admin = new Redis({ host: '127.0.0.1', port: redis.port })
  try {
    const list = (await admin.call('CLIENT', 'LIST', 'TYPE', 'normal')) as string
    return list.trim().split('\n').length - 1 // not this one
  } finally {
    admin.disconnect()
  }
}

test('recipe 1: a hung incarnation’s ioredis connection is closed on abort; after the restart one connection is left', async () => {
  assert.deepEqual(await example('examples/redis-connection.ts', String(redis.port)), [
    'attempt 1: connected; clients: 1',
    "steward: 'redis-user' hung; restarting",
    'attempt 2: connected; clients: 1',
    'outcome: completed after 1 restart(s)',
  ])
  await waitFor("the example's connections to close as it exited", async () => (await clientCount()) === 0, 10_000, 50)
})

test('recipe 2: BLMOVE on a connection closed on abort loses no message pushed around stops', async () => {
  assert.deepEqual(await example('examples/redis-list-queue.ts', String(redis.port)), [
    'delivered: m1 m2 m3 m4 m5 m6 m7',
    'lost: none; delivered twice: 0',
  ])
})

test('recipe 2: ctx.idle(redis.blpop(…)) on a shared connection loses each message pushed while stopped', async () => {
  // The weaker pattern, to show that the safe one's test can fail: m2, m4, m6 were pushed while
  // the consumer was stopped, and the stopped incarnation's BLPOP took each.
  assert.deepEqual(await example('examples/redis-list-queue.ts', String(redis.port), '--unsafe'), [
    'delivered: m1 m3 m5 m7',
    'lost: m2 m4 m6; delivered twice: 0',
  ])
})

test('recipe 8: a Redis Streams consumer handles the entry it crashed on (pending, unacknowledged) first after the restart', async () => {
  assert.deepEqual(await example('examples/redis-streams.ts', String(redis.port)), [
    'attempt 1: handled entry 1',
    'attempt 1: handled entry 2',
    'steward: crashed on entry 3 before XACK; restarting',
    'attempt 2: handled entry 3 (pending, delivered again)',
    'attempt 2: handled entry 4',
    'attempt 2: handled entry 5',
    'outcome: completed after 1 restart(s); pending: 0',
  ])
  await waitFor("the example's connections to close as it exited", async () => (await clientCount()) === 0, 10_000, 50)
})

test('recipe 3: the HTTP face under /ops/ of an existing server answers, dashboard files included', async () => {
  assert.deepEqual(await example('examples/http-prefix.ts'), [
    '/ → 200 text/plain',
    '/ops → 308  → /ops/',
    '/ops/healthz → 200 application/json',
    '/ops/status → 200 application/json',
    '/ops/metrics → 200 text/plain',
    '/ops/ → 200 text/html',
    '/ops/favicon.svg → 200 image/svg+xml',
    '/ops/dashboard.css → 200 text/css',
    '/ops/dashboard.js → 200 text/javascript',
  ])
  // The page's script asks the handler's routes relatively (events, apps/…), so they stay under the prefix.
  const script = readFileSync('src/http/dashboard/dashboard.js', 'utf8')
  const asked = [...script.matchAll(/(?:fetch|EventSource)\(\s*[`'"]([^`'"]*)/g)].map((match) => match[1]!)
  assert.ok(asked.length >= 2, `the dashboard's requests were not found: ${JSON.stringify(asked)}`)
  for (const path of asked) assert.ok(!path.startsWith('/') && !/^https?:/.test(path), `the dashboard asks an absolute URL: ${path}`)
})

test('recipe 4: the connection’s shorter timeout makes its hang the first one seen', async () => {
  assert.deepEqual(await example('examples/timeout-order.ts'), [
    'connection timeout 1s, query timeout 3s:',
    '  2000 ms: db/connection hung (link 1)',
    '  2000 ms: query attempt 2 on link 2', // rest-for-one: the query is restarted with the connection, on the new link
    '  connections made: 2',
    'connection timeout 3s, query timeout 1s:',
    '  2000 ms: db/query hung (link 1)',
    '  2000 ms: query attempt 2 on link 1',
    '  3000 ms: db/query hung (link 1)',
    '  3000 ms: query attempt 3 on link 1',
    '  4000 ms: db/connection hung (link 1)',
    '  4000 ms: db/query hung (link 1)',
    '  4000 ms: query attempt 4 on link 2',
    '  connections made: 2',
  ])
})

test('recipe 5: a TypeScript worker module runs in a worker thread under tsx', async () => {
  assert.deepEqual(await example('examples/ts-worker.ts'), ['completed: 5'])
})

test('recipe 6: probes answer; SIGTERM stops the wards gracefully, exits 143 and leaves no child', async (t) => {
  const pod = start(process.execPath, ['--import', 'tsx', 'examples/kubernetes.ts'], { ...process.env, PORT: '0' })
  const left = cleanup(t)
  left.add(pod.child.pid!)
  const [, url] = await pod.line('the HTTP face listening', /listening on (http:\/\/127\.0\.0\.1:\d+)/)
  const [, childPid] = await pod.line("the server child's pid", /^child pid (\d+)$/)
  left.add(Number(childPid))
  for (const probe of ['/healthz', '/readyz']) {
    const response = await fetch(`${url}${probe}`)
    assert.equal(response.status, 200, `${probe}: ${await response.text()}`)
  }
  const tree = descendants(pod.child.pid!)
  assert.ok(tree.includes(Number(childPid)), `the child ${childPid} is not below the example ${pod.child.pid}: ${tree.join(' ')}`)
  const signalled = performance.now()
  pod.child.kill('SIGTERM')
  assert.deepEqual(await pod.exited, { code: 143, signal: null }, pod.lines.join('\n'))
  assert.ok(pod.lines.includes('stopped; exit code 143'), pod.lines.join('\n'))
  await noneLeft(tree, signalled, 'SIGTERM', 10_000)
})

/** Whether this machine lets an unprivileged user make a PID namespace (`unshare -Urpf`). */
function canUnshare(): boolean {
  return spawnSync('unshare', ['-Urpf', '--mount-proc', 'true'], { stdio: 'ignore', timeout: 10_000 }).status === 0
}

/** The state letter (R, S, Z…) and parent of `pid`, from /proc; undefined when it is gone. */
function stat(pid: number): { state: string; ppid: number; pgid: number; comm: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'latin1')
    const rest = text.slice(text.lastIndexOf(')') + 2).split(' ')
    return { state: rest[0]!, ppid: Number(rest[1]), pgid: Number(rest[2]), comm: text.slice(text.indexOf('(') + 1, text.lastIndexOf(')')) }
  } catch {
    return undefined
  }
}

/** Every pid in /proc now. */
function processes(): number[] {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).map(Number)
}

/** The command line of `pid`, its arguments joined by spaces; '' when it is gone. */
function commandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter(Boolean).join(' ')
  } catch {
    return ''
  }
}

// The child's shell backgrounds a grandchild and exits at once, so the grandchild is orphaned:
// the kernel gives it to the namespace's PID 1 (or the nearest subreaper).
const orphaning = ['run', '--', 'sh', '-c', 'sh -c "sleep 0.2 &"; exec sleep 60']

test('recipe 7: steward run as PID 1 (of a PID namespace) does not reap an orphaned grandchild: it stays a zombie', { skip: canUnshare() ? false : 'unshare -Urpf is not permitted here' }, async (t) => {
  const cli = start('unshare', ['-Urpf', '--mount-proc', process.execPath, 'dist/cli/bin.cjs', ...orphaning])
  const left = cleanup(t)
  left.add(cli.child.pid!)
  await cli.line('the child started', /sh started/)
  let steward = 0
  await waitFor('steward (PID 1 of the namespace) below unshare', () => (steward = descendants(cli.child.pid!).find((pid) => stat(pid)?.ppid === cli.child.pid) ?? 0) !== 0, 10_000)
  left.add(steward, ...descendants(steward))
  // Node reaps only the children it spawned (libuv waits for their pids), never an adopted orphan.
  await waitFor('a zombie sleep whose parent is steward', () => descendants(steward).some((pid) => stat(pid)?.comm === 'sleep' && stat(pid)?.state === 'Z'), 10_000)
  process.kill(steward, 'SIGTERM')
  const exited = await cli.exited
  assert.equal(exited.code, 143, cli.lines.join('\n'))
})

test('recipe 7: steward run that is not PID 1 does not adopt orphans; its stop kills the group they stayed in', async (t) => {
  const cli = start(process.execPath, ['dist/cli/bin.cjs', 'run', '--', 'sh', '-c', 'sh -c "sleep 61.4321 &"; exec sleep 60'])
  const left = cleanup(t)
  left.add(cli.child.pid!)
  await cli.line('the child started', /sh started/)
  // The orphan (found by its command line) stays in the child's process group, wherever it was reparented.
  let orphan = 0
  await waitFor('the orphaned sleep 61.4321', () => (orphan = processes().find((pid) => commandLine(pid) === 'sleep 61.4321') ?? 0) !== 0, 10_000)
  left.add(orphan)
  assert.notEqual(stat(orphan)?.ppid, cli.child.pid, 'steward adopted the orphan')
  const child = descendants(cli.child.pid!).find((pid) => commandLine(pid) === 'sleep 60')
  assert.ok(child !== undefined, 'the child (sleep 60) is not below steward')
  assert.equal(stat(orphan)?.pgid, stat(child)?.pgid, 'the orphan left the child’s process group')
  const signalled = performance.now()
  cli.child.kill('SIGTERM')
  assert.equal((await cli.exited).code, 143, cli.lines.join('\n'))
  await noneLeft([orphan], signalled, "steward's stop", 10_000)
  assert.ok(dead(orphan))
})

test('docs/guides/recipes.md: each code excerpt is still in the example file named before it', () => {
  const guide = readFileSync('docs/guides/recipes.md', 'utf8')
  let checked = 0
  let file: string | undefined
  for (const part of guide.split(/^```/m).entries()) {
    const [index, text] = part
    if (index % 2 === 0) {
      // Prose: the last example file it links is where the next excerpt comes from.
      const links = [...text.matchAll(/\]\(\.\.\/\.\.\/(examples\/[^)]+\.(?:ts|mjs))\)/g)]
      if (links.length > 0) file = links.at(-1)![1]
      continue
    }
    const [language, ...lines] = text.split('\n')
    if (language !== 'ts' && language !== 'js') continue
    assert.ok(file !== undefined, `an excerpt with no example file linked before it: ${lines[0]}`)
    const source = readFileSync(file, 'utf8')
    const excerpt = lines.join('\n').trimEnd()
    assert.ok(source.includes(excerpt), `docs/guides/recipes.md: this excerpt is not in ${file} as written:\n${excerpt}`)
    checked++
  }
  assert.ok(checked >= 8, `only ${checked} excerpts were checked`)
})
