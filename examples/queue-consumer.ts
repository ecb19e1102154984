// A queue consumer that waits for input without beating (healthy, no timer),
// hangs once on a bad message and is healed, and is stopped by its caller.
// Run: npx tsx examples/queue-consumer.ts
import { steward, type WardContext } from 'steward'

/** A tiny in-memory queue: `next()` resolves with the next message. */
function queue<T>(): { push(value: T): void; next(): Promise<T> } {
  const items: T[] = []
  const waiters: Array<(value: T) => void> = []
  return {
    push: (value) => {
      const waiter = waiters.shift()
      if (waiter === undefined) items.push(value)
      else waiter(value)
    },
    next: () => (items.length > 0 ? Promise.resolve(items.shift()!) : new Promise((resolve) => waiters.push(resolve))),
  }
}

const messages = queue<string>()

async function consumer(ctx: WardContext): Promise<void> {
  for (;;) {
    const message = await ctx.idle(messages.next()) // waiting for input: healthy
    ctx.beat()
    if (message === 'poison' && ctx.attempt === 1) {
      console.log(`attempt ${ctx.attempt}: stuck on '${message}'`)
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }))
      return
    }
    console.log(`attempt ${ctx.attempt}: handled '${message}'`)
  }
}

const caller = new AbortController()
const run = steward(consumer, { timeout: '200ms' }).start({ signal: caller.signal })
run.on((event) => {
  if (event.type === 'hung') console.log(`steward: '${event.ward}' hung; restarting`)
})

messages.push('hello')
setTimeout(() => messages.push('poison'), 50)
setTimeout(() => messages.push('world'), 400)
setTimeout(() => caller.abort(), 600)

const outcome = await run.done
console.log(`outcome: ${outcome.kind}`)
