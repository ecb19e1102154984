import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseCount, parseDuration, parseEnvPair, parseProbe, parseSignal, parseSize, splitWords, UsageError } from './flags.js'

test('splitWords splits as a shell would, expanding nothing', () => {
  assert.deepEqual(splitWords(`curl -fsS  'http://h/a b' "x \\"y\\" \\\\ $HOME" a\\ b ''`, 'w'), ['curl', '-fsS', 'http://h/a b', 'x "y" \\ $HOME', 'a b', ''])
  assert.deepEqual(splitWords('  ', 'w'), [])
  assert.deepEqual(splitWords(`sh -c 'echo $$; test -e "/tmp/x y"'`, 'w'), ['sh', '-c', 'echo $$; test -e "/tmp/x y"'])
  assert.throws(() => splitWords(`a "b`, '--probe'), { name: 'UsageError', message: /^--probe: unterminated "/ })
})

test('sizes, counts, durations, signals and K=V from text, each error naming where it came from', () => {
  assert.equal(parseSize('512M', 's'), 512 * 1024 ** 2)
  assert.equal(parseSize('1g', 's'), 1024 ** 3)
  assert.equal(parseSize('64K', 's'), 64 * 1024)
  assert.equal(parseSize('64KB', 's'), 64 * 1000, "the library's units: KB is 1000 bytes")
  assert.equal(parseSize('1GiB', 's'), 1024 ** 3)
  assert.equal(parseSize('1000', 's'), 1000)
  assert.throws(() => parseSize('1X', '--max-memory'), (error: unknown) => error instanceof UsageError && error.where === '--max-memory')
  assert.equal(parseCount('0', 'n'), 0)
  assert.equal(parseCount('inf', 'n'), Infinity)
  assert.throws(() => parseCount('1.5', '--max-restarts'), /--max-restarts: must be a non-negative integer/)
  assert.equal(parseDuration('250', 'd'), 250)
  assert.equal(parseDuration('1.5s', 'd'), 1_500)
  assert.equal(parseDuration('Infinity', 'd', { infinite: true }), Infinity)
  assert.throws(() => parseDuration('Infinity', '--timeout'), /--timeout: /)
  assert.equal(parseSignal('term', 's'), 'SIGTERM')
  assert.equal(parseSignal('SIGKILL', 's'), 'SIGKILL')
  assert.throws(() => parseSignal('SIGFOO', '--kill-signal'), /--kill-signal: must be a signal name/)
  assert.deepEqual(parseEnvPair('A=b=c', 'e'), ['A', 'b=c'])
  assert.deepEqual(parseEnvPair('EMPTY=', 'e'), ['EMPTY', ''])
  assert.throws(() => parseEnvPair('=x', '--env'), /--env: must be K=V/)
})

test('probes from text: the library heartbeat each names', () => {
  assert.equal(parseProbe('ipc', 'p'), 'ipc')
  assert.deepEqual(parseProbe('tcp:[::1]:80', 'p', 100), { tcp: { host: '::1', port: 80 }, every: 100 })
  assert.deepEqual(parseProbe('https://127.0.0.1/x', 'p'), { http: 'https://127.0.0.1/x' })
  assert.deepEqual(parseProbe("exec:redis-cli -p 6390 ping", 'p', 200, 50), { exec: ['redis-cli', '-p', '6390', 'ping'], every: 200, timeout: 50 })
  assert.throws(() => parseProbe('exec:', 'p'), /exec: give the probe's command/)
  assert.throws(() => parseProbe('http:ftp://x', 'p'), /the URL must be http:\/\/ or https:\/\//)
  assert.throws(() => parseProbe('tcp:', 'p'), /the port must be 1\.\.65535/)
})
