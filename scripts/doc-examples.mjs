// Type-checks every `@example` in the doc comments of the published sources, and every ```ts
// block of the README and the guides (and each ```js block that imports the package, such as a
// steward.config.js) (part of `npm run typecheck`), so an example in the API
// reference or the docs cannot rot. A block that imports from the package ('steward',
// 'steward/cluster', …) is checked as it is, its imports pointed at the sources; any other block
// (a fragment) gets the prelude below. recipes.md is left out: its blocks are excerpts of
// examples/ files, which are compiled and run, and test/recipes.test.ts checks each excerpt is
// still in its file. Each example becomes a
// module under .cache/doc-examples/ that imports every name the package exports (from the
// sources of its package.json exports) and the stand-ins below (the `urls`, `work`, `ward` an
// example may use without defining), then the TypeScript compiler
// checks them all with the project's options. Exit 1 and the compiler's messages on an error.
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const out = join(root, '.cache', 'doc-examples')
const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))

/** What an example may use without defining it: the user's own data and functions, not steward's. */
const standIns = `
/** Some inputs to walk. */
declare const urls: readonly string[]
/** The user's cancellable work on one input. */
declare function fetchPage(url: string, signal: AbortSignal): Promise<string>
/** The user's cancellable work on one step. */
declare function work(step: number, signal: AbortSignal): Promise<number>
/** Some ward of the user's. */
declare const ward: import('../../src/index.js').Ward<unknown>
// The README's and the guides' fragments use these (the user's own data, services and wards).
declare const files: readonly string[]
declare function parse(file: string | undefined, signal?: AbortSignal): Promise<{ readonly rows: number }>
declare const log: { warn(...args: unknown[]): void; info(...args: unknown[]): void }
declare function index(page: string): void
declare const queue: { readonly offset: number }
declare function handleNext(queue: { readonly offset: number }, signal: AbortSignal): Promise<void>
declare const subscription: { next(options: { signal: AbortSignal }): Promise<unknown> }
declare function handle(message: unknown): Promise<void>
declare const jobs: readonly number[]
declare function crunch(job: number | undefined): number
declare function save(result: unknown): void
declare const connect: import('../../src/index.js').Ward<unknown>
declare const read: import('../../src/index.js').Ward<unknown>
declare const write: import('../../src/index.js').Ward<unknown>
declare const signal: AbortSignal
declare const tree: import('../../src/index.js').Supervisor
declare function source(id: string): readonly string[]
declare function poll(input: string, ctx: import('../../src/index.js').WardContext): Promise<unknown>
declare function payments(id: string): ReadonlyArray<{ readonly id: string; readonly account: string; readonly cents: number }>
`

/** The source of each export of package.json (`./dist/x.js` → `src/x.ts`). */
const entries = Object.entries(pkg.exports)
  .filter(([subpath]) => subpath !== './package.json')
  .map(([, target]) => (typeof target === 'string' ? target : (target.import ?? target.default)))
  .map((target) => join(root, target.replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts')))

const config = ts.getParsedCommandLineOfConfigFile(join(root, 'tsconfig.json'), {}, { ...ts.sys, onUnRecoverableConfigFileDiagnostic: (d) => fail([d]) })
const options = { ...config.options, noEmit: true }

function fail(diagnostics) {
  const host = { getCanonicalFileName: (f) => f, getCurrentDirectory: () => root, getNewLine: () => '\n' }
  console.error(ts.formatDiagnosticsWithColorAndContext(diagnostics, host))
  process.exit(1)
}

// The names each entry exports, values and types alike; the first entry to export a name wins.
const sources = ts.createProgram(entries, options)
const checker = sources.getTypeChecker()
const imports = new Map()
for (const entry of entries) {
  const file = sources.getSourceFile(entry)
  const moduleSymbol = file && checker.getSymbolAtLocation(file)
  if (!moduleSymbol) throw new Error(`doc-examples: cannot read the exports of ${entry}`)
  for (const symbol of checker.getExportsOfModule(moduleSymbol)) {
    const target = symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol
    const isValue = (target.flags & ts.SymbolFlags.Value) !== 0
    if (!imports.has(symbol.name)) imports.set(symbol.name, { entry, spec: isValue ? symbol.name : `type ${symbol.name}` })
  }
}

// Every @example of every published source file (src/, no tests, no test helpers).
const examples = []
for (const file of sources.getSourceFiles()) {
  const path = file.fileName
  if (!path.startsWith(join(root, 'src') + '/') || path.endsWith('.test.ts') || path.includes('/src/testing/')) continue
  const visit = (node) => {
    for (const tag of ts.getJSDocTags(node)) {
      if (tag.tagName.text !== 'example') continue
      const text = (typeof tag.comment === 'string' ? tag.comment : ts.getTextOfJSDocComment(tag.comment)) ?? ''
      const code = text.replace(/^```\w*\n?|```\s*$/g, '')
      const line = file.getLineAndCharacterOfPosition(tag.getStart()).line + 1
      examples.push({ where: `${relative(root, path)}:${line}`, code })
    }
    ts.forEachChild(node, visit)
  }
  visit(file)
}
if (examples.length === 0) throw new Error('doc-examples: no @example found; is the extraction broken?')
const docExamples = examples.length

// The ```ts blocks (and module ```js blocks) of the README and the guides.
const guideDir = join(root, 'docs', 'guides')
const markdown = ['README.md', ...readdirSync(guideDir).filter((name) => name.endsWith('.md') && name !== 'recipes.md').map((name) => join('docs', 'guides', name))]
/** `steward` and `steward/x` → the source of that export, relative to the generated file. */
const subpaths = new Map(
  Object.entries(pkg.exports)
    .filter(([subpath]) => subpath !== './package.json')
    .map(([subpath, target]) => [subpath === '.' ? pkg.name : `${pkg.name}/${subpath.slice(2)}`, join(root, (typeof target === 'string' ? target : (target.import ?? target.default)).replace(/^\.\/dist\//, 'src/').replace(/\.js$/, '.ts'))]),
)
const ownImports = []
for (const path of markdown) {
  const text = readFileSync(join(root, path), 'utf8')
  for (const match of text.matchAll(/^```(ts|js)\n([\s\S]*?)^```/gm)) {
    const line = text.slice(0, match.index).split('\n').length + 1
    const [, language, code] = match
    const importsPackage = /^import .* from '[^.]/m.test(code)
    // A js block is checked when it is a whole module of the package's (a steward.config.js, whose
    // defineConfig() types every key); a js fragment (one child's entry) is not.
    if (language === 'js' && !importsPackage) continue
    if (importsPackage) ownImports.push({ where: `${path}:${line}`, code })
    else examples.push({ where: `${path}:${line}`, code })
  }
}

rmSync(out, { recursive: true, force: true })
mkdirSync(out, { recursive: true })
const byEntry = new Map()
for (const { entry, spec } of imports.values()) byEntry.set(entry, [...(byEntry.get(entry) ?? []), spec])
const prelude = [...byEntry]
  .map(([entry, names]) => `import { ${names.join(', ')} } from '${relative(out, entry).replace(/\.ts$/, '.js')}'`)
  .join('\n')
writeFileSync(join(out, 'stand-ins.d.ts'), standIns)
const files = [join(out, 'stand-ins.d.ts')]
examples.forEach(({ where, code }, index) => {
  const file = join(out, `example-${index + 1}.ts`)
  // The prelude is one line, so a message's line number minus one is the example's own line.
  writeFileSync(file, `${prelude.replace(/\n/g, '; ')} // from ${where}\n${code}\nexport {}\n`)
  files.push(file)
})
ownImports.forEach(({ where, code }, index) => {
  const file = join(out, `doc-${index + 1}.ts`)
  const pointed = code.replace(/from '([^'.][^']*)'/g, (whole, specifier) => {
    const source = subpaths.get(specifier)
    return source === undefined ? whole : `from '${relative(out, source).replace(/\.ts$/, '.js')}'`
  })
  writeFileSync(file, `// from ${where}\n${pointed}\nexport {}\n`)
  files.push(file)
})
const program = ts.createProgram(files, { ...options, noUnusedLocals: false })
const diagnostics = ts.getPreEmitDiagnostics(program).filter((d) => !d.file || d.file.fileName.startsWith(out))
if (diagnostics.length > 0) fail(diagnostics)
console.log(`doc-examples: ${docExamples} @example blocks and ${examples.length - docExamples + ownImports.length} blocks of the README and guides type-check`)
