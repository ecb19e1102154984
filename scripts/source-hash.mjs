// The content hash of what `npm run build` compiles (src/'s .ts, .cts and .mts files without
// tests and src/testing, the tsconfigs and the build's own scripts), stamped into dist/ by the build (`node
// scripts/source-hash.mjs --stamp`) and compared by scripts/run-tests.mjs, which rebuilds a dist/
// made from other sources.
import { createHash } from 'node:crypto'
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export const stamp = join('dist', '.sources.sha256')

function find(dir, out) {
  if (!existsSync(dir)) return out
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) {
      if (path !== join('src', 'testing')) find(path, out)
    } else if ((/\.[cm]?ts$/.test(name) && !name.endsWith('.test.ts')) || path.startsWith(join('src', 'http', 'dashboard'))) out.push(path)
  }
  return out
}

/** The hash of the build's inputs now. */
export function sourceHash() {
  const hash = createHash('sha256')
  for (const path of [...find('src', []).sort(), 'tsconfig.build.json', 'tsconfig.json', 'scripts/copy-dashboard.mjs', 'scripts/bundle-run.mjs']) hash.update(`${path}\0`).update(readFileSync(path)).update('\0')
  return hash.digest('hex')
}

/** Whether dist/ was built from the sources as they are. */
export function builtFromSources() {
  return existsSync(stamp) && readFileSync(stamp, 'utf8') === sourceHash()
}

if (process.argv.includes('--stamp')) writeFileSync(stamp, sourceHash())
