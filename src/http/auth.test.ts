import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { bearerMatches } from './auth.js'

/** The source text of `bearerMatches` in auth.ts, from its signature to the closing brace at column 0. */
function bearerSource(): string {
  const source = readFileSync(new URL('./auth.ts', import.meta.url), 'utf8')
  const start = source.indexOf('export function bearerMatches(')
  assert.notEqual(start, -1, 'auth.ts exports function bearerMatches')
  const end = source.indexOf('\n}', start)
  return source.slice(start, end + 2)
}

test('bearerMatches accepts the token and nothing else, whatever the lengths', () => {
  assert.equal(bearerMatches('Bearer s3cret', 's3cret'), true)
  assert.equal(bearerMatches('Bearer s3cres', 's3cret'), false)
  assert.equal(bearerMatches('Bearer s3cre', 's3cret'), false, 'a prefix')
  assert.equal(bearerMatches('Bearer s3cret-and-more', 's3cret'), false, 'longer')
  assert.equal(bearerMatches('bearer s3cret', 's3cret'), false, 'the scheme is case-sensitive here')
  assert.equal(bearerMatches('s3cret', 's3cret'), false, 'no scheme')
  assert.equal(bearerMatches(undefined, 's3cret'), false)
  assert.equal(bearerMatches('Bearer ', ''), false, 'an empty token never matches')
})

test('bearerMatches compares in constant time: timingSafeEqual over equal-length digests, no === on the token', () => {
  const body = bearerSource()
  // Hashing first makes both sides 32 bytes, so timingSafeEqual neither throws nor shows the length.
  assert.match(body, /createHash\('sha256'\)\.update\(given\)\.digest\(\)/)
  assert.match(body, /createHash\('sha256'\)\.update\(token\)\.digest\(\)/)
  assert.match(body, /timingSafeEqual\(a, b\)/)
  // What a "simplification" would write: a string comparison that stops at the first difference.
  const comparisons = [...body.matchAll(/([\w.'"]+)\s*(?:===|!==|==|!=)\s*([\w.'"]+)/g)].map((m) => [m[1], m[2]])
  for (const [left, right] of comparisons) {
    const sides = [left!, right!]
    assert.ok(!sides.includes('token'), `bearerMatches compares the token with a string operator: ${left} … ${right}`)
    assert.ok(!(sides.includes('given') && !sides.includes("''")), `bearerMatches compares the given token with a string operator: ${left} … ${right}`)
  }
  assert.doesNotMatch(body, /localeCompare|\.equals\(|startsWith\(token|endsWith\(token|includes\(token/)
})
