import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { UsageError } from './flags.js'

// An env file (`--env-file`, a config's `envFile`), read by steward itself: Node's own reader
// (`process.loadEnvFile`, `util.parseEnv`) is missing from early Node 20 releases, and its rules
// changed between versions, so one small parser with one set of rules serves every Node we run on.

/** A line of an env file that cannot be read: its file, its line (1-based) and why. */
export class EnvFileError extends Error {
  override readonly name = 'EnvFileError'
  readonly code = 'ERR_STEWARD_ENV_FILE'
  /** The file as it was named (for the message). */
  readonly file: string
  /** The 1-based line at fault (a quoted value's first line when its quote is never closed). */
  readonly line: number
  constructor(file: string, line: number, reason: string) {
    super(`${file}:${line}: ${reason}`)
    this.file = file
    this.line = line
  }
}

const keyPattern = /^[A-Za-z_][A-Za-z0-9_]*$/
const escapes: Readonly<Record<string, string>> = { n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\' }

/**
 * Parses the text of an env file into its variables, in the order written (a key written twice:
 * the last one). The rules, the common subset of dotenv, docker's `--env-file` and systemd's
 * `EnvironmentFile`:
 *
 * - one `KEY=VALUE` per line; blank lines and lines starting with `#` are skipped; a line may
 *   start with `export `; spaces around the key and before the value are dropped;
 * - a key is a letter or `_`, then letters, digits and `_`;
 * - an unquoted value runs to the end of the line, trailing spaces and a comment (`#` after a
 *   space) dropped (`a#b` keeps its `#`);
 * - `'…'` is literal; `"…"` turns `\n`, `\r`, `\t`, `\"` and `\\` into what they say (any other
 *   backslash stays as written); either quote may span lines; after the closing quote only spaces
 *   and a comment may follow;
 * - nothing is expanded: `$HOME`, `${X}` and backticks stay as written.
 *
 * Throws an {@link EnvFileError} naming `file` and the line for anything else: a line without
 * `=`, a bad key, a quote never closed, text after a closing quote.
 */
export function parseEnvFile(text: string, file: string): Record<string, string> {
  const lines = text.replace(/^\uFEFF/, '').split(/\r?\n/)
  const vars: Record<string, string> = {}
  for (let index = 0; index < lines.length; index++) {
    const number = index + 1
    const fail = (reason: string, at = number): never => {
      throw new EnvFileError(file, at, reason)
    }
    let line = lines[index]!.trimStart()
    if (line === '' || line.startsWith('#')) continue
    if (/^export\s/.test(line)) line = line.slice(6).trimStart()
    const equals = line.indexOf('=')
    if (equals === -1) fail(`expected KEY=VALUE: this line has no '='`)
    const key = line.slice(0, equals).trim()
    if (!keyPattern.test(key)) fail(`${JSON.stringify(clip(key))} is not a variable name (a letter or _, then letters, digits or _)`)
    let rest = line.slice(equals + 1).trimStart()
    const quote = rest[0]
    if (quote !== "'" && quote !== '"') {
      // Unquoted: a comment starts at a `#` that follows a space (or starts the value).
      const comment = rest.search(/(^|\s)#/)
      vars[key] = (comment === -1 ? rest : rest.slice(0, comment)).trimEnd()
      continue
    }
    // Quoted: the value runs to the matching quote, across lines when it is not on this one.
    let value = ''
    let position = 1
    for (;;) {
      let closed = false
      while (position < rest.length) {
        const char = rest[position]!
        if (char === quote) {
          closed = true
          break
        }
        if (quote === '"' && char === '\\' && position + 1 < rest.length) {
          const next = rest[position + 1]!
          value += escapes[next] ?? `\\${next}`
          position += 2
          continue
        }
        value += char
        position++
      }
      if (closed) break
      if (index + 1 >= lines.length) fail(`the ${quote === '"' ? 'double' : 'single'} quote of ${key} is never closed`, number)
      value += '\n'
      rest = lines[++index]!
      position = 0
    }
    const after = rest.slice(position + 1)
    if (after.trim() !== '' && !/^\s+#/.test(after)) fail(`only a comment may follow the closing quote of ${key}`, index + 1)
    vars[key] = value
  }
  return vars
}

/**
 * Reads and parses an env file (`path` absolute; `shown`: how the message names it). A file that
 * cannot be read throws the file system's error; a malformed line an {@link EnvFileError}.
 */
export function readEnvFile(path: string, shown: string = path): Record<string, string> {
  return parseEnvFile(readFileSync(path, 'utf8'), shown)
}

/**
 * An env file's variables (`given` relative to `base`), for the flag or key `where`: a file that
 * is missing or cannot be read, or a malformed line (named by file and line), is a
 * {@link UsageError} naming `where`. Read when the command or config is loaded, so the error
 * comes before anything starts.
 */
export function envFileVars(given: string, base: string, where: string): Record<string, string> {
  if (given === '') throw new UsageError(where, 'must not be empty')
  const path = resolve(base, given)
  try {
    return readEnvFile(path, given)
  } catch (error) {
    if (error instanceof EnvFileError) throw new UsageError(where, error.message)
    const code = (error as NodeJS.ErrnoException).code
    throw new UsageError(where, code === 'ENOENT' ? `no file ${JSON.stringify(given)} (${path})` : `cannot read ${JSON.stringify(given)}: ${(error as Error).message}`)
  }
}

/** At most 40 characters of a bad key for a message. Values are never quoted in a message: they may be secrets. */
function clip(text: string): string {
  return text.length <= 40 ? text : `${text.slice(0, 37)}…`
}
