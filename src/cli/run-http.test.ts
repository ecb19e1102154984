import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from '../testing/net.js'
import { alive, childPids, cliChild, startCli } from '../testing/cli.js'

// `--http` on `steward run` and `steward up`: the status, metrics and dashboard while the command
// runs; a bad address or a missing token is a usage error before anything starts.

async function get(url: string): Promise<{ status: number; body: string } | undefined> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(2_000) })
    return { status: response.status, body: await response.text() }
  } catch {
    return undefined
  }
}

test('run --http: /readyz, /metrics and /status answer while the child runs; the server is gone after SIGTERM', { timeout: 30_000 }, async (t) => {
  const port = await freePort()
  const cli = startCli(['run', '--json', '--http', `127.0.0.1:${port}`, '--probe', 'stdout', '--timeout', '2s', '--name', 'web', '--', process.execPath, cliChild, 'ready', '0'])
  t.after(() => cli.kill())
  let ready: { status: number; body: string } | undefined
  for (let i = 0; i < 200 && ready?.status !== 200; i++) {
    ready = await get(`http://127.0.0.1:${port}/readyz`)
    if (ready?.status !== 200) await new Promise((resolve) => setTimeout(resolve, 50))
  }
  assert.equal(ready?.status, 200, 'ready once the child beat')
  const metrics = await get(`http://127.0.0.1:${port}/metrics`)
  assert.match(metrics!.body, /^steward_up\{path="web"[^}]*\} 1$/m)
  const status = JSON.parse((await get(`http://127.0.0.1:${port}/status`))!.body) as { name: string; state: string }
  assert.equal(status.name, 'web')
  const page = await get(`http://127.0.0.1:${port}/`)
  assert.equal(page?.status, 200, `the dashboard's page: ${page?.body}`)
  assert.match(page.body, /data-token="none"/)
  cli.process.kill('SIGTERM')
  assert.equal((await cli.exited).code, 143)
  assert.equal(await get(`http://127.0.0.1:${port}/healthz`), undefined, 'nothing listens after the CLI exited')
  assert.ok(childPids(cli).every((pid) => !alive(pid)))
})

test('run and up: --http beyond loopback without a token, a bad address, or a token without --http exit 2 before anything starts', { timeout: 30_000 }, async () => {
  const cases: Array<[string[], RegExp]> = [
    [['run', '--json', '--http', '0.0.0.0:9477', '--', process.execPath, cliChild, 'ready', '0'], /--http: .*not a loopback address.*--http-token/],
    [['run', '--json', '--http', 'localhost:99999', '--', process.execPath, cliChild, 'ready', '0'], /--http: .*port must be from 0 to 65535/],
    [['run', '--json', '--http-token', 'secret', '--', process.execPath, cliChild, 'ready', '0'], /--http-token: .*needs --http/],
    [['up', '--http', 'nowhere'], /--http: .*PORT, HOST:PORT/],
  ]
  for (const [args, message] of cases) {
    const cli = startCli(args, { env: { ...process.env, NO_COLOR: '1', STEWARD_HTTP_TOKEN: '' } })
    const { code } = await cli.exited
    const stderr = cli.lines.filter((line) => line.stream === 'stderr').map((line) => line.text).join('\n')
    assert.equal(code, 2, args.join(' '))
    assert.match(stderr, message)
    assert.deepEqual(childPids(cli), [], 'no child was started')
  }
})

test('run and up: --http on a taken port exits 2 before anything starts, naming the flag and the address', { timeout: 30_000 }, async (t) => {
  const taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  t.after(() => taken.close())
  const port = (taken.address() as AddressInfo).port
  const dir = mkdtempSync(join(tmpdir(), '.steward-http-taken-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const marker = join(dir, 'started')
  writeFileSync(join(dir, 'steward.config.json'), JSON.stringify({ children: [{ name: 'web', command: 'sh', args: ['-c', `touch '${marker}'; sleep 30`] }] }))
  for (const args of [
    ['run', '--http', `127.0.0.1:${port}`, '--', 'sh', '-c', `touch '${marker}'; sleep 30`],
    ['up', '--http', String(port)],
  ]) {
    const cli = startCli(args, { cwd: dir })
    t.after(() => cli.kill())
    const { code } = await cli.exited
    const said = cli.lines.map((line) => `${line.stream} ${line.text}`)
    assert.equal(code, 2, `${args.join(' ')}:\n${said.join('\n')}`)
    assert.deepEqual(said, [`stderr steward ${args[0]!}: --http 127.0.0.1:${port}: cannot listen: the address is in use (EADDRINUSE); choose another port`])
    assert.deepEqual(childPids(cli), [], 'no child was started')
    assert.equal(existsSync(marker), false, 'the command never ran')
  }
})
