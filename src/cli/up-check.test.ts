import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startCli } from '../testing/cli.js'
import { buildConfig } from './config.js'

// `steward up --check`: a command that is not on the child's PATH (or not executable) will not
// start; the config is still valid, so it is a warning, not a failure. And the line limit key.

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), '.steward-check-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

test('up --check warns about a command not on PATH and one that is not executable, exits 0, text and JSON', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'run.sh'), '#!/bin/sh\n')
  chmodSync(join(dir, 'run.sh'), 0o644)
  writeFileSync(
    join(dir, 'steward.config.json'),
    JSON.stringify({
      children: [
        { name: 'ok', command: 'sh', args: ['-c', 'true'] },
        { name: 'typo', command: 'redis-serverr-steward-test' },
        { name: 'script', command: './run.sh' },
        { name: 'shell', command: 'redis-serverr-steward-test --port 1', shell: true },
      ],
    }),
  )
  const text = startCli(['up', '--check'], { cwd: dir })
  const json = startCli(['up', '--check', '--json'], { cwd: dir })
  t.after(() => (text.kill(), json.kill()))
  assert.equal((await text.exited).code, 0)
  assert.equal((await json.exited).code, 0)
  const said = text.lines.filter((line) => line.stream === 'stdout').map((line) => line.text)
  assert.equal(said.length, 3, said.join('\n'))
  assert.match(said[0]!, /steward\.config\.json: warning: child 'typo': command 'redis-serverr-steward-test' is not on PATH; starting it will fail/)
  assert.match(said[1]!, /steward\.config\.json: warning: child 'script': command '\.\/run\.sh' is not an executable file/)
  assert.match(said[2]!, /steward\.config\.json: valid; children in start order: ok \(process\), typo \(process\), script \(process\), shell \(process\)$/)
  const [report] = json.events()
  assert.equal(report!.valid, true)
  assert.deepEqual(
    (report!.warnings as string[]).map((warning) => /^child '(\w+)'/.exec(warning)![1]),
    ['typo', 'script'],
    'a shell command is not looked up',
  )
})

test("a process child's maxLineLength key: a size, validated by the library's check", () => {
  const file = join(tmpdir(), 'steward.config.json')
  const ok = buildConfig({ children: [{ name: 'a', command: 'sh', maxLineLength: '1K' }, { name: 'b', command: 'sh', maxLineLength: 4096 }] }, file)
  assert.equal(ok.children.length, 2)
  assert.throws(() => buildConfig({ children: [{ name: 'a', command: 'sh', maxLineLength: 2 }] }, file), /child 'a': key 'maxLineLength' must be at least 4 bytes/)
  assert.throws(() => buildConfig({ children: [{ name: 'a', command: 'sh', maxLineLength: 'huge' }] }, file), /child 'a': key 'maxLineLength': must be a size like/)
  assert.throws(() => buildConfig({ children: [{ name: 'a', command: 'sh', maxLineLength: true }] }, file), /child 'a': key 'maxLineLength' must be a number of bytes or a size/)
})

test('steward up: a tree left with only a child whose command is not found gives up and exits 127; the child never reads as started', { timeout: 30_000 }, async (t) => {
  const dir = tempDir(t)
  writeFileSync(join(dir, 'steward.config.json'), JSON.stringify({ name: 'app', children: [{ name: 'typo', command: 'redis-serverr-steward-test' }] }))
  const cli = startCli(['up'], { cwd: dir })
  t.after(() => cli.kill())
  assert.equal((await cli.exited).code, 127)
  const said = cli.lines.filter((line) => line.stream === 'stdout').map((line) => line.text)
  assert.ok(!said.some((line) => / started/.test(line)), said.join('\n'))
  assert.ok(said.some((line) => /app\/typo gave up after 0 restarts: .*not found \(ENOENT\)$/.test(line)), said.join('\n'))
  assert.ok(said.some((line) => /app gave up after 0 restarts: ward 'typo': cannot start command/.test(line)), said.join('\n'))
})
