import { test } from 'node:test'
import assert from 'node:assert/strict'
import { sameProgress } from './progress.js'

test('progress positions compare by content', () => {
  const same: Array<[unknown, unknown]> = [
    [undefined, undefined],
    [3, 3],
    [NaN, NaN],
    ['a', 'a'],
    [[1, { page: 2 }], [1, { page: 2 }]],
    [{ offset: 10, file: 'x' }, { file: 'x', offset: 10 }],
    [new Date(5), new Date(5)],
    [new Map([['a', 1]]), new Map([['a', 1]])],
    [new Set([1, 2]), new Set([2, 1])],
  ]
  for (const [a, b] of same) assert.equal(sameProgress(a, b), true, `${String(a)} vs ${String(b)}`)
  const different: Array<[unknown, unknown]> = [
    [undefined, 0],
    [3, 4],
    ['3', 3],
    [[1, 2], [1, 2, 3]],
    [{ a: 1 }, { a: 2 }],
    [{ a: 1 }, { b: 1 }],
    [{ a: undefined }, {}],
    [[1], { 0: 1, length: 1 }],
    [new Date(5), new Date(6)],
    [new Map([['a', 1]]), new Map([['a', 2]])],
    [new Set([1]), new Set([2])],
    [null, {}],
  ]
  for (const [a, b] of different) assert.equal(sameProgress(a, b), false, `${String(a)} vs ${String(b)}`)
})
