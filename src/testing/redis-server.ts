// Real redis-server processes for the tests (test-only): a server or a 3-master Redis Cluster on
// free loopback ports in a temporary directory, with AOF on (fsync always), so a restart keeps
// the epochs, tokens and checkpoints, as a production Redis must for fencing.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:net'
import { freePort } from './net.js'
import { waitFor } from './wait.js'


function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    socket.setTimeout(500)
    socket.once('connect', () => socket.write('PING\r\n'))
    socket.once('data', (data) => {
      socket.destroy()
      resolve(data.toString().startsWith('+PONG'))
    })
    socket.once('error', () => resolve(false))
    socket.once('timeout', () => {
      socket.destroy()
      resolve(false)
    })
  })
}

/**
 * The pid of the redis-server answering PING on 127.0.0.1:`port` (from `INFO server`), or
 * `undefined` when nothing answers within `within` ms (refused, reset, or frozen: a stopped
 * server's backlog accepts the connection but nothing replies).
 */
export function redisPid(port: number, within = 250): Promise<number | undefined> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let reply = ''
    const finish = (pid: number | undefined): void => {
      socket.destroy()
      resolve(pid)
    }
    socket.setTimeout(within)
    socket.once('connect', () => socket.write('PING\r\nINFO server\r\n'))
    socket.on('data', (data) => {
      reply += data.toString('latin1')
      const pid = /process_id:(\d+)/.exec(reply)
      if (pid !== null) finish(reply.startsWith('+PONG') ? Number(pid[1]) : undefined)
    })
    socket.once('error', () => finish(undefined))
    socket.once('timeout', () => finish(undefined))
    socket.once('end', () => finish(undefined))
  })
}

/** One redis-server on 127.0.0.1. */
export class RedisServer {
  readonly port: number
  readonly dir: string
  readonly extra: readonly string[]
  process: ChildProcess | undefined

  private constructor(port: number, dir: string, extra: readonly string[]) {
    this.port = port
    this.dir = dir
    this.extra = extra
  }

  static async start(extra: readonly string[] = [], dir = mkdtempSync(join(tmpdir(), 'steward-redis-'))): Promise<RedisServer> {
    const server = new RedisServer(await freePort(), dir, extra)
    await server.launch()
    return server
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`
  }

  async launch(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always', ...this.extra]
    this.process = spawn('redis-server', args, { stdio: 'ignore' })
    await waitFor(`redis-server on port ${this.port}`, () => answers(this.port), 10_000, 50)
  }

  /** Stops the server and waits for its exit. */
  async kill(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
    const child = this.process
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGCONT')
    child.kill(signal)
    await exited
    this.process = undefined
  }

  async stop(removeDir = true): Promise<void> {
    await this.kill()
    if (removeDir) rmSync(this.dir, { recursive: true, force: true })
  }
}

/** Three masters in cluster mode, joined with `redis-cli --cluster create`. */
export async function startRedisCluster(): Promise<{ servers: RedisServer[]; stop(): Promise<void> }> {
  const servers: RedisServer[] = []
  for (let i = 0; i < 3; i++) {
    const dir = mkdtempSync(join(tmpdir(), 'steward-redis-cluster-'))
    servers.push(await RedisServer.start(['--cluster-enabled', 'yes', '--cluster-config-file', join(dir, 'nodes.conf'), '--cluster-node-timeout', '2000'], dir))
  }
  const created = spawnSync('redis-cli', ['--cluster', 'create', ...servers.map((s) => `127.0.0.1:${s.port}`), '--cluster-replicas', '0', '--cluster-yes'], { encoding: 'utf8' })
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed: ${created.stdout}${created.stderr}`)
  await waitFor('the Redis Cluster to be ok', () => {
    const info = spawnSync('redis-cli', ['-p', String(servers[0]!.port), 'cluster', 'info'], { encoding: 'utf8' })
    return info.stdout.includes('cluster_state:ok')
  }, 20_000, 50)
  return {
    servers,
    async stop() {
      for (const server of servers) await server.stop()
    },
  }
}
