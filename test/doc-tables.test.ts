// The guides' tables of a type's keys cannot drift from the type: a table that follows
// `<!-- keys: TypeName -->` must list, in its first column, exactly the type's properties (read
// from the sources by the TypeScript compiler); `<!-- keys: Type - Base -->` those of Type that
// Base has not (listed in Base's own table). `<!-- keys: StewardEvent.type -->` lists the event
// union's `type` values.
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

/** Every `<!-- keys: X -->` table of `text`: the type it names, its line, and the key of each row. */
export function keyedTables(text: string): Array<{ type: string; line: number; keys: string[] }> {
  const lines = text.split('\n')
  const tables: Array<{ type: string; line: number; keys: string[] }> = []
  lines.forEach((line, index) => {
    const marker = /^<!-- keys: ([\w. -]+?) -->$/.exec(line)
    if (marker === null) return
    const keys: string[] = []
    // The header and the separator row, then one row per key until the table ends.
    for (let row = index + 3; row < lines.length && lines[row]!.startsWith('|'); row++) {
      const cell = lines[row]!.split(/(?<!\\)\|/)[1]!.trim()
      // One key, or several that share a row: `timeout`, `startTimeout`, …
      const codes = /^`[^`]+`(, `[^`]+`)+$/.test(cell) ? [...cell.matchAll(/`([^`]+)`/g)].map((match) => match[1]!) : [/`([^`]+)`/.exec(cell)?.[1]]
      for (const code of codes) {
        if (code === undefined) throw new Error(`line ${row + 1}: the first cell names no key in backticks: ${cell}`)
        // `beat(progress?: P)` → beat, `resume: P | undefined` → resume, `[wardHost]` as it is.
        keys.push(code.startsWith('[') ? code.slice(0, code.indexOf(']') + 1) : code.split(/[(:\s]/)[0]!)
      }
    }
    tables.push({ type: marker[1]!, line: index + 1, keys })
  })
  return tables
}

const entries = ['src/index.ts', 'src/config.ts', 'src/http/index.ts', 'src/observe/metrics.ts', 'src/cluster/index.ts'].map((path) => join(root, path))
const program = ts.createProgram(entries, { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext, strict: true, noEmit: true })
const checker = program.getTypeChecker()

/** The exported symbol `name` of any entry (aliases followed). */
function exported(name: string): ts.Symbol {
  for (const entry of entries) {
    const module = checker.getSymbolAtLocation(program.getSourceFile(entry)!)!
    const symbol = checker.getExportsOfModule(module).find((candidate) => candidate.name === name)
    if (symbol !== undefined) return symbol.flags & ts.SymbolFlags.Alias ? checker.getAliasedSymbol(symbol) : symbol
  }
  throw new Error(`no export named ${name}`)
}

/** The keys a table of `type` must list: its own declared members, or the union's `type` values. */
function keysOf(type: string): string[] {
  if (type === 'StewardEvent.type') {
    const union = checker.getDeclaredTypeOfSymbol(exported('StewardEvent'))
    return (union.isUnion() ? union.types : [union]).map((member) => {
      const literal = checker.getTypeOfSymbol(member.getProperty('type')!)
      return literal.isStringLiteral() ? literal.value : '?'
    })
  }
  const [name, base] = type.split(' - ') as [string, string | undefined]
  const properties = (typeName: string): string[] =>
    checker.getPropertiesOfType(checker.getDeclaredTypeOfSymbol(exported(typeName))).map((property) => {
      // A symbol-keyed member (`[wardHost]`) by the expression that names it.
      const declaration = property.declarations?.[0]
      return declaration !== undefined && (ts.isPropertySignature(declaration) || ts.isMethodSignature(declaration)) && ts.isComputedPropertyName(declaration.name)
        ? `[${declaration.name.expression.getText()}]`
        : property.name
    })
  const inherited = base === undefined ? [] : properties(base)
  return properties(name).filter((key) => !inherited.includes(key))
}

test('every table of keys in the guides lists exactly the keys of its type', () => {
  const tables = guides.flatMap((path) => keyedTables(readFileSync(join(root, path), 'utf8')).map((table) => ({ path, ...table })))
  assert.ok(tables.length >= 10, `found ${tables.length} keyed tables`)
  const drifts: string[] = []
  for (const { path, type, line, keys } of tables) {
    const expected = keysOf(type)
    const missing = expected.filter((key) => !keys.includes(key))
    const extra = keys.filter((key) => !expected.includes(key))
    if (missing.length > 0 || extra.length > 0) drifts.push(`${path}:${line} ${type}: missing ${JSON.stringify(missing)}, not in the type ${JSON.stringify(extra)}`)
  }
  assert.deepEqual(drifts, [])
})

test('a keyed table is read row by row, each key from its first cell', () => {
  const text = ['<!-- keys: X - Y -->', '| `ctx.` | meaning |', '|---|---|', '| `beat(progress?: P)` | b |', '| `resume: P \\| undefined` | r |', '| `[wardHost]` | h |', '| `a`, `b` | two |', '', 'after']
  assert.deepEqual(keyedTables(text.join('\n')), [{ type: 'X - Y', line: 1, keys: ['beat', 'resume', '[wardHost]', 'a', 'b'] }])
})
