import { constants } from 'node:os'
import type { Backoff } from '../policy/backoff.js'
import { cliBackoff, restartDefaults } from './defaults.js'
import type { ProcessHeartbeat } from '../isolation/process-ward.js'
import { toMs } from '../time/duration.js'
import { toBytes } from '../isolation/size.js'

// The values the CLI's flags and the config file's string forms share: each parser takes what a
// person types and returns the library's value, or throws a UsageError naming where it came from.

/** Bad usage: a flag, a config key or the command line itself. The CLI exits 2 with `message`. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
  /** The flag (`--timeout`) or config key (`child 'web': timeout`) at fault. */
  readonly where: string
  constructor(where: string, reason: string) {
    super(`${where}: ${reason}`)
    this.where = where
  }
}

/** A duration flag (`2s`, `500ms`, `1m`, or milliseconds) in ms. */
export function parseDuration(value: string, where: string, rules: { zero?: boolean; infinite?: boolean } = {}): number {
  const text = value.trim()
  const ms = /^\d+(\.\d+)?$/.test(text) ? Number(text) : rules.infinite === true && /^(infinity|inf)$/i.test(text) ? Infinity : text
  try {
    return toMs(ms, where, rules)
  } catch (error) {
    throw new UsageError(where, (error as Error).message.slice(where.length + 2))
  }
}

/** A count flag: a non-negative integer, or `Infinity`. */
export function parseCount(value: string, where: string): number {
  if (/^(infinity|inf)$/i.test(value.trim())) return Infinity
  if (!/^\d+$/.test(value.trim())) throw new UsageError(where, `must be a non-negative integer or Infinity, got ${JSON.stringify(value)}`)
  return Number(value)
}

const letterUnits: Record<string, number> = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }

/**
 * A size in bytes: PM2's and Docker's one-letter form (`512M`, `1G`, `64K`: powers of 1024), a
 * number of bytes, or the library's `Size` strings with their own units (`512MB` = 512 × 1000²,
 * `512MiB` = 512 × 1024²).
 */
export function parseSize(value: string, where: string): number {
  const letter = /^\s*(\d+(?:\.\d+)?)\s*([KMGT]?)\s*$/i.exec(value)
  if (letter !== null) {
    const bytes = Math.floor(Number(letter[1]) * letterUnits[letter[2]!.toUpperCase()]!)
    if (bytes <= 0) throw new UsageError(where, `must be greater than zero, got ${JSON.stringify(value)}`)
    return bytes
  }
  try {
    return toBytes(value, where)
  } catch {
    throw new UsageError(where, `must be a size like 512M, 1G, 64K (powers of 1024), 512MB, 1GiB or a number of bytes, got ${JSON.stringify(value)}`)
  }
}

/** `MIN..MAX` (durations, MIN > 0, MAX ≥ MIN) in ms. */
export function parseBackoffRange(value: string, where: string): { min: number; max: number } {
  const parts = value.split('..')
  if (parts.length !== 2 || parts[0]!.trim() === '' || parts[1]!.trim() === '') {
    throw new UsageError(where, `must be MIN..MAX, two durations like 100ms..30s, got ${JSON.stringify(value)}`)
  }
  const min = parseDuration(parts[0]!, `${where} (MIN)`, { zero: false })
  const max = parseDuration(parts[1]!, `${where} (MAX)`, { zero: false })
  if (max < min) throw new UsageError(where, `MAX (${max} ms) must not be below MIN (${min} ms)`)
  return { min, max }
}

/**
 * `MIN..MAX` (durations): the CLI's backoff ({@link cliBackoff}) from MIN doubling up to MAX,
 * jittered inside [MIN, MAX], starting over after a failed incarnation that ran `reset` ms or more.
 */
export function parseBackoff(value: string, where: string, reset: number = restartDefaults.backoff.resetAfter): Backoff {
  return cliBackoff({ ...parseBackoffRange(value, where), resetAfter: reset })
}

/**
 * Splits a command line into words without a shell: whitespace separates, `'…'` keeps
 * everything literally, `"…"` keeps everything but `\"` and `\\`, a backslash outside quotes
 * keeps the next character. Nothing is expanded.
 */
export function splitWords(text: string, where: string): string[] {
  const words: string[] = []
  let word = ''
  let inWord = false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!
    if (c === "'") {
      const end = text.indexOf("'", i + 1)
      if (end === -1) throw new UsageError(where, `unterminated ' in ${JSON.stringify(text)}`)
      word += text.slice(i + 1, end)
      inWord = true
      i = end
    } else if (c === '"') {
      inWord = true
      let j = i + 1
      for (; j < text.length && text[j] !== '"'; j++) {
        if (text[j] === '\\' && (text[j + 1] === '"' || text[j + 1] === '\\')) j++
        word += text[j]
      }
      if (j >= text.length) throw new UsageError(where, `unterminated " in ${JSON.stringify(text)}`)
      i = j
    } else if (c === '\\' && i + 1 < text.length) {
      word += text[++i]
      inWord = true
    } else if (/\s/.test(c)) {
      if (inWord) words.push(word)
      word = ''
      inWord = false
    } else {
      word += c
      inWord = true
    }
  }
  if (inWord) words.push(word)
  return words
}

/** The probe kinds a flag or a config string may name. */
export const probeKinds = 'ipc, stdout, none, http:URL, tcp:[HOST:]PORT, exec:CMD ARGS'

/**
 * A probe as a person writes it: `ipc`, `stdout`, `none`, `http:URL` (or the URL itself),
 * `tcp:HOST:PORT` or `tcp:PORT`, `exec:CMD ARGS` (split by {@link splitWords}, no shell).
 * `every` and `timeout` (ms) go into the object forms (the others ignore them).
 */
export function parseProbe(value: string, where: string, every?: number, timeout?: number): ProcessHeartbeat {
  const timing = { ...(every === undefined ? {} : { every }) }
  if (value === 'ipc' || value === 'stdout' || value === 'none') return value
  if (/^https?:\/\//.test(value) || value.startsWith('http:') || value.startsWith('https:')) {
    const text = /^https?:\/\//.test(value) ? value : value.slice('http:'.length)
    let url: URL
    try {
      url = new URL(text)
    } catch {
      throw new UsageError(where, `http: ${JSON.stringify(text)} is not a URL (give http:http://127.0.0.1:8080/health)`)
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(where, `http: the URL must be http:// or https://, got ${JSON.stringify(text)}`)
    return { http: url.href, ...timing }
  }
  if (value.startsWith('tcp:')) {
    const rest = value.slice('tcp:'.length)
    const colon = rest.lastIndexOf(':')
    const host = colon === -1 ? '127.0.0.1' : rest.slice(0, colon).replace(/^\[(.*)\]$/, '$1')
    const portText = colon === -1 ? rest : rest.slice(colon + 1)
    const port = Number(portText)
    if (!/^\d+$/.test(portText) || port < 1 || port > 65_535) throw new UsageError(where, `tcp: the port must be 1..65535, got ${JSON.stringify(portText)}`)
    if (host === '') throw new UsageError(where, `tcp: the host is empty in ${JSON.stringify(value)}`)
    return { tcp: { host, port }, ...timing }
  }
  if (value.startsWith('exec:')) {
    const words = splitWords(value.slice('exec:'.length), where)
    if (words.length === 0 || words[0] === '') throw new UsageError(where, `exec: give the probe's command, as exec:'curl -fsS http://127.0.0.1:8080/health'`)
    const [command, ...args] = words as [string, ...string[]]
    return { exec: [command, ...args], ...timing, ...(timeout === undefined ? {} : { timeout }) }
  }
  throw new UsageError(where, `must be one of ${probeKinds}, got ${JSON.stringify(value)}`)
}

/** A signal name (`SIGTERM`, `TERM`, `sigint`) as `NodeJS.Signals`. */
export function parseSignal(value: string, where: string): NodeJS.Signals {
  const name = (value.toUpperCase().startsWith('SIG') ? value.toUpperCase() : `SIG${value.toUpperCase()}`) as NodeJS.Signals
  if (!/^SIG[A-Z0-9]+$/.test(name) || !(name in constants.signals)) throw new UsageError(where, `must be a signal name like SIGTERM or SIGINT, got ${JSON.stringify(value)}`)
  return name
}

/** `K=V` as a pair; `K` must be a non-empty name without `=`. */
export function parseEnvPair(value: string, where: string): [string, string] {
  const equals = value.indexOf('=')
  if (equals <= 0) throw new UsageError(where, `must be K=V, got ${JSON.stringify(value)}`)
  return [value.slice(0, equals), value.slice(equals + 1)]
}
