// The package as a user gets it: `npm pack`, the tarball installed into a new project, and a
// TypeScript program (tsc strict, NodeNext) and a plain JavaScript one run against it. Every
// subpath in package.json's exports is imported by both, so an export added later is checked
// too; optional peer dependencies (such as ioredis) are installed beside it, as a user of that
// subpath would. Needs the build (npm test builds first).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const root = fileURLToPath(new URL('..', import.meta.url))
const run = promisify(execFile)
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc')

interface Manifest {
  readonly exports: Record<string, unknown>
  readonly peerDependencies?: Record<string, string>
}

/** The version of a package the project itself locked (its devDependency), for a peer. */
function lockedVersion(name: string): string | undefined {
  const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8')) as { packages: Record<string, { version?: string }> }
  return lock.packages[`node_modules/${name}`]?.version
}

const tsProgram = (subpaths: string[]): string => `
import { steward, ManualClock, type Outcome, type WardContext } from 'steward'
import { attempt, beat } from 'steward/child'
${subpaths.map((subpath, i) => `import * as entry${i} from '${subpath}'`).join('\n')}

const entries: Record<string, object> = { ${subpaths.map((subpath, i) => `'${subpath}': entry${i}`).join(', ')} }
const clock = new ManualClock()
const run = steward(
  async (ctx: WardContext<number>): Promise<number> => {
    ctx.beat(1)
    if (ctx.attempt < 3) throw new Error('flaky')
    return ctx.attempt
  },
  { timeout: '1s', maxRestarts: 5 },
).start({ clock })
const outcome: Outcome = await clock.runUntil(run.done)
beat() // a no-op outside a process ward
console.log(JSON.stringify({ kind: outcome.kind, restarts: outcome.kind === 'completed' ? outcome.restarts : -1, attempt }))
for (const [subpath, entry] of Object.entries(entries)) console.log(subpath, Object.keys(entry).length > 0 ? 'loaded' : 'empty')
`

const jsProgram = (subpaths: string[]): string => `
import { steward, ManualClock } from 'steward'
import { attempt, beat, resume } from 'steward/child'

const clock = new ManualClock()
const run = steward(async (ctx) => {
  ctx.beat()
  if (ctx.attempt < 2) throw new Error('flaky')
  return 'done'
}).start({ clock })
const outcome = await clock.runUntil(run.done)
beat()
console.log(JSON.stringify({ kind: outcome.kind, value: outcome.value, attempt, resume: resume ?? null }))
for (const subpath of ${JSON.stringify(subpaths)}) {
  const entry = await import(subpath)
  console.log(subpath, Object.keys(entry).length > 0 ? 'loaded' : 'empty')
}
`

test('the packed tarball installs into a new project and works from TypeScript (strict, NodeNext) and JavaScript', { timeout: 240_000 }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'steward-pack-'))
  try {
    const { stdout } = await run(npm, ['pack', '--json', '--pack-destination', dir], { cwd: root })
    const [packed] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>
    assert.ok(packed, 'npm pack reported a tarball')
    const files = packed.files.map((file) => file.path)
    for (const expected of ['LICENSE', 'README.md', 'CHANGELOG.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/isolation/child.js', 'dist/isolation/thread-runner.js', 'dist/cli/bin.cjs', 'ops/prometheus/steward-rules.yml', 'ops/grafana/steward.json']) {
      assert.ok(files.includes(expected), `the tarball has ${expected}`)
    }
    // The README's links into the guides resolve in node_modules/steward too.
    const linked = [...readFileSync(join(root, 'README.md'), 'utf8').matchAll(/\]\((docs\/[^)#]+)/g)].map((match) => match[1]!)
    assert.ok(linked.length > 5, 'the README links its guides')
    for (const path of linked) assert.ok(files.includes(path), `the tarball has ${path}, which the README links`)
    const unwanted = files.filter((path) => /^(src|test|scripts|bench|examples|\.ci|\.cache|docs\/site)\//.test(path) || /\.test\.|^dist\/testing\/|^dist\/\.sources\.sha256$/.test(path))
    assert.deepEqual(unwanted, [], 'nothing internal is packed')

    const project = join(dir, 'project')
    mkdirSync(project)
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'pack-test', private: true, type: 'module' }))
    const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as Manifest
    const peers = Object.keys(manifest.peerDependencies ?? {}).map((name) => `${name}@${lockedVersion(name) ?? manifest.peerDependencies![name]}`)
    await run(npm, ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error', join(dir, packed.filename), ...peers], { cwd: project, timeout: 180_000 })

    // Source maps carry their sources (src/ is not published), so a stack trace maps to code a user can read.
    const map = JSON.parse(readFileSync(join(project, 'node_modules', 'steward', 'dist', 'index.js.map'), 'utf8')) as { sources: string[]; sourcesContent?: string[] }
    assert.equal(map.sourcesContent?.length, map.sources.length, 'dist/index.js.map has its sources inline')

    const subpaths = Object.keys(manifest.exports)
      .filter((subpath) => subpath !== './package.json')
      .map((subpath) => (subpath === '.' ? 'steward' : `steward/${subpath.slice(2)}`))
    assert.ok(subpaths.includes('steward') && subpaths.includes('steward/child'))

    writeFileSync(join(project, 'main.mjs'), jsProgram(subpaths))
    const js = await run(process.execPath, ['main.mjs'], { cwd: project, timeout: 30_000 })
    assert.deepEqual(js.stdout.trimEnd().split('\n'), [
      JSON.stringify({ kind: 'completed', value: 'done', attempt: 1, resume: null }),
      ...subpaths.map((subpath) => `${subpath} loaded`),
    ])

    writeFileSync(join(project, 'main.ts'), tsProgram(subpaths))
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          target: 'ES2022',
          lib: ['ES2023'],
          // The package's own .d.ts files are checked too: a declaration naming a stripped type fails here.
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [join(root, 'node_modules', '@types')],
          outDir: 'out',
        },
        files: ['main.ts'],
      }),
    )
    await run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: project, timeout: 120_000 }).catch((error: { stdout?: string }) => {
      assert.fail(`tsc failed against the installed package:\n${error.stdout ?? ''}`)
    })
    const ts = await run(process.execPath, ['out/main.js'], { cwd: project, timeout: 30_000 })
    assert.deepEqual(ts.stdout.trimEnd().split('\n'), [
      JSON.stringify({ kind: 'completed', restarts: 2, attempt: 1 }),
      ...subpaths.map((subpath) => `${subpath} loaded`),
    ])
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('npm pack includes the dashboard (copied into dist/ by the build), and steward/metrics and steward/http resolve from the build', async () => {
  const { stdout } = await promisify(execFile)('npm', ['pack', '--dry-run', '--json', '--loglevel=silent'], { timeout: 60_000 })
  const [pack] = JSON.parse(stdout) as Array<{ files: Array<{ path: string }> }>
  const files = new Set(pack!.files.map((file) => file.path))
  for (const path of ['dist/http/dashboard/index.html', 'dist/http/dashboard/dashboard.js', 'dist/http/dashboard/dashboard.css', 'dist/http/index.js', 'dist/observe/metrics.js']) {
    assert.ok(files.has(path), `${path} is in the package`)
  }
  const http = (await import('steward/http')) as Record<string, unknown>
  const metrics = (await import('steward/metrics')) as Record<string, unknown>
  assert.equal(typeof http.stewardHttp, 'function')
  assert.equal(typeof http.serveHttp, 'function')
  assert.equal(typeof metrics.stewardMetrics, 'function')
  assert.equal(metrics.metricsContentType, 'text/plain; version=0.0.4; charset=utf-8')
})
