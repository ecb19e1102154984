import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { assertJsonLines, dead, descendants, isEvent, startCli, type RunningCli } from '../testing/cli.js'
import { cleanup, commandOf, noneLeft } from '../testing/process-tree.js'
import { waitFor } from '../testing/wait.js'

// `steward run` and `steward up` under every signal that could end them: no child, grandchild or
// guardian of theirs is alive 2 s after they are gone (a zombie counts as gone).

const child = fileURLToPath(new URL('../../test/fixtures/child.mjs', import.meta.url))
const isEventOf = (type: string, signal: string) => (event: Record<string, unknown>): boolean => event.type === type && event.signal === signal
const linuxOnly = { skip: process.platform === 'linux' ? false : 'reads /proc' }
/** A shell that ignores SIGTERM, with two sleeps that inherit that. */
const deafShell = ['sh', '-c', "trap '' TERM; sleep 600 & sleep 600 & wait"]

/** Its tree once complete: `size` live processes below it, a guardian among them (each killed when the test ends, if still alive). */
async function treeOf(t: { after(fn: () => void): void }, cli: RunningCli, size: number): Promise<number[]> {
  const leftovers = cleanup(t)
  const live = (): number[] => descendants(cli.process.pid!).filter((pid) => !dead(pid))
  const track = setInterval(() => leftovers.add(...live()), 50)
  t.after(() => clearInterval(track))
  await waitFor(`${size} processes below steward`, () => live().length >= size && live().some((pid) => commandOf(pid) === 'steward-guardian'), 15_000)
  const tree = live()
  leftovers.add(...tree)
  return tree
}

interface Command {
  readonly name: 'run' | 'up'
  /** Starts it with children that ignore SIGTERM (each killed `killAfter` after it). */
  start(t: { after(fn: () => void): void }, killAfter: string): RunningCli
  /** Processes below it when up: its children, their sleeps, the guardian. */
  readonly size: number
}

const commands: Command[] = [
  { name: 'run', size: 4, start: (_, killAfter) => startCli(['run', '--json', '--kill-after', killAfter, '--', ...deafShell]) },
  {
    name: 'up',
    size: 7,
    start(t, killAfter) {
      const dir = mkdtempSync(join(tmpdir(), '.steward-signals-'))
      t.after(() => rmSync(dir, { recursive: true, force: true }))
      const deaf = (name: string): Record<string, unknown> => ({ name, command: deafShell[0], args: deafShell.slice(1), killAfter })
      writeFileSync(join(dir, 'steward.config.json'), JSON.stringify({ name: 'app', children: [deaf('a'), deaf('b')] }))
      return startCli(['up', '--json'], { cwd: dir })
    },
  },
]

for (const command of commands) {
  // SIGHUP stops steward run; steward up takes it as "reload the config" (below).
  if (command.name === 'run') test(`steward ${command.name}: SIGHUP stops gracefully (129); nothing of its tree is left`, { timeout: 60_000, ...linuxOnly }, async (t) => {
    const cli = command.start(t, '300ms')
    t.after(() => cli.kill())
    const tree = await treeOf(t, cli, command.size)
    cli.process.kill('SIGHUP')
    const since = performance.now()
    assert.equal((await cli.exited).code, 129)
    await cli.waitFor('the stopping note', isEvent('steward', { signal: 'SIGHUP' }))
    assert.equal(cli.events().at(-1)?.type, 'stop-report')
    assert.equal(cli.events().at(-1)?.exitCode, 129)
    await noneLeft(tree, since, "steward's end")
    assertJsonLines(cli)
  })

  if (command.name === 'up') test('steward up: SIGHUP reloads the config and does not stop the tree; SIGTERM then stops it (143)', { timeout: 60_000, ...linuxOnly }, async (t) => {
    const cli = command.start(t, '300ms')
    t.after(() => cli.kill())
    const tree = await treeOf(t, cli, command.size)
    cli.process.kill('SIGHUP')
    await cli.waitFor('the reload note', isEvent('steward', { signal: 'SIGHUP' }))
    await cli.waitFor('the reload\'s outcome', (line) => line.json?.type === 'steward' && /^reload/.test(String(line.json.message)))
    assert.match(String(cli.events().find(isEventOf('steward', 'SIGHUP'))?.message), /^received SIGHUP: reloading .*steward\.config\.json$/)
    assert.ok(tree.every((pid) => !dead(pid)), 'the tree runs on')
    assert.equal(cli.process.exitCode, null)
    cli.process.kill('SIGTERM')
    const since = performance.now()
    assert.equal((await cli.exited).code, 143)
    await noneLeft(tree, since, "steward's end")
    assertJsonLines(cli)
  })

  test(`steward ${command.name}: SIGQUIT SIGKILLs every group at once (131), well before --kill-after`, { timeout: 60_000, ...linuxOnly }, async (t) => {
    const cli = command.start(t, '60s')
    t.after(() => cli.kill())
    const tree = await treeOf(t, cli, command.size)
    cli.process.kill('SIGQUIT')
    const since = performance.now()
    const exit = await Promise.race([cli.exited, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 15_000))])
    assert.equal(exit?.code, 131, 'exited 131 within 15 s, not after --kill-after 60s')
    const killed = cli.events().find((event) => event.type === 'steward' && event.signal === 'SIGQUIT' && Array.isArray(event.killed))
    assert.equal((killed?.killed as string[] | undefined)?.length, command.name === 'run' ? 1 : 2, 'every group')
    await noneLeft(tree, since, "steward's end")
    assertJsonLines(cli)
  })

  test(`steward ${command.name}: SIGUSR2 prints the status tree and keeps running; SIGTERM then stops it (143)`, { timeout: 60_000, ...linuxOnly }, async (t) => {
    const cli = command.start(t, '300ms')
    t.after(() => cli.kill())
    const tree = await treeOf(t, cli, command.size)
    cli.process.kill('SIGUSR2')
    const note = await cli.waitFor('the status', isEvent('steward', { message: 'status', signal: 'SIGUSR2' }))
    const [status] = note.json!.status as Array<{ path: string; state: string; children: Array<{ path: string }> }>
    if (command.name === 'run') assert.equal(status!.path, 'sh')
    else assert.deepEqual(status!.children.map((child) => child.path), ['app/a', 'app/b'])
    assert.ok(tree.every((pid) => !dead(pid)), 'everything still runs')
    assert.equal(cli.process.exitCode, null)
    cli.process.kill('SIGTERM')
    const since = performance.now()
    assert.equal((await cli.exited).code, 143)
    await noneLeft(tree, since, "steward's end")
    assertJsonLines(cli)
  })

  test(`steward ${command.name}: SIGKILLed, its children and grandchildren (deaf to SIGTERM) are gone within 2 s`, { timeout: 60_000, ...linuxOnly }, async (t) => {
    const cli = command.start(t, '60s')
    t.after(() => cli.kill())
    const tree = await treeOf(t, cli, command.size)
    cli.process.kill('SIGKILL')
    const since = performance.now()
    assert.equal((await cli.exited).signal, 'SIGKILL')
    await noneLeft(tree, since, "steward's end")
  })
}

test('run: a second SIGINT SIGKILLs the grandchildren too (they ignore SIGTERM, their parent already left): a prompt exit, none alive', { timeout: 60_000, ...linuxOnly }, async (t) => {
  const cli = startCli(['run', '--json', '--probe', 'ipc', '--kill-after', '60s', '--', process.execPath, child, 'tree', '2', 'deaf'])
  t.after(() => cli.kill())
  const grandchildren = (): number[] =>
    cli.lines.flatMap((line) => {
      const match = line.json?.type === 'line' ? /^grandchild (\d+)$/.exec(String(line.json.line)) : null
      return match === null ? [] : [Number(match[1])]
    })
  await cli.waitFor('four grandchildren', () => grandchildren().length === 4)
  const tree = await treeOf(t, cli, 6)
  const [childPid] = tree.filter((pid) => commandOf(pid).includes('child.mjs'))
  cli.process.kill('SIGINT')
  // The child leaves on SIGTERM; its grandchildren, deaf, stay: the stop would wait --kill-after.
  await waitFor('the child gone', () => dead(childPid!), 10_000)
  assert.ok(grandchildren().every((pid) => !dead(pid)), 'the grandchildren ignore SIGTERM')
  cli.process.kill('SIGINT')
  const since = performance.now()
  const exit = await Promise.race([cli.exited, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 15_000))])
  assert.equal(exit?.code, 130, 'exited 130 within 15 s of the second SIGINT, not after --kill-after 60s')
  // The stop report names what the second SIGINT killed: the child's process group.
  const report = cli.events().find((event) => event.type === 'stop-report')
  assert.ok((report?.killed as string[] | undefined)?.includes(`process group ${childPid!}`), JSON.stringify(report))
  await noneLeft([...tree, ...grandchildren()], since, "steward's end")
  assertJsonLines(cli)
})

test('up: a SIGTERM arriving while the tree gives up (waiting for a deaf child to stop) leaves the exit code 1, not 143', { timeout: 60_000, ...linuxOnly }, async (t) => {
  const dir = mkdtempSync(join(tmpdir(), '.steward-signals-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(
    join(dir, 'steward.config.json'),
    JSON.stringify({
      name: 'app',
      strategy: 'one-for-one',
      maxRestarts: 0,
      children: [
        { name: 'deaf', command: deafShell[0], args: deafShell.slice(1), killAfter: '4s' },
        { name: 'crash', command: 'sh', args: ['-c', 'sleep 0.5; exit 1'] },
      ],
    }),
  )
  const cli = startCli(['up', '--json'], { cwd: dir })
  t.after(() => cli.kill())
  // The tree escalates and stops 'deaf', which ignores SIGTERM: the give-up waits for its SIGKILL.
  await cli.waitFor('the escalation', isEvent('decision', { action: 'escalate' }))
  cli.process.kill('SIGTERM')
  const { code } = await cli.exited
  assert.equal(code, 1, cli.lines.map((line) => line.text).join('\n'))
  assert.ok(cli.events().some((event) => event.type === 'gave-up' && event.path === 'app'))
})
