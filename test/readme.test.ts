// The README and the guides: every public name documented, every link and anchor resolving,
// every shell block marked runnable running, and the examples they share the same.
// (Their TypeScript blocks are type-checked by scripts/doc-examples.mjs, in `npm run typecheck`.)
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))
const guides = readdirSync(join(root, 'docs/guides'))
  .filter((name) => name.endsWith('.md'))
  .map((name) => `docs/guides/${name}`)
/** Every Markdown file a reader follows links through. */
const documents = ['README.md', 'CONTRIBUTING.md', 'ARCHITECTURE.md', 'docs/cluster.md', 'docs/scaling.md', ...guides]
const read = (path: string): string => readFileSync(join(root, path), 'utf8')

/** The text outside fenced code blocks (links and headings inside code are not links or headings). */
function prose(text: string): string {
  return text.replace(/^```[\s\S]*?^```/gm, '')
}

/** GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens; repeats get -1, -2. */
export function anchorsOf(text: string): Set<string> {
  const anchors = new Set<string>()
  const seen = new Map<string, number>()
  for (const match of prose(text).matchAll(/^#{1,6} (.+)$/gm)) {
    const base = match[1]!
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-')
    const count = seen.get(base) ?? 0
    seen.set(base, count + 1)
    anchors.add(count === 0 ? base : `${base}-${count}`)
  }
  return anchors
}

/** Every broken link of `path`: a relative file that does not exist, or an anchor no heading has. */
function brokenLinks(path: string): string[] {
  const broken: string[] = []
  const text = read(path)
  for (const match of prose(text).matchAll(/\]\(([^)\s]+)\)/g)) {
    const target = match[1]!
    if (/^(https?:|mailto:)/.test(target)) continue
    const [file, anchor] = target.split('#') as [string, string | undefined]
    const resolved = file === '' ? join(root, path) : resolve(join(root, dirname(path)), file)
    if (!existsSync(resolved)) {
      broken.push(`${path}: ${target}: no file ${relative(root, resolved)}`)
      continue
    }
    if (anchor === undefined || anchor === '' || statSync(resolved).isDirectory() || !resolved.endsWith('.md')) continue
    if (!anchorsOf(readFileSync(resolved, 'utf8')).has(anchor)) broken.push(`${path}: ${target}: no heading #${anchor} in ${relative(root, resolved)}`)
  }
  return broken
}

test('every export of the package is named in the README or a guide', () => {
  const index = read('src/index.ts')
  const docs = ['README.md', ...guides].map(read).join('\n')
  const names = [...index.matchAll(/export (?:type )?\{([^}]*)\}/g)].flatMap((match) =>
    match[1]!
      .split(',')
      .map((name) => name.trim())
      .filter((name) => name !== ''),
  )
  assert.ok(names.length > 50, `found ${names.length} exports`)
  const missing = names.filter((name) => !new RegExp(`\\b${name}\\b`).test(docs))
  assert.deepEqual(missing, [])
})

test('every relative link and anchor of the README and the guides resolves', () => {
  assert.deepEqual(documents.flatMap(brokenLinks), [])
})

test('the link check reads GitHub anchors of code and arrows, numbers repeats, and skips code blocks', () => {
  const text = '# Top\n\n### `stopOnSignals(runs, options?)` → `Promise<number>`\n\n## Top\n\n```sh\n# not a heading\n```\n'
  assert.deepEqual([...anchorsOf(text)], ['top', 'stoponsignalsruns-options--promisenumber', 'top-1'])
  assert.equal(prose('a\n```\n[x](nowhere.md)\n```\nb').includes('nowhere'), false)
})

test("the README's steward.config.js is the CLI guide's", () => {
  const block = (text: string): string | undefined => /```js\n(\/\/ steward\.config\.js\n[\s\S]*?)```/.exec(text)?.[1]
  const readme = block(read('README.md'))
  assert.ok(readme !== undefined, 'the README has the config example')
  assert.equal(block(read('docs/guides/cli.md')), readme)
})

test('every shell block marked runnable runs as written (with the built steward on PATH)', { timeout: 120_000 }, () => {
  const bin = mkdtempSync(join(tmpdir(), 'steward-bin-'))
  try {
    // As npm's bin shim does: the built CLI on this Node.
    writeFileSync(join(bin, 'steward'), `#!/bin/sh\nexec '${process.execPath}' '${join(root, 'dist/cli/bin.cjs')}' "$@"\n`, { mode: 0o755 })
    const blocks = documents.flatMap((path) => [...read(path).matchAll(/^```sh runnable\n([\s\S]*?)^```/gm)].map((match) => ({ path, code: match[1]! })))
    assert.ok(blocks.length > 0, 'some shell block is marked runnable')
    for (const { path, code } of blocks) {
      const ran = spawnSync('bash', ['-euo', 'pipefail', '-c', code], { cwd: root, encoding: 'utf8', env: { ...process.env, PATH: `${bin}:${process.env.PATH ?? ''}`, NO_COLOR: '1' }, timeout: 60_000 })
      assert.equal(ran.status, 0, `${path}: \n${code}\nexited ${ran.status}: ${ran.stderr}`)
    }
  } finally {
    rmSync(bin, { recursive: true, force: true })
  }
})
