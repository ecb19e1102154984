import { test } from 'node:test'
import assert from 'node:assert/strict'
import { lineReader } from './lines.js'

test('lineReader: complete lines only, across chunks, with a UTF-8 character split between two chunks', () => {
  const lines: string[] = []
  const read = lineReader((line) => lines.push(line))
  const bytes = Buffer.from('one\ntwo ünï\n\nthree')
  // Split inside 'ü' (two bytes): the first chunk ends with its first byte.
  const split = bytes.indexOf(Buffer.from('ü')) + 1
  read(bytes.subarray(0, split))
  assert.deepEqual(lines, ['one'])
  read(bytes.subarray(split))
  assert.deepEqual(lines, ['one', 'two ünï', ''], 'the unterminated last line waits')
  read(Buffer.from('\n'))
  assert.deepEqual(lines, ['one', 'two ünï', '', 'three'])
})
