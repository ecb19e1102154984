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

test('lineReader: the last line without a newline is handed on when the stream ends, once', () => {
  const lines: Array<[string, boolean]> = []
  const read = lineReader((line, partial) => lines.push([line, partial]))
  read(Buffer.from('usage: x\nfatal: config '))
  read(Buffer.from('missing'))
  assert.deepEqual(lines, [['usage: x', false]])
  read.end()
  assert.deepEqual(lines, [
    ['usage: x', false],
    ['fatal: config missing', false],
  ])
  read.end()
  assert.equal(lines.length, 2, 'nothing more at a second end')
  // A stream that ended with its newline has no last line to add.
  const ended: string[] = []
  const whole = lineReader((line) => ended.push(line))
  whole(Buffer.from('a\nb\n'))
  whole.end()
  assert.deepEqual(ended, ['a', 'b'])
})

test('lineReader: a 32 MiB line in 64 KiB chunks comes whole without a limit, and in marked pieces of at most the limit with one', () => {
  const size = 32 * 1024 * 1024
  const line = Buffer.alloc(size, 'x')
  const chunks = (): Buffer[] => {
    const all = Buffer.concat([line, Buffer.from('\nnext\n')])
    const list: Buffer[] = []
    for (let at = 0; at < all.length; at += 65_536) list.push(all.subarray(at, at + 65_536))
    return list
  }
  const whole: string[] = []
  const unlimited = lineReader((text) => whole.push(text))
  for (const chunk of chunks()) unlimited(chunk)
  assert.deepEqual(
    whole.map((text) => text.length),
    [size, 4],
  )

  const limit = 65_536
  const pieces: Array<{ bytes: number; partial: boolean }> = []
  const limited = lineReader((text, partial) => pieces.push({ bytes: Buffer.byteLength(text), partial }), limit)
  for (const chunk of chunks()) limited(chunk)
  limited.end()
  assert.equal(pieces.length, size / limit + 1)
  assert.ok(pieces.every((piece) => piece.bytes <= limit), 'no piece over the limit')
  assert.equal(pieces.slice(0, -1).reduce((sum, piece) => sum + piece.bytes, 0), size, 'every byte of the line, once')
  assert.deepEqual(
    pieces.map((piece) => piece.partial),
    [...Array.from({ length: size / limit - 1 }, () => true), false, false],
    "every piece but the line's last is partial; the next line is whole",
  )
})

test('lineReader: a UTF-8 character at a piece boundary stays whole, also when it arrives split across chunks', () => {
  // Limit 10: 'aaaaaaaaa' (9 bytes) then '€' (3 bytes) straddles byte 10; the piece ends before it.
  for (const split of [9, 10, 11]) {
    const pieces: Array<[string, boolean]> = []
    const read = lineReader((line, partial) => pieces.push([line, partial]), 10)
    const bytes = Buffer.from('aaaaaaaaa€bbbbbbbbbbbbb€\n')
    read(bytes.subarray(0, split))
    read(bytes.subarray(split))
    assert.deepEqual(
      pieces,
      [
        ['aaaaaaaaa', true],
        ['€bbbbbbb', true],
        ['bbbbbb€', false],
      ],
      `split at byte ${split}`,
    )
    assert.ok(pieces.every(([text]) => Buffer.byteLength(text) <= 10 && !text.includes('\ufffd')))
  }
})

test('lineReader: a long line without a newline at the end comes in pieces, then its rest at the end', () => {
  const pieces: Array<[string, boolean]> = []
  const read = lineReader((line, partial) => pieces.push([line, partial]), 4)
  read(Buffer.from('abcdefghij'))
  assert.deepEqual(pieces, [
    ['abcd', true],
    ['efgh', true],
  ])
  read.end()
  assert.deepEqual(pieces.at(-1), ['ij', false])
})
