// The library's layers point down only. Every import of every source file (type imports,
// re-exports and dynamic imports included) goes to its own folder or to a lower layer:
//
//   8  cli/                             the command-line tool
//   7  index.ts                         the library's front: what `import 'steward'` gives
//   6  http/ | cluster/ | scenarios/    the HTTP face, the cluster, the demos' scenarios
//   5  observe/metrics.ts | config.ts   metrics of a run; `steward up`'s config types
//   4  tree/ | isolation/               supervisors | thread and process wards
//   3  steward/                         the engine: a run, its incarnations, its validation
//   2  observe/ (events, status, …)     what the engine reports, and in which words
//   1  policy/ | streams/               restart policies and backoffs | stream combinators
//   0  time/                            clocks and durations
//
// Parts of one layer (split by |) do not import each other: a supervisor knows no process, a
// process ward no supervisor. Tests and src/testing/ are not the library and may import anything.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, statSync } from 'node:fs'
import { dirname, join, posix, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const src = fileURLToPath(new URL('../src/', import.meta.url))

/** The layer and the part (folder, or the file itself for a top-level file) of a source path relative to src/. */
function placeOf(path: string): { layer: number; part: string } | undefined {
  const [top] = path.split('/')
  if (path.startsWith('testing/')) return undefined
  if (path === 'observe/metrics.ts') return { layer: 5, part: 'observe/metrics.ts' }
  const layers: Record<string, number> = {
    'time': 0,
    'policy': 1,
    'streams': 1,
    'observe': 2,
    'steward': 3,
    'tree': 4,
    'isolation': 4,
    'config.ts': 5,
    'http': 6,
    'cluster': 6,
    'scenarios': 6,
    'index.ts': 7,
    'cli': 8,
  }
  const layer = layers[top!]
  if (layer === undefined) throw new Error(`src/${path}: in no layer; add its folder to test/layers.test.ts`)
  return { layer, part: top! }
}

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name)
    if (statSync(path).isDirectory()) sources(path, out)
    else if (name.endsWith('.ts') && !name.endsWith('.test.ts') && !name.endsWith('.d.ts')) out.push(path)
  }
  return out
}

/** The relative specifiers a file imports: `import … from`, `export … from`, `import '…'`, `import('…')`. */
function importsOf(text: string): string[] {
  const found: string[] = []
  const patterns = [/\b(?:import|export)\s+(?:type\s+)?[^'";]*?\bfrom\s+['"](\.[^'"]+)['"]/g, /\bimport\s+['"](\.[^'"]+)['"]/g, /\bimport\(\s*['"](\.[^'"]+)['"]\s*\)/g]
  for (const pattern of patterns) for (const match of text.matchAll(pattern)) found.push(match[1]!)
  return found
}

/** Every import that breaks the rule, as `from -> to (why)`. */
function violations(): string[] {
  const found: string[] = []
  for (const file of sources(src)) {
    const from = relative(src, file).split('\\').join('/')
    const here = placeOf(from)
    if (here === undefined) continue
    for (const specifier of importsOf(readFileSync(file, 'utf8'))) {
      const to = posix.normalize(posix.join(posix.dirname(from), specifier)).replace(/\.js$/, '.ts')
      const there = placeOf(to)
      if (there === undefined) {
        found.push(`${from} -> ${to} (the library imports a test helper)`)
        continue
      }
      if (there.part === here.part) continue
      if (there.layer > here.layer) found.push(`${from} -> ${to} (layer ${here.layer} imports layer ${there.layer})`)
      else if (there.layer === here.layer) found.push(`${from} -> ${to} (two parts of layer ${here.layer})`)
    }
  }
  return found
}

test('the layers point down: no source file imports a higher layer or another part of its own', () => {
  assert.deepEqual(violations(), [])
})

test('the layer check sees every kind of import', () => {
  const text = [
    "import type { A } from '../tree/a.js'",
    "import { b, type C } from './b.js'",
    "export { d } from '../cli/d.js'",
    "export type { E } from '../http/e.js'",
    "import '../isolation/side.js'",
    "const f = await import('../cluster/f.js')",
    "import {\n  g,\n  h,\n} from '../steward/g.js'",
  ].join('\n')
  assert.deepEqual(importsOf(text).sort(), ['../cli/d.js', '../cluster/f.js', '../http/e.js', '../isolation/side.js', '../steward/g.js', '../tree/a.js', './b.js'].sort())
  assert.equal(dirname('steward/run.ts'), 'steward')
})
