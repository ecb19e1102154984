// The guides' tables of keys cannot drift from the types they describe. A table whose first column
// is `option`, `key`, `member` or `ctx.` describes the exported interface named in the paragraph
// just before it (the last backticked exported interface there; else in the nearest heading above),
// and its rows must name exactly that interface's properties. The events table must name every
// field of each event interface; the lists of restart reasons must be `RestartReason`'s members.
// The types are read from the built declarations (dist/*.d.ts) with the TypeScript compiler.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const root = fileURLToPath(new URL('..', import.meta.url))
const guides = readdirSync(join(root, 'docs/guides'))
  .filter((name) => name.endsWith('.md'))
  .map((name) => `docs/guides/${name}`)
const read = (path: string): string => readFileSync(join(root, path), 'utf8')

// ---- the exported types, from the declarations of every subpath the package exports ----

const pkg = JSON.parse(read('package.json')) as { exports: Record<string, string | { types?: string }> }
const entries = Object.values(pkg.exports)
  .flatMap((target) => (typeof target === 'string' ? [] : target.types === undefined ? [] : [join(root, target.types)]))
const program = ts.createProgram(entries, { strict: true, noEmit: true, skipLibCheck: true, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, target: ts.ScriptTarget.ES2022 })
const checker = program.getTypeChecker()
/** Every exported type of the package by name (a name exported twice is the same declaration). */
const exported = new Map<string, ts.Symbol>()
for (const entry of entries) {
  const file = program.getSourceFile(entry)
  assert.ok(file !== undefined, `${entry} is built (npm test builds first)`)
  const module = checker.getSymbolAtLocation(file)!
  for (let symbol of checker.getExportsOfModule(module)) {
    const name = symbol.name
    if (symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol)
    exported.set(name, symbol)
  }
}

/** An exported interface by name, else undefined. */
function exportedInterface(name: string): ts.Symbol | undefined {
  const symbol = exported.get(name)
  return symbol !== undefined && symbol.flags & ts.SymbolFlags.Interface ? symbol : undefined
}

/** A property's name as the docs write it: `name`, or `[Symbol.asyncIterator]` / `[wardHost]` for a symbol key. */
function docName(property: ts.Symbol): string {
  const symbolKey = /^__@(\w+)@\d+$/.exec(property.escapedName as string)
  if (symbolKey === null) return property.name
  const name = symbolKey[1]!
  return name in Symbol ? `[Symbol.${name}]` : `[${name}]`
}

/** The property names of an interface (inherited ones included, but not those of the bases named in `skip`), as the docs write them. */
function keysOf(symbol: ts.Symbol, skip: readonly string[] = []): string[] {
  const type = checker.getDeclaredTypeOfSymbol(symbol)
  const bases = type.isClassOrInterface() ? (checker.getBaseTypes(type) ?? []) : []
  const inherited = new Set(bases.filter((base) => skip.includes(base.getSymbol()?.name ?? '')).flatMap((base) => checker.getPropertiesOfType(base).map(docName)))
  return checker.getPropertiesOfType(type).map(docName).filter((name) => !inherited.has(name)).sort()
}

/** The string literals of an exported union of literals (`RestartReason`). */
function literalsOf(name: string): string[] {
  const symbol = exported.get(name)
  assert.ok(symbol !== undefined, `${name} is exported`)
  const type = checker.getDeclaredTypeOfSymbol(symbol)
  assert.ok(type.isUnion(), `${name} is a union`)
  return type.types.map((member) => (member as ts.StringLiteralType).value).sort()
}

// ---- the tables of the guides ----

interface Table {
  path: string
  line: number
  header: string[]
  rows: string[][]
  /** The last non-blank line before the table, and the nearest heading above it. */
  before: string
  heading: string
}

/** The cells of a Markdown table row (`\|` inside a cell is not a separator). */
function cells(row: string): string[] {
  return row
    .trim()
    .replace(/^\|/, '')
    .replace(/\|$/, '')
    .split(/(?<!\\)\|/)
    .map((cell) => cell.trim())
}

function tablesOf(path: string): Table[] {
  const lines = read(path).split('\n')
  const tables: Table[] = []
  let heading = ''
  let fenced = false
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]!
    if (line.startsWith('```')) fenced = !fenced
    if (fenced) continue
    if (/^#{1,6} /.test(line)) heading = line
    if (!/^\|---/.test(lines[i + 1] ?? '') || !line.startsWith('|')) continue
    let before = ''
    for (let j = i - 1; j >= 0 && before === ''; j--) before = lines[j]!.trim()
    const rows: string[][] = []
    let k = i + 2
    for (; k < lines.length && lines[k]!.startsWith('|'); k++) rows.push(cells(lines[k]!))
    tables.push({ path, line: i + 1, header: cells(line), rows, before, heading })
    i = k - 1
  }
  return tables
}

/** The backticked names of a cell: `ctx.` dropped, up to the first character that is not part of a name. */
function namesIn(cell: string): string[] {
  return [...cell.matchAll(/`([^`]+)`/g)].flatMap((match) => {
    const text = match[1]!.replace(/^ctx\./, '')
    const name = text.startsWith('[') ? /^\[[^\]]+\]/.exec(text)?.[0] : /^[A-Za-z_$][\w$]*/.exec(text)?.[0]
    return name === undefined ? [] : [name]
  })
}

/** The exported interface a table describes: the last one backticked in the line before it, else in its heading. */
function describedType(table: Table): string | undefined {
  for (const text of [table.before, table.heading]) {
    const named = namesIn(text).filter((name) => exportedInterface(name) !== undefined)
    if (named.length > 0) return named.at(-1)
  }
  return undefined
}

const keyTables = [...guides, 'README.md']
  .flatMap(tablesOf)
  .filter((table) => ['option', 'key', 'member', '`ctx.`'].includes(table.header[0]!))

test('each table of keys in the guides names exactly the keys of the type it describes', () => {
  const checked: string[] = []
  const drifts: string[] = []
  // A base interface with a table of its own (ChildConfigOptions) is not repeated in its extensions' tables.
  const tabled = keyTables.map(describedType).filter((type) => type !== undefined)
  for (const table of keyTables) {
    const type = describedType(table)
    if (type === undefined) {
      drifts.push(`${table.path}:${table.line}: a table of ${table.header[0]} names no exported interface before it`)
      continue
    }
    checked.push(type)
    const documented = [...new Set(table.rows.flatMap((row) => namesIn(row[0]!)))].sort()
    const actual = keysOf(exportedInterface(type)!, tabled)
    const missing = actual.filter((key) => !documented.includes(key))
    const extra = documented.filter((key) => !actual.includes(key))
    if (missing.length > 0) drifts.push(`${table.path}:${table.line}: ${type}'s table lacks ${missing.join(', ')}`)
    if (extra.length > 0) drifts.push(`${table.path}:${table.line}: ${type}'s table names ${extra.join(', ')}, which ${type} has not`)
  }
  assert.deepEqual(drifts, [])
  // The check found the tables it is meant for (a renamed heading must not turn it off).
  for (const type of ['StewardOptions', 'StartOptions', 'Run', 'StopOnSignalsOptions', 'WardContext', 'ThreadWardOptions', 'ProcessWardOptions', 'SupervisorOptions', 'MetricsOptions', 'HttpHandlerOptions', 'StewardConfig', 'LogsConfig', 'ChildConfigOptions', 'ProcessChildConfig', 'ThreadChildConfig']) {
    assert.ok(checked.includes(type), `a table of ${type} was checked (found: ${checked.join(', ')})`)
  }
})

test('the events table names every event, its type and each of its fields', () => {
  const [table, ...others] = tablesOf('docs/guides/api.md').filter((candidate) => candidate.header[0] === '`type`' && candidate.header[1] === 'interface')
  assert.ok(table !== undefined && others.length === 0, 'api.md has one events table')
  const base = keysOf(exportedInterface('EventBase')!)
  const union = checker.getDeclaredTypeOfSymbol(exported.get('StewardEvent')!)
  assert.ok(union.isUnion())
  const events = union.types.map((member) => member.aliasSymbol?.name ?? member.getSymbol()!.name).sort()
  const rows = new Map(table.rows.map((row) => [namesIn(row[1]!)[0]!, row]))
  assert.deepEqual([...rows.keys()].sort(), events, 'one row per event interface')
  const drifts: string[] = []
  for (const [name, row] of rows) {
    const symbol = exportedInterface(name)!
    const type = checker.getTypeOfSymbol(checker.getPropertyOfType(checker.getDeclaredTypeOfSymbol(symbol), 'type')!) as ts.StringLiteralType
    if (row[0] !== `\`${type.value}\``) drifts.push(`${name}: type ${row[0]}, not \`${type.value}\``)
    for (const field of keysOf(symbol).filter((key) => key !== 'type' && !base.includes(key))) {
      if (!new RegExp(`\`${field}[?:\`]`).test(row[2]!)) drifts.push(`${name}: no field \`${field}\``)
    }
  }
  assert.deepEqual(drifts, [])
})

test("every list of restart reasons in the guides is RestartReason's", () => {
  const reasons = literalsOf('RestartReason')
  /** The words of the first parenthesis after `after` in the line that matches `line`. */
  const list = (path: string, line: RegExp, after: string): string[] => {
    const text = read(path)
      .split('\n')
      .find((candidate) => line.test(candidate))
    assert.ok(text !== undefined, `${path} has a line ${line}`)
    const rest = text.slice(text.indexOf(after) + after.length)
    const group = /\(([^);]*)/.exec(rest)?.[1] ?? ''
    return [...group.matchAll(/[`']([a-z-]+)[`']/g)].map((match) => match[1]!).sort()
  }
  assert.deepEqual(list('docs/guides/observability.md', /^\| `steward_restarts_total`/, '`reason`'), reasons, "the metrics' reason label")
  assert.deepEqual(list('docs/guides/api.md', /^\| `restarting`/, '`reason: RestartReason`'), reasons, "the restarting event's reason")
})

test('the table check reads rows, names and escaped bars as the guides write them', () => {
  assert.deepEqual(cells('| `a` \\| `b` | c |'), ['`a` \\| `b`', 'c'])
  assert.deepEqual(namesIn('`ctx.beat(progress?: P)`, `timeout`, `[Symbol.asyncIterator]()`, `done: Promise<Outcome>`'), ['beat', 'timeout', '[Symbol.asyncIterator]', 'done'])
  assert.equal(describedType({ path: '', line: 0, header: [], rows: [], before: '`ChildConfig` is a `ProcessChildConfig` or a `ThreadChildConfig`; both take the `ChildConfigOptions`:', heading: '' }), 'ChildConfigOptions')
})
