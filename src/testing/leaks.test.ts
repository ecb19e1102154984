// The leak check itself: what the checked code leaves is caught, what others do meanwhile is not.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import { createServer as createHttpServer, request } from 'node:http'
import { promisify } from 'node:util'
import { checkLeaks, noLeaks } from './leaks.js'

const turn = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 5))

test('a leaked timer and a leaked listener are caught', async () => {
  const keep = new AbortController()
  let timer: ReturnType<typeof setTimeout> | undefined
  const onExit = (): void => {}
  const { leaks } = await checkLeaks(async () => {
    timer = setTimeout(() => {}, 60_000)
    keep.signal.addEventListener('abort', () => {})
    process.on('exit', onExit)
  })
  clearTimeout(timer)
  process.off('exit', onExit)
  assert.deepEqual(leaks, { abortListeners: 1, pendingPromises: 0, handles: ['Timeout'], listeners: ['process:exit'] })
})

test('a leak made later by code the body started is caught', async () => {
  let interval: ReturnType<typeof setInterval> | undefined
  const onWarning = (): void => {}
  const { leaks } = await checkLeaks(async () => {
    setTimeout(() => {
      interval = setInterval(() => {}, 60_000)
      process.once('warning', onWarning)
    }, 1)
    await new Promise<void>((resolve) => setTimeout(resolve, 10))
  })
  clearInterval(interval)
  process.off('warning', onWarning)
  assert.deepEqual(leaks, { abortListeners: 0, pendingPromises: 0, handles: ['Timeout'], listeners: ['process:warning'] })
})

test('a promise that never settles and a server left listening are caught', async () => {
  const server = createServer()
  const { leaks } = await checkLeaks(async () => {
    void new Promise(() => {})
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  })
  await new Promise((resolve) => server.close(resolve))
  assert.equal(leaks.pendingPromises, 1)
  assert.deepEqual(leaks.handles, ['TCPSERVERWRAP'])
})

test('what the body released is not reported: timers, listeners, a server, a child process, a file read', async () => {
  const { leaks } = await checkLeaks(async () => {
    const keep = new AbortController()
    const listener = (): void => {}
    keep.signal.addEventListener('abort', listener)
    keep.signal.removeEventListener('abort', listener)
    const onExit = (): void => {}
    process.on('exit', onExit)
    process.off('exit', onExit)
    clearTimeout(setTimeout(() => {}, 60_000))
    await turn()
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    await new Promise((resolve) => server.close(resolve))
    await promisify(execFile)(process.execPath, ['-e', '0'])
    await readFile(new URL(import.meta.url))
  })
  assert.deepEqual(leaks, noLeaks)
})

test("what other code does while the body runs is not blamed on the body (a runtime's or the runner's work)", async () => {
  let outsideTimer: ReturnType<typeof setTimeout> | undefined
  const onExit = (): void => {}
  // Scheduled before the check: its callback runs meanwhile, in a context that is not the body's.
  setImmediate(() => {
    outsideTimer = setTimeout(() => {}, 60_000)
    process.on('exit', onExit)
    void readFile(new URL(import.meta.url))
  })
  const { leaks } = await checkLeaks(async () => {
    await turn()
    await turn()
  })
  assert.ok(outsideTimer, 'the outside code ran while the body did')
  clearTimeout(outsideTimer)
  process.off('exit', onExit)
  assert.deepEqual(leaks, noLeaks)
})

test('listeners the body adds to emitters it made are not counted: they go with the emitter', async () => {
  const { leaks } = await checkLeaks(async () => {
    const server = createServer()
    server.on('connection', () => {})
    server.once('close', () => {})
  })
  assert.deepEqual(leaks, noLeaks)
})

test("the HTTP server's Date header cache (a runtime timer made by the first response of a second) is not blamed on the body", async () => {
  // Past the next second's start, the runtime's cache is empty: the body's response fills it.
  await new Promise((resolve) => setTimeout(resolve, 1_020 - (Date.now() % 1_000)))
  const { leaks } = await checkLeaks(async () => {
    const server = createHttpServer((_, response) => response.end('ok'))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const { port } = server.address() as { port: number }
    const date = await new Promise<string | undefined>((resolve, reject) => {
      const req = request({ host: '127.0.0.1', port, agent: false }, (response) => {
        response.resume()
        response.on('end', () => resolve(response.headers.date))
      })
      req.on('error', reject)
      req.end()
    })
    assert.ok(date, 'the response has a Date header')
    await new Promise<void>((resolve) => server.close(() => resolve()))
  })
  assert.deepEqual(leaks, noLeaks)
})

test('a synchronous randomBytes (a cluster node names itself with one) is not a leak: its job is done when the call returns', async () => {
  const { result, leaks } = await checkLeaks(async () => randomBytes(3).length)
  assert.equal(result, 3)
  assert.deepEqual(leaks, noLeaks)
})
