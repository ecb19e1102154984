import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { freePort } from '../testing/net.js'
import { planHttp } from './http.js'

const bin = fileURLToPath(new URL('./bin.cts', import.meta.url))

test('--http and --http-token are checked before anything starts', () => {
  assert.equal(planHttp({}, {}), undefined)
  assert.deepEqual(planHttp({ http: '9477' }, {}), { host: '127.0.0.1', port: 9477, token: undefined })
  assert.deepEqual(planHttp({ http: 'localhost:1' }, {}), { host: 'localhost', port: 1, token: undefined })
  assert.deepEqual(planHttp({ http: '[::1]:80' }, {}), { host: '::1', port: 80, token: undefined })
  assert.deepEqual(planHttp({ http: '0.0.0.0:80' }, { STEWARD_HTTP_TOKEN: 'env' }), { host: '0.0.0.0', port: 80, token: 'env' })
  assert.deepEqual(planHttp({ http: '0.0.0.0:80', httpToken: 'flag' }, { STEWARD_HTTP_TOKEN: 'env' }), { host: '0.0.0.0', port: 80, token: 'flag' })
  assert.throws(() => planHttp({ http: '0.0.0.0:80' }, {}), /not a loopback address; give --http-token \(or STEWARD_HTTP_TOKEN\)/)
  assert.throws(() => planHttp({ http: '0.0.0.0:80' }, { STEWARD_HTTP_TOKEN: '' }), /not a loopback address/)
  assert.throws(() => planHttp({ http: 'nope' }, {}), /--http must be PORT, HOST:PORT or \[IPV6\]:PORT/)
  assert.throws(() => planHttp({ http: '99999' }, {}), /port must be from 0 to 65535/)
  assert.throws(() => planHttp({ httpToken: 'x' }, {}), /--http-token needs --http/)
  assert.throws(() => planHttp({ http: '1', httpToken: '' }, {}), /must not be empty/)
})

test('steward demo tree --http serves the tree while it heals, then until SIGINT (exit 130)', async () => {
  const port = await freePort()
  const child = spawn(process.execPath, ['--import', 'tsx', bin, 'demo', 'tree', '--speed', '4', '--http', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, STEWARD_HTTP_TOKEN: '' } })
  let out = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (out += chunk))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  try {
    const deadline = performance.now() + 20_000
    let metrics = ''
    // The hung series is there at 0 from the start: wait for the restart to count.
    while (performance.now() < deadline && !/reason="hung"\} [1-9]/.test(metrics)) {
      metrics = await fetch(`http://127.0.0.1:${port}/metrics`).then((r) => r.text(), () => '')
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    assert.match(metrics, /^steward_restarts_total\{path="tree\/reader",reason="hung"\} 1$/m, out)
    assert.match(out, new RegExp(`steward: dashboard on http://127\\.0\\.0\\.1:${port}/`))
    // After the demo (the caller stops the tree at 8 s, 2 s at speed 4) the final state is still served.
    let state = ''
    while (performance.now() < deadline && state !== 'stopped') {
      state = ((await fetch(`http://127.0.0.1:${port}/status`).then((r) => r.json())) as { state: string }).state
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
    assert.equal(state, 'stopped')
    assert.match(out, /steward: stopped/)
    assert.equal(child.exitCode, null, 'still serving after the demo')
    child.kill('SIGINT')
    assert.equal(await exited, 130)
  } finally {
    child.kill('SIGKILL')
  }
})

test('steward demo refuses --http beyond loopback without a token, and with other demos', async () => {
  for (const args of [['demo', 'tree', '--http', '0.0.0.0:1'], ['demo', 's1', '--http', '1'], ['demo', 'tree', '--virtual', '--http', '1']]) {
    const child = spawn(process.execPath, ['--import', 'tsx', bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, STEWARD_HTTP_TOKEN: '' } })
    let err = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (err += chunk))
    const code = await new Promise<number | null>((resolve) => child.on('exit', (c) => resolve(c)))
    assert.equal(code, 2, args.join(' '))
    assert.match(err, /--http/)
  }
})
