// The CLI as a user runs it (dist/cli/bin.cjs), beside PM2 (pm2-runtime, its foreground mode) on the
// same children, each measured in this run:
// - cli.detect_ms: a real server (redis-server) frozen with SIGSTOP → its process gone, under
//   `--probe exec:'redis-cli ping'`, timeout 1 s, every 100 ms (with --kill-signal SIGKILL, so the
//   figure is detection, not a kill-after wait). PM2 cannot detect a freeze at all.
// - cli.restart_ms: the missed deadline (`hung`) → the new child started, on the CLI's own clock.
// - cli.freeze_to_serving_ms: the README's example as written (timeout 2 s, the probe every 1 s, the
//   default SIGTERM and --kill-after 5 s): SIGSTOP → a new redis answering PING. The frozen one is
//   sent SIGCONT after its SIGTERM, so it shuts down at once instead of waiting for SIGKILL.
// - crash → restart (a child SIGKILLed → its replacement's pid written), steward and PM2, and
//   baseline.node_start_ms: the same child spawned by the bench itself → its pid written, the start-up
//   both supervisors wait for. All three run without NODE_EXTRA_CA_CERTS (see `startEnv`).
// - cli.rss_mb_1 / _3 / _50: the supervisor's own RSS with 1, 3 and 50 idle children, steward up and pm2-runtime.
// - cli.run_rss_mb: `steward run`'s own RSS with its one idle child, beside a bare `node` process
//   that only waits (baseline.node_rss_mb), measured the same way; cli.run_anon_mb and
//   baseline.node_anon_mb are their anonymous parts (no goal: what the two cannot share).
// - cli.control_restart_ms: `steward restart web` on a running `steward up` of three apps → an HTTP
//   answer from the new web server's pid, beside `pm2 restart web` on a PM2 daemon with the same apps.
// - cli.rolling_restart_ms / cli.rolling_restart_failed: `steward restart web` of an app with
//   `instances: 4` (small HTTP servers, each up when its HTTP probe answers, probed every 100 ms)
//   behind a round-robin proxy (src/testing/round-robin.ts), under 4 client loops of requests on
//   new connections: the command's time to complete (one copy at a time, each once the one before
//   answers), and the requests that failed (must be 0).
// - cli.log_lines_per_s: 80-byte lines from a child into a log file: `steward run --log-dir` (each
//   line timestamped, rotation on), PM2's daemon (`time: true`, its out_file), and the child piped
//   into `cat > file`, in the same run.
// - cli.line_mb_per_s: one 32 MB line (no newline inside) through `steward run --restart transient`
//   (the child completes once), beside the same bytes
//   through `cat` on a plain pipe (peer.cat.line_mb_per_s), in the same run.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { get as httpGet } from 'node:http'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { median, quick, sleep, type Figures } from './figure.js'
import { descendants } from '../src/testing/cli.js'
import { lineReader } from '../src/isolation/lines.js'
import { redisPid } from '../src/testing/redis-server.js'
import { freePortBlock } from '../src/testing/net.js'
import { loadLoop, roundRobinProxy } from '../src/testing/round-robin.js'

const bin = fileURLToPath(new URL('../dist/cli/bin.cjs', import.meta.url))
const pm2Runtime = fileURLToPath(new URL('../node_modules/pm2/bin/pm2-runtime', import.meta.url))
const pm2Cli = fileURLToPath(new URL('../node_modules/pm2/bin/pm2', import.meta.url))
const pidChild = fileURLToPath(new URL('./fixtures/pid-child.mjs', import.meta.url))
const pidServer = fileURLToPath(new URL('./fixtures/pid-server.mjs', import.meta.url))
const lineWriter = fileURLToPath(new URL('./fixtures/line-writer.mjs', import.meta.url))
const instanceServer = fileURLToPath(new URL('../test/fixtures/instance-server.mjs', import.meta.url))
const repetitions = quick ? 3 : 5
/** Crashes per supervisor (and bare starts) for crash → restart: about 1.3 s each, and the machine's noise is in each. */
const crashes = quick ? 7 : 9

/**
 * The environment of the crash → restart children: this one without NODE_EXTRA_CA_CERTS. Node 20
 * parses that bundle at every start (Node 22 and later, only when TLS first needs it); where a
 * machine sets it for its own tools (this sandbox does), every Node 20 child starts about 45 ms
 * later, for steward and PM2 alike, and the shared start-up hides the supervisors' difference.
 */
const startEnv: NodeJS.ProcessEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => name !== 'NODE_EXTRA_CA_CERTS'))

async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as { port: number }).port
  await new Promise((resolve) => server.close(resolve))
  return port
}


function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return !readFileSync(`/proc/${pid}/stat`, 'utf8').includes(') Z ')
  } catch {
    return false
  }
}

function rssMb(pid: number): number {
  return statusMb(pid, 'VmRSS')
}

/** A size line of /proc/PID/status (`VmRSS`, `RssAnon`: the part no other process can share), in MB. */
function statusMb(pid: number, field: 'VmRSS' | 'RssAnon'): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)![1]) / 1024
}

async function until(what: string, test: () => boolean, within = 20_000, every = 2): Promise<number> {
  const deadline = performance.now() + within
  while (!test()) {
    if (performance.now() > deadline) throw new Error(`no ${what} within ${within} ms`)
    await sleep(every)
  }
  return performance.now()
}

/** A supervisor process and its JSON lines (for steward), killed with everything below it by `end()`. */
class Supervised {
  readonly process: ChildProcess
  readonly lines: Array<{ at: number; json: Record<string, unknown> | undefined }> = []
  constructor(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env) {
    this.process = spawn(command, args, { stdio: ['ignore', 'pipe', 'ignore'], env })
    this.process.stdout!.on(
      'data',
      lineReader((text) => {
        let json: Record<string, unknown> | undefined
        try {
          json = JSON.parse(text) as Record<string, unknown>
        } catch {
          json = undefined
        }
        this.lines.push({ at: performance.now(), json })
      }),
    )
  }
  find(test: (json: Record<string, unknown>) => boolean): Record<string, unknown> | undefined {
    return this.lines.find((line) => line.json !== undefined && test(line.json))?.json
  }
  async end(): Promise<void> {
    const pid = this.process.pid!
    const below = descendants(pid)
    const exited = new Promise((resolve) => (this.process.exitCode !== null || this.process.signalCode !== null ? resolve(null) : this.process.once('exit', resolve)))
    this.process.kill('SIGKILL')
    for (const child of below) {
      try {
        process.kill(child, 'SIGKILL')
      } catch {
        // already gone
      }
    }
    await exited
    await until('the children gone', () => below.every((child) => !alive(child)), 10_000, 10)
  }
}

/** SIGSTOP a redis under an exec probe → the frozen process gone, and missed deadline → new child started. */
async function detectAndRestart(): Promise<{ detect: number[]; restart: number[] }> {
  const detect: number[] = []
  const restart: number[] = []
  for (let r = 0; r < repetitions; r++) {
    const port = await freePort()
    const cli = new Supervised(process.execPath, [
      bin, 'run', '--json', '--timeout', '1s', '--every', '100ms', '--kill-signal', 'SIGKILL',
      '--probe', `exec:redis-cli -p ${port} ping`, '--', 'redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '',
    ])
    try {
      const ready = /^(\d+):M .*Ready to accept connections$/
      await until('redis ready', () => cli.find((json) => json.type === 'line' && ready.test(String(json.line))) !== undefined)
      const line = cli.find((json) => json.type === 'line' && ready.test(String(json.line)))!
      const pid = Number(ready.exec(String(line.line))![1])
      await sleep(1_500) // a few probes answered: the child is up and beating
      process.kill(pid, 'SIGSTOP')
      const frozenAt = performance.now()
      detect.push((await until('the frozen redis killed', () => !alive(pid), 20_000, 1)) - frozenAt)
      await until('the second redis', () => cli.find((json) => json.type === 'started' && json.attempt === 2) !== undefined)
      const hung = cli.find((json) => json.type === 'hung')!
      const started = cli.find((json) => json.type === 'started' && json.attempt === 2)!
      restart.push((started.at as number) - (hung.at as number))
    } finally {
      await cli.end()
    }
  }
  return { detect, restart }
}

/** A redis frozen under `steward run` (timeout 2 s, exec probe, default kill grace) → a new redis answering PING. */
async function freezeToServing(): Promise<number[]> {
  const samples: number[] = []
  for (let r = 0; r < (quick ? 2 : 3); r++) {
    const port = await freePort()
    const cli = new Supervised(process.execPath, [
      bin, 'run', '--json', '--timeout', '2s', '--probe', `exec:redis-cli -p ${port} ping`,
      '--', 'redis-server', '--port', String(port), '--bind', '127.0.0.1', '--save', '',
    ])
    try {
      const ready = /^(\d+):M .*Ready to accept connections$/
      const readyLine = (): Record<string, unknown> | undefined => cli.find((json) => json.type === 'line' && ready.test(String(json.line)))
      await until('redis ready', () => readyLine() !== undefined)
      const pid = Number(ready.exec(String(readyLine()!.line))![1])
      await sleep(2_500) // probes answered: the child is up and beating
      process.kill(pid, 'SIGSTOP')
      const frozenAt = performance.now()
      for (;;) {
        const answering = await redisPid(port)
        if (answering !== undefined && answering !== pid) break
        if (performance.now() - frozenAt > 30_000) throw new Error('no new redis answered within 30 s of the freeze')
        await sleep(5)
      }
      samples.push(performance.now() - frozenAt)
    } finally {
      await cli.end()
    }
  }
  return samples
}

const LINE_BYTES = 32 * 1_048_576
/** A child that writes one 32 MB line with a newline at its end, then exits 0. */
const lineChild = `const chunk = Buffer.alloc(1_048_576, 97); let left = ${LINE_BYTES / 1_048_576}; const write = () => { while (left > 0) { left--; if (!process.stdout.write(chunk)) return void process.stdout.once('drain', write) } process.stdout.write('\\n') }; write()`

/** Reads a process's stdout to its end: the bytes, and the time from its start to the end. */
function drain(child: ChildProcess, started: number): Promise<{ bytes: number; ms: number }> {
  return new Promise((resolve, reject) => {
    let bytes = 0
    child.stdout!.on('data', (chunk: Buffer) => (bytes += chunk.length))
    child.once('error', reject)
    child.once('close', () => resolve({ bytes, ms: performance.now() - started }))
  })
}

/** MB/s of the 32 MB line through `steward run` (text output: the line itself, after its prefix) and through `cat`. */
async function lineThroughput(): Promise<{ steward: number; cat: number }> {
  const stewardRates: number[] = []
  const catRates: number[] = []
  for (let r = 0; r < (quick ? 1 : 3); r++) {
    const startedCat = performance.now()
    const producer = spawn(process.execPath, ['-e', lineChild], { stdio: ['ignore', 'pipe', 'ignore'] })
    const cat = spawn('cat', [], { stdio: ['pipe', 'pipe', 'ignore'] })
    producer.stdout.pipe(cat.stdin)
    const catOut = await drain(cat, startedCat)
    if (catOut.bytes < LINE_BYTES) throw new Error(`cat passed ${catOut.bytes} bytes of ${LINE_BYTES}`)
    catRates.push(LINE_BYTES / 1_048_576 / (catOut.ms / 1_000))

    const startedSteward = performance.now()
    const cli = spawn(process.execPath, [bin, 'run', '--restart', 'transient', '--', process.execPath, '-e', lineChild], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, NO_COLOR: '1' } })
    const out = await drain(cli, startedSteward)
    // Once: the child completes (transient), so steward exits after one pass of the bytes.
    if (out.bytes < LINE_BYTES || out.bytes > LINE_BYTES * 1.5) throw new Error(`steward run passed ${out.bytes} bytes for ${LINE_BYTES}`)
    stewardRates.push(LINE_BYTES / 1_048_576 / (out.ms / 1_000))
  }
  return { steward: median(stewardRates), cat: median(catRates) }
}

/** A child SIGKILLed (a crash) → its replacement's pid written, for a supervisor started by `start`. */
async function crashRestart(start: (pidFile: string, home: string) => Supervised): Promise<number[]> {
  const samples: number[] = []
  const dir = mkdtempSync(join(tmpdir(), 'steward-bench-cli-'))
  const pidFile = join(dir, 'pids')
  const pids = (): number[] => (existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim().split('\n').filter(Boolean).map(Number) : [])
  const supervisor = start(pidFile, dir)
  try {
    await until('the first child', () => pids().length === 1)
    for (let r = 0; r < crashes; r++) {
      await sleep(1_200) // past PM2's min_uptime (1 s) so no restart counts as unstable
      const before = pids().length
      process.kill(pids().at(-1)!, 'SIGKILL')
      const killedAt = performance.now()
      samples.push((await until('the replacement', () => pids().length > before, 20_000, 1)) - killedAt)
    }
  } finally {
    await supervisor.end()
    rmSync(dir, { recursive: true, force: true })
  }
  return samples
}

/** The same child spawned by the bench (no supervisor) → its pid written: the start-up in every crash → restart. */
async function nodeStart(): Promise<number[]> {
  const samples: number[] = []
  const dir = mkdtempSync(join(tmpdir(), 'steward-bench-cli-'))
  const pidFile = join(dir, 'pids')
  const pids = (): number => (existsSync(pidFile) ? readFileSync(pidFile, 'utf8').trim().split('\n').filter(Boolean).length : 0)
  try {
    for (let r = 0; r < crashes; r++) {
      const started = performance.now()
      const child = spawn(process.execPath, [pidChild, pidFile], { stdio: 'ignore', env: startEnv })
      try {
        samples.push((await until('the child', () => pids() > r, 20_000, 1)) - started)
      } finally {
        const exited = new Promise((resolve) => child.once('exit', resolve))
        child.kill('SIGKILL')
        await exited
      }
      await sleep(200)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  return samples
}

function pm2Env(home: string, base: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
  return { ...base, PM2_HOME: join(home, '.pm2') }
}

/**
 * `steward run`'s own RSS (MB) with one idle child, and a bare `node` that only waits, each 1 s
 * after it started; and the anonymous part of each (the rest is mostly the node binary's pages,
 * shared with every node process).
 */
async function runRss(): Promise<{ run: number; node: number; runAnon: number; nodeAnon: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'steward-bench-cli-'))
  const pidFile = join(dir, 'pids')
  const run = new Supervised(process.execPath, [bin, 'run', '--json', '--', process.execPath, pidChild, pidFile])
  const bare = new Supervised(process.execPath, ['-e', 'setInterval(() => {}, 1 << 30)'])
  try {
    await until('the child of steward run', () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', 60_000, 20)
    await sleep(1_000)
    return { run: rssMb(run.process.pid!), node: rssMb(bare.process.pid!), runAnon: statusMb(run.process.pid!, 'RssAnon'), nodeAnon: statusMb(bare.process.pid!, 'RssAnon') }
  } finally {
    await run.end()
    await bare.end()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The supervisor's own RSS (MB) with `count` idle children, after they all started. */
async function rss(kind: 'steward' | 'pm2', count: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'steward-bench-cli-'))
  const pidFile = join(dir, 'pids')
  let supervisor: Supervised
  if (kind === 'steward') {
    const children = Array.from({ length: count }, (_, i) => ({ name: `c${i}`, command: process.execPath, args: [pidChild, pidFile] }))
    writeFileSync(join(dir, 'steward.config.json'), JSON.stringify({ children }))
    supervisor = new Supervised(process.execPath, [bin, 'up', '--json', join(dir, 'steward.config.json')])
  } else {
    const apps = Array.from({ length: count }, (_, i) => ({ name: `c${i}`, script: pidChild, args: [pidFile], autorestart: true }))
    writeFileSync(join(dir, 'ecosystem.config.json'), JSON.stringify({ apps }))
    supervisor = new Supervised(process.execPath, [pm2Runtime, 'start', join(dir, 'ecosystem.config.json')], pm2Env(dir))
  }
  try {
    await until(`${count} children`, () => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim().split('\n').length >= count, 60_000, 20)
    await sleep(1_000)
    return rssMb(supervisor.process.pid!)
  } finally {
    await supervisor.end()
    rmSync(dir, { recursive: true, force: true })
  }
}

/** Runs a command to its end; throws when it exits non-zero. */
function runToEnd(command: string, args: readonly string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'], env })
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
    child.once('error', reject)
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${[command, ...args].join(' ')} exited ${code}: ${stderr}`))))
  })
}

/** The pid an HTTP pid-server on `port` answers with, or undefined when nothing answers. */
function servedPid(port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const request = httpGet({ host: '127.0.0.1', port, path: '/', timeout: 2_000 }, (response) => {
      let body = ''
      response.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
      response.once('end', () => resolve(Number(body) || undefined))
    })
    request.once('error', () => resolve(undefined))
    request.once('timeout', () => request.destroy())
  })
}

/** Polls until a new pid (not `old`) serves on `port`; resolves with the time it did. */
async function newServer(port: number, old: number | undefined): Promise<number> {
  const deadline = performance.now() + 30_000
  for (;;) {
    const pid = await servedPid(port)
    if (pid !== undefined && pid !== old) return performance.now()
    if (performance.now() > deadline) throw new Error(`no new server on port ${port} within 30 s`)
    await sleep(2)
  }
}

/**
 * An operator's restart of one app of three (a web server and two idle children): the command
 * typed → the new web server answering, steward (`steward restart web` on `steward up`) or PM2
 * (`pm2 restart web` on its daemon).
 */
async function controlRestart(kind: 'steward' | 'pm2'): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'sbc-'))
  const port = await freePort()
  const pidFile = join(dir, 'pids')
  const env = kind === 'steward' ? { ...process.env, XDG_RUNTIME_DIR: dir } : pm2Env(dir)
  let supervisor: Supervised | undefined
  const samples: number[] = []
  let restart: () => Promise<void>
  try {
    if (kind === 'steward') {
      const config = join(dir, 'steward.config.json')
      const idle = ['a', 'b'].map((name) => ({ name, command: process.execPath, args: [pidChild, pidFile] }))
      writeFileSync(config, JSON.stringify({ children: [{ name: 'web', command: process.execPath, args: [pidServer, String(port)] }, ...idle] }))
      supervisor = new Supervised(process.execPath, [bin, 'up', '--json', config], env)
      restart = () => runToEnd(process.execPath, [bin, 'restart', 'web', '--config', config], env)
    } else {
      const config = join(dir, 'ecosystem.config.json')
      const idle = ['a', 'b'].map((name) => ({ name, script: pidChild, args: [pidFile], autorestart: true }))
      writeFileSync(config, JSON.stringify({ apps: [{ name: 'web', script: pidServer, args: [String(port)], autorestart: true }, ...idle] }))
      await runToEnd(process.execPath, [pm2Cli, 'start', config], env)
      restart = () => runToEnd(process.execPath, [pm2Cli, 'restart', 'web'], env)
    }
    await newServer(port, undefined)
    for (let r = 0; r < repetitions; r++) {
      await sleep(1_200) // past PM2's min_uptime (1 s)
      const old = await servedPid(port)
      const typed = performance.now()
      const [serving] = await Promise.all([newServer(port, old), restart()])
      samples.push(serving - typed)
    }
  } finally {
    await supervisor?.end()
    if (kind === 'pm2') await runToEnd(process.execPath, [pm2Cli, 'kill'], env).catch(() => undefined)
    rmSync(dir, { recursive: true, force: true })
  }
  return samples
}

/**
 * Rolling restarts of 4 instances under load: `steward restart web` on a `steward up` whose app
 * has `instances: 4`, behind a round-robin proxy, with 4 client loops running; each repetition's
 * time to complete, and every request that failed.
 */
async function rollingRestart(): Promise<{ ms: number[]; failed: number; answered: number; passedOn: number }> {
  const dir = mkdtempSync(join(tmpdir(), 'sbr-'))
  const env = { ...process.env, XDG_RUNTIME_DIR: dir }
  const base = await freePortBlock(4)
  const ports = [0, 1, 2, 3].map((index) => base + index)
  const config = join(dir, 'steward.config.json')
  writeFileSync(
    config,
    JSON.stringify({
      children: [
        {
          name: 'web',
          instances: 4,
          command: process.execPath,
          args: [instanceServer, `${base / 10}{instance}`],
          heartbeat: `http:http://127.0.0.1:${base / 10}{instance}/`,
          timeout: '3s',
          pulseInterval: '100ms',
          startTimeout: '20s',
        },
      ],
    }),
  )
  const supervisor = new Supervised(process.execPath, [bin, 'up', '--json', config], env)
  const proxy = await roundRobinProxy(ports)
  const ms: number[] = []
  let failed = 0
  let answered = 0
  try {
    await until('four copies up', () => {
      const status = spawnSync(process.execPath, [bin, 'status', '--json', '--config', config], { env, encoding: 'utf8' })
      const apps = status.status === 0 ? (JSON.parse(status.stdout) as { apps: { up: boolean }[] }).apps : []
      return apps.length === 4 && apps.every((app) => app.up)
    }, 30_000, 100)
    for (let r = 0; r < repetitions; r++) {
      const load = loadLoop(proxy.port, { concurrency: 4 })
      await until('the load answered', () => load.ok >= 200, 30_000)
      const typed = performance.now()
      await runToEnd(process.execPath, [bin, 'restart', 'web', '--config', config], env)
      ms.push(performance.now() - typed)
      const okAtEnd = load.ok
      await until('answers after the rollout', () => load.ok >= okAtEnd + 100, 30_000)
      const report = await load.stop()
      failed += report.failed.length
      answered += report.ok
    }
  } finally {
    await proxy.close()
    await supervisor.end()
    rmSync(dir, { recursive: true, force: true })
  }
  if (failed > 0) process.stderr.write(`cli.rolling_restart_failed: ${failed} requests failed during rolling restarts (must be 0)\n`)
  return { ms, failed, answered, passedOn: proxy.refused + proxy.unanswered }
}

/** The last bytes of a file ('' when it does not exist). */
function tail(file: string, bytes = 200): string {
  if (!existsSync(file)) return ''
  const size = statSync(file).size
  const fd = openSync(file, 'r')
  try {
    const buffer = Buffer.alloc(Math.min(bytes, size))
    readSync(fd, buffer, 0, buffer.length, size - buffer.length)
    return buffer.toString('utf8')
  } finally {
    closeSync(fd)
  }
}

/** Lines per second of `count` 80-byte lines from a child into a file: through steward, PM2, or a pipe into cat. */
async function logThroughput(kind: 'steward' | 'pm2' | 'pipe', count: number): Promise<number> {
  const dir = mkdtempSync(join(tmpdir(), 'sbc-'))
  const last = `line ${count} done`
  try {
    if (kind === 'pipe') {
      const file = join(dir, 'w.out.log')
      const out = openSync(file, 'w')
      const started = performance.now()
      const producer = spawn(process.execPath, [lineWriter, String(count)], { stdio: ['ignore', 'pipe', 'ignore'] })
      const cat = spawn('cat', [], { stdio: ['pipe', out, 'ignore'] })
      producer.stdout.pipe(cat.stdin!)
      await new Promise((resolve) => cat.once('close', resolve))
      const ms = performance.now() - started
      closeSync(out)
      if (!tail(file).includes(last)) throw new Error('the pipe lost lines')
      return count / (ms / 1_000)
    }
    if (kind === 'steward') {
      const logs = join(dir, 'logs')
      const started = performance.now()
      await runToEnd(process.execPath, [bin, 'run', '--restart', 'transient', '--name', 'w', '--log-dir', logs, '--', process.execPath, lineWriter, String(count)], { ...process.env, XDG_RUNTIME_DIR: dir })
      const ms = performance.now() - started
      if (!tail(join(logs, 'w.out.log')).includes(last)) throw new Error(`steward's log file lacks '${last}'`)
      return count / (ms / 1_000)
    }
    const env = pm2Env(dir)
    const file = join(dir, 'w-out.log')
    const config = join(dir, 'ecosystem.config.json')
    writeFileSync(config, JSON.stringify({ apps: [{ name: 'w', script: lineWriter, args: [String(count)], autorestart: false, time: true, out_file: file, error_file: join(dir, 'w-err.log') }] }))
    await runToEnd(process.execPath, [pm2Cli, 'ping'], env) // the daemon up first: its start is not the log's cost
    try {
      const started = performance.now()
      await runToEnd(process.execPath, [pm2Cli, 'start', config], env)
      const done = await until("PM2's last line in its log file", () => tail(file).includes(last), 120_000, 5)
      return count / ((done - started) / 1_000)
    } finally {
      await runToEnd(process.execPath, [pm2Cli, 'kill'], env).catch(() => undefined)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The three log paths, each the median of a few runs, in one group. */
async function logLines(): Promise<Figures> {
  const count = quick ? 200_000 : 500_000
  const runs = quick ? 1 : 3
  const rates = { steward: [] as number[], pm2: [] as number[], pipe: [] as number[] }
  for (let r = 0; r < runs; r++) for (const kind of ['pipe', 'steward', 'pm2'] as const) rates[kind].push(await logThroughput(kind, count))
  return {
    'cli.log_lines_per_s': { value: median(rates.steward), unit: `lines/s (${count} lines of 80 bytes, steward run --log-dir)` },
    'peer.pm2.log_lines_per_s': { value: median(rates.pm2), unit: 'lines/s (PM2 daemon, time: true)' },
    'peer.pipe.log_lines_per_s': { value: median(rates.pipe), unit: 'lines/s (the child | cat > file)' },
  }
}

export async function measure(): Promise<Figures> {
  if (spawnSync('redis-server', ['--version']).status !== 0) throw new Error('the cli group needs redis-server and redis-cli (scripts/test-deps.sh installs them)')
  if (!existsSync(pm2Runtime)) throw new Error('the cli group needs pm2 (npm ci installs it, a devDependency)')
  process.stderr.write('peer.pm2.detect_ms: none — PM2 cannot detect a frozen process (no liveness check); it restarts only on exit or max_memory_restart\n')
  const { detect, restart } = await detectAndRestart()
  const serving = await freezeToServing()
  // Both count a run of 1 s as healthy (PM2's min_uptime; steward's --backoff-reset): each kill
  // comes after 1.2 s of running, so each is a crash after a healthy run, restarted at once.
  if (process.env.NODE_EXTRA_CA_CERTS !== undefined) process.stderr.write('cli.crash_restart_ms: NODE_EXTRA_CA_CERTS is set here; the crash → restart children (steward\'s, PM2\'s and the bench\'s own) run without it\n')
  const stewardCrash = await crashRestart((pidFile) => new Supervised(process.execPath, [bin, 'run', '--json', '--max-restarts', 'Infinity', '--backoff-reset', '1s', '--', process.execPath, pidChild, pidFile], startEnv))
  const pm2Crash = await crashRestart((pidFile, home) => {
    writeFileSync(join(home, 'ecosystem.config.json'), JSON.stringify({ apps: [{ name: 'child', script: pidChild, args: [pidFile], autorestart: true, max_restarts: 1_000 }] }))
    return new Supervised(process.execPath, [pm2Runtime, 'start', join(home, 'ecosystem.config.json')], pm2Env(home, startEnv))
  })
  const started = await nodeStart()
  return {
    'cli.detect_ms': { value: median(detect), unit: 'ms (timeout 1000 + probe every 100)' },
    'cli.restart_ms': { value: median(restart), unit: 'ms' },
    'cli.freeze_to_serving_ms': { value: median(serving), unit: 'ms (timeout 2000 + probe every 1000, kill-after 5000)' },
    'cli.crash_restart_ms': { value: median(stewardCrash), unit: 'ms (--backoff-reset 1s: a crash after a healthy run)' },
    'peer.pm2.crash_restart_ms': { value: median(pm2Crash), unit: 'ms' },
    'baseline.node_start_ms': { value: median(started), unit: 'ms (the same child spawned by the bench → its pid written: the start-up both wait for)' },
    ...(await runRss().then(({ run, node, runAnon, nodeAnon }) => ({
      'cli.run_rss_mb': { value: run, unit: 'MB (steward run, one idle child)' },
      'baseline.node_rss_mb': { value: node, unit: 'MB (a bare node process that only waits)' },
      'cli.run_anon_mb': { value: runAnon, unit: 'MB (RssAnon of the same steward run)' },
      'baseline.node_anon_mb': { value: nodeAnon, unit: 'MB (RssAnon of the same bare node)' },
    }))),
    'cli.rss_mb_1': { value: await rss('steward', 1), unit: 'MB' },
    'peer.pm2.rss_mb_1': { value: await rss('pm2', 1), unit: 'MB' },
    'cli.rss_mb_3': { value: await rss('steward', 3), unit: 'MB' },
    'peer.pm2.rss_mb_3': { value: await rss('pm2', 3), unit: 'MB' },
    'cli.rss_mb_50': { value: await rss('steward', 50), unit: 'MB' },
    'peer.pm2.rss_mb_50': { value: await rss('pm2', 50), unit: 'MB' },
    'cli.control_restart_ms': { value: median(await controlRestart('steward')), unit: 'ms (steward restart web → the new server answering; 3 apps)' },
    'peer.pm2.control_restart_ms': { value: median(await controlRestart('pm2')), unit: 'ms (pm2 restart web, the same)' },
    ...(await rollingRestart().then(({ ms, failed, answered, passedOn }) => ({
      'cli.rolling_restart_ms': { value: median(ms), unit: `ms (steward restart web, instances: 4 under 4 client loops, one copy at a time, each once the one before answers its probe; ${ms.map((value) => Math.round(value)).join(', ')})` },
      'cli.rolling_restart_failed': { value: failed, unit: `failed requests of ${answered} answered during ${ms.length} rolling restarts (must be 0; ${passedOn} connections passed on by the proxy from a copy refusing or resetting them unanswered)` },
    }))),
    ...(await logLines()),
    ...(await lineThroughput().then(({ steward, cat }) => ({
      'cli.line_mb_per_s': { value: steward, unit: 'MB/s (one 32 MB line through steward run)' },
      'peer.cat.line_mb_per_s': { value: cat, unit: 'MB/s (the same bytes through cat on a pipe)' },
    }))),
  }
}
