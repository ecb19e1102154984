// walk() over a list with a poison input and a flaky one: every good result once, in order,
// the poison one dead-lettered, and a checkpoint that a later run resumes from.
// Run: npx tsx examples/walk-poison.ts
import { steward, walk } from 'steward'

const orders = ['#1', '#2', '#3 (corrupt)', '#4', '#5']
let flaky = true

const ship = async (order: string): Promise<string> => {
  await new Promise((resolve) => setTimeout(resolve, 5))
  if (order.includes('corrupt')) throw new Error(`cannot parse ${order}`)
  if (order === '#2' && flaky) {
    flaky = false
    throw new Error('network blip')
  }
  return `shipped ${order}`
}

const shipping = steward(walk(orders, ship), {
  timeout: '1s',
  poisonAfter: 2,
  onDeadLetter: (letter) => console.log(`dead letter at ${String(letter.position)}: ${String(letter.input)} (${letter.error?.message})`),
})

// The first run stops after two results; the second resumes from its checkpoint.
const first = shipping.start()
let taken = 0
for await (const result of first) {
  console.log(result)
  if (++taken === 2) break
}
const checkpoint = first.progress
console.log(`checkpoint: ${String(checkpoint)}`)
for await (const result of shipping.start({ resume: checkpoint })) console.log(result)
