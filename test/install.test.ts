// The CLI as a user installs it: the packed tarball installed globally (`npm install -g`, into a
// temporary prefix), then `steward up` in a folder without node_modules, on the README's own
// config example, whose `import { defineConfig } from 'steward'` must find the CLI's own copy, and
// `steward run`, from its bundle.
// Needs the build (npm test builds first).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const root = fileURLToPath(new URL('..', import.meta.url))
const run = promisify(execFile)

/** The README's `steward up` config example (the first js block that starts `// steward.config.js`). */
function readmeConfig(): string {
  const readme = readFileSync(join(root, 'README.md'), 'utf8')
  const block = /```js\n(\/\/ steward\.config\.js\n[\s\S]*?)```/.exec(readme)
  assert.ok(block !== null, 'the README has a steward.config.js example')
  assert.match(block[1]!, /from 'steward'/, 'the example imports steward')
  return block[1]!
}

test('installed globally from the tarball, steward up loads a config that imports steward, in a folder without node_modules', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'steward-install-'))
  try {
    const { stdout } = await run('npm', ['pack', '--json', '--loglevel=silent', '--pack-destination', dir], { cwd: root, timeout: 120_000 })
    const [packed] = JSON.parse(stdout) as Array<{ filename: string }>
    assert.ok(packed, 'npm pack reported a tarball')
    const prefix = join(dir, 'global')
    await run('npm', ['install', '--global', '--prefix', prefix, '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', join(dir, packed.filename)], {
      cwd: dir,
      timeout: 180_000,
    })
    const bin = join(prefix, 'bin', 'steward')
    assert.ok(existsSync(bin), `npm install -g put the executable at ${bin}`)

    const folder = join(dir, 'app')
    mkdirSync(folder)
    writeFileSync(join(folder, 'steward.config.js'), readmeConfig())
    writeFileSync(join(folder, 'jobs.js'), 'export default async function jobs(ctx) { ctx.beat() }\n')
    const checked = await run(process.execPath, [bin, 'up', '--check'], { cwd: folder, timeout: 60_000 })
    assert.match(checked.stdout, /steward\.config\.js: valid; children in start order: redis \(process\), api \(process\), jobs \(thread\)/)
    assert.ok(!existsSync(join(folder, 'node_modules')), 'nothing was installed into the folder')

    // A real run: the config imports steward and steward/child; its one child says hello and ends.
    writeFileSync(
      join(folder, 'steward.config.mjs'),
      [
        "import { defineConfig } from 'steward'",
        "import { attempt } from 'steward/child'",
        'export default defineConfig({',
        "  children: [{ name: 'hello', command: 'sh', args: ['-c', `echo hello from attempt ${attempt}`], restart: 'transient' }],",
        '})',
        '',
      ].join('\n'),
    )
    const up = await run(process.execPath, [bin, 'up', 'steward.config.mjs'], { cwd: folder, timeout: 60_000 })
    assert.match(up.stdout, /^steward\/hello \| hello from attempt 1$/m, up.stdout)
    assert.match(up.stdout, /steward completed$/m, up.stdout)

    // `steward run` from the installed package: its bundle (dist/run/run-main.cjs), found beside
    // the real bin.cjs through npm's symlink.
    assert.ok(existsSync(join(prefix, 'lib', 'node_modules', 'steward', 'dist', 'run', 'run-main.cjs')), 'the package has the bundle of steward run')
    const once = await run(process.execPath, [bin, 'run', '--restart', 'temporary', '--', 'sh', '-c', 'echo hello from run'], { cwd: folder, timeout: 60_000, env: { ...process.env, NO_COLOR: '1' } })
    assert.match(once.stdout, /^sh \| hello from run$/m, once.stdout)
    assert.match(once.stdout, / sh completed$/m, once.stdout)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
