import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { builtBin, inProcess, startCli } from '../testing/cli.js'
import { execWord, stopDeadline, unitText } from './unit.js'

function tempDir(t: { after(fn: () => void): void }): string {
  const dir = mkdtempSync(join(tmpdir(), '.steward-unit-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** `systemd-analyze verify` of a unit file (`scripts/test-deps.sh` installs it: Debian's `systemd`). */
function verify(file: string): { status: number | null; output: string } {
  const result = spawnSync('systemd-analyze', ['verify', file], { encoding: 'utf8', timeout: 60_000 })
  if (result.error !== undefined) throw new Error(`systemd-analyze: ${result.error.message} (bash scripts/test-deps.sh installs it)`)
  return { status: result.status, output: `${result.stdout}${result.stderr}` }
}

test('steward unit prints a unit for the config that systemd-analyze verify accepts without a warning: Type=notify, NotifyAccess=all, ExecStart with node, steward and the config (quoted), KillMode=mixed, SuccessExitStatus, TimeoutStopSec from the stop deadlines, WatchdogSec', { timeout: 60_000 }, async (t) => {
  const dir = join(tempDir(t), 'my stack')
  mkdirSync(dir)
  const config = join(dir, 'steward.config.json')
  writeFileSync(config, JSON.stringify({ name: 'shop', children: [{ name: 'db', command: 'sleep', args: ['100'], stopTimeout: '8s' }, { name: 'web', command: 'sleep', args: ['100'] }, { name: 'jobs', command: 'sleep', args: ['100'], stopTimeout: 2_500 }] }))
  const cli = startCli(['unit'], { cwd: dir })
  t.after(() => cli.kill())
  assert.equal((await cli.exited).code, 0)
  const text = cli.lines.filter((line) => line.stream === 'stdout').map((line) => line.text)
  for (const line of [
    'Type=notify',
    'NotifyAccess=all',
    `ExecStart=${process.execPath} ${builtBin} up "${config}"`,
    `WorkingDirectory=${dir}`,
    'KillMode=mixed',
    'SuccessExitStatus=130 143',
    // 8 s + 5 s (the default) + 2.5 s, one after the other, and 10 s for steward.
    'TimeoutStopSec=26',
    'WatchdogSec=30',
    'Restart=on-failure',
    'Description=shop: steward up ' + config,
    'WantedBy=multi-user.target',
  ]) {
    assert.ok(text.includes(line), `${line} in:\n${text.join('\n')}`)
  }
  assert.ok(existsSync(builtBin))
  const unit = join(dir, 'shop.service')
  writeFileSync(unit, `${text.join('\n')}\n`)
  assert.deepEqual(verify(unit), { status: 0, output: '' })
})

test('steward unit: --name, --user, --watchdog 0; an invalid config or flag exits 2 and says why', { timeout: 60_000 }, async (t) => {
  const dir = tempDir(t)
  const config = join(dir, 'stack.json')
  writeFileSync(config, JSON.stringify({ children: [{ name: 'web', command: 'sleep', args: ['100'] }] }))
  const named = await inProcess(['unit', config, '--name', 'web-stack', '--user', 'www-data', '--watchdog', '0'])
  assert.equal(named.code, 0, named.stderr)
  const text = named.stdout.join('\n').split('\n')
  assert.ok(text.includes('User=www-data'))
  assert.ok(text.includes(`Description=web-stack: steward up ${config}`))
  assert.ok(text.includes('TimeoutStopSec=15'))
  assert.ok(!text.some((line) => line.startsWith('WatchdogSec=')), 'no watchdog')
  const usage = async (args: string[], pattern: RegExp): Promise<void> => {
    const result = await inProcess(args)
    assert.equal(result.code, 2, args.join(' '))
    assert.match(result.stderr, pattern)
  }
  await usage(['unit', config, '--usr', 'x'], /^steward unit: --usr: unknown flag; did you mean --user\?/)
  await usage(['unit', config, '--user', 'a b'], /--user: must be a non-empty word/)
  await usage(['unit', config, '--watchdog', '500ms'], /--watchdog: must be 0 \(none\) or at least 1s/)
  await usage(['unit', join(dir, 'missing.json')], /no config file/)
  writeFileSync(config, JSON.stringify({ children: [{ name: 'web', command: 'sleep', timout: '1s' }] }))
  await usage(['unit', config], /child 'web': unknown key 'timout'; did you mean 'timeout'\?/)
})

test('execWord: plain words as they are; others double-quoted; % and $ doubled (systemd specifiers and variables)', () => {
  assert.equal(execWord('/usr/bin/node'), '/usr/bin/node')
  assert.equal(execWord('/srv/my app/steward.config.js'), '"/srv/my app/steward.config.js"')
  assert.equal(execWord('/srv/100%/a$b'), '"/srv/100%%/a$$b"')
  assert.equal(execWord('say "hi"\\'), '"say \\"hi\\"\\\\"')
})

test('stopDeadline: the children one after the other, each its stopTimeout (default 5s); unitText rounds up and adds 10 s', () => {
  assert.equal(stopDeadline({ children: [{ name: 'a' }, { name: 'b', stopTimeout: '1500ms' }, { name: 'c', stopTimeout: 200 }] }), 6_700)
  assert.equal(stopDeadline({ children: [{ name: 'a', instances: 4 }, { name: 'b', stopTimeout: 200, instances: 2 }] }), 20_400)
  const text = unitText({ file: '/srv/a.json', name: 'a', user: undefined, watchdog: 1_500, stopMs: 6_700, node: '/usr/bin/node', bin: '/srv/bin.js' }).split('\n')
  assert.ok(text.includes('TimeoutStopSec=17'))
  assert.ok(text.includes('WatchdogSec=1500ms'))
})
