import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { EnvFileError, parseEnvFile, readEnvFile } from './env-file.js'

const parse = (text: string): Record<string, string> => parseEnvFile(text, '.env')

test('KEY=VALUE lines, blank lines and comments', () => {
  assert.deepEqual(parse('A=1\n\n# a comment\n   # indented comment\nB=two words\n'), { A: '1', B: 'two words' })
})

test('export prefix, spaces around the key and before the value, CRLF, a BOM', () => {
  assert.deepEqual(parse('\uFEFFexport A=1\r\n  B = 2  \r\nexport\tC=3\nexported=4'), { A: '1', B: '2', C: '3', exported: '4' })
})

test('an unquoted value: a comment after a space is dropped, a # inside a word stays', () => {
  assert.deepEqual(parse('A=x # note\nB=a#b\nC=#\nD= # only a comment\nE=url=http://h/?q=1'), { A: 'x', B: 'a#b', C: '', D: '', E: 'url=http://h/?q=1' })
})

test('an empty value', () => {
  assert.deepEqual(parse('A=\nB=""\nC=\'\''), { A: '', B: '', C: '' })
})

test('single quotes are literal', () => {
  assert.deepEqual(parse(`A='a \\n $HOME "b" # not a comment'`), { A: 'a \\n $HOME "b" # not a comment' })
})

test('double quotes turn \\n, \\r, \\t, \\" and \\\\ into what they say; other backslashes stay', () => {
  assert.deepEqual(parse('A="one\\ntwo\\tthree\\r \\"q\\" back\\\\slash \\x # kept"'), { A: 'one\ntwo\tthree\r "q" back\\slash \\x # kept' })
})

test('no shell expansion in any form', () => {
  assert.deepEqual(parse('A=$HOME\nB="${HOME}/x"\nC=`whoami`\nD=$(id)'), { A: '$HOME', B: '${HOME}/x', C: '`whoami`', D: '$(id)' })
})

test('a quoted value may span lines, and the line count goes on after it', () => {
  assert.deepEqual(parse('KEY="-----BEGIN-----\nabc\n-----END-----"\nB=1'), { KEY: '-----BEGIN-----\nabc\n-----END-----', B: '1' })
  assert.deepEqual(parse("A='x\n\ny'"), { A: 'x\n\ny' })
  assert.throws(() => parse('A="x\ny"\nB=1\nbad line'), (error: EnvFileError) => error.line === 4)
})

test('a comment after a closing quote', () => {
  assert.deepEqual(parse('A="x" # note\nB=\'y\'   '), { A: 'x', B: 'y' })
})

test('the last of a key written twice wins; the order is kept', () => {
  const vars = parse('B=1\nA=2\nB=3')
  assert.deepEqual(vars, { B: '3', A: '2' })
  assert.deepEqual(Object.keys(vars), ['B', 'A'])
})

test('a malformed line is an error naming the file and the line', () => {
  const cases: [string, number, RegExp][] = [
    ['A=1\nno equals here', 2, /^\.env:2: expected KEY=VALUE/],
    ['A=1\n\n1A=2', 3, /^\.env:3: "1A" is not a variable name/],
    ['MY-KEY=1', 1, /"MY-KEY" is not a variable name/],
    ['=1', 1, /"" is not a variable name/],
    ['A=1\nB="open\nC=2', 2, /^\.env:2: the double quote of B is never closed/],
    ["A='open", 1, /single quote of A is never closed/],
    ['A="x" y', 1, /^\.env:1: only a comment may follow the closing quote of A/],
    ['A="x"#y', 1, /only a comment may follow/],
  ]
  for (const [text, line, message] of cases) {
    assert.throws(
      () => parse(text),
      (error: unknown) => error instanceof EnvFileError && error.line === line && error.file === '.env' && error.code === 'ERR_STEWARD_ENV_FILE' && message.test(error.message),
      text,
    )
  }
})

test('a malformed line does not put its value in the message (it may be a secret)', () => {
  assert.throws(() => parse('PASSWORD hunter2'), (error: Error) => !error.message.includes('hunter2'))
  assert.throws(() => parse('PASSWORD="x" hunter2'), (error: Error) => !error.message.includes('hunter2'))
})

test('readEnvFile reads a file and names it as shown', (t) => {
  const folder = mkdtempSync(join(tmpdir(), 'steward-env-'))
  t.after(() => rmSync(folder, { recursive: true, force: true }))
  const file = join(folder, '.env')
  writeFileSync(file, 'A=1\nbad\n')
  assert.throws(() => readEnvFile(file, 'app/.env'), /^EnvFileError: app\/\.env:2:|app\/\.env:2:/)
  writeFileSync(file, 'A=1\n')
  assert.deepEqual(readEnvFile(file), { A: '1' })
  assert.throws(() => readEnvFile(join(folder, 'missing')), { code: 'ENOENT' })
})

test("the CLI guide's example env file reads as the guide says", () => {
  const readme = readFileSync(new URL('../../docs/guides/cli.md', import.meta.url), 'utf8')
  const section = readme.slice(readme.indexOf('The\nformat, read by steward itself'))
  const block = /```sh\n([\s\S]*?)```/.exec(section)?.[1]
  assert.ok(block !== undefined, "the CLI guide's env file example")
  assert.deepEqual(parseEnvFile(block, 'docs/guides/cli.md'), {
    PORT: '8080',
    NODE_ENV: 'production',
    GREETING: 'single quotes are literal: $HOME \\n',
    MOTD: 'double quotes know \n, \t, ", \\ and may span\nlines',
    PATH_LIKE: '$HOME/bin',
  })
})
