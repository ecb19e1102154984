import { test } from 'node:test'
import assert from 'node:assert/strict'
import { allDemoNames, demoNames, realTimeOnlyDemos } from './commands.js'
import { allDemos, demos } from './demo.js'

test("the dispatcher's demo names are the demos demo.ts has: the same ids, all, and the real-time ones", () => {
  assert.deepEqual([...demoNames], [...demos.keys()])
  assert.deepEqual(allDemoNames, allDemos)
  assert.deepEqual(realTimeOnlyDemos, [...demos.values()].filter((scenario) => scenario.realTimeOnly === true).map((scenario) => scenario.id))
})
