// A queue consumer that waits for input without beating (healthy, no timer),
// hangs once on a bad message and is healed, and is stopped by its caller at
// once: its wait for the next message is cancelled by the incarnation's signal.
// Run: npx tsx examples/queue-consumer.ts
import { steward, type WardContext } from 'steward'

/** A tiny in-memory queue: `next(signal)` resolves with the next message, or rejects when `signal` aborts; `waiting`: the waits not settled. */
function queue<T>(): { push(value: T): void; next(signal: AbortSignal): Promise<T>; readonly waiting: number } {
  const items: T[] = []
  const waiters: Array<(value: T) => void> = []
  return {
    get waiting() {
      return waiters.length
    },
    push: (value) => {
      const waiter = waiters.shift()
      if (waiter === undefined) items.push(value)
      else waiter(value)
    },
    next: (signal) => {
      if (items.length > 0) return Promise.resolve(items.shift()!)
      return new Promise((resolve, reject) => {
        const waiter = (value: T): void => {
          signal.removeEventListener('abort', cancel)
          resolve(value)
        }
        const cancel = (): void => {
          waiters.splice(waiters.indexOf(waiter), 1)
          reject(signal.reason)
        }
        signal.addEventListener('abort', cancel, { once: true })
        waiters.push(waiter)
      })
    },
  }
}

const messages = queue<string>()
let handledWorld = (): void => {}
const worldHandled = new Promise<void>((resolve) => (handledWorld = resolve))

async function consumer(ctx: WardContext): Promise<void> {
  for (;;) {
    // Waiting for input: healthy; a stop or a restart cancels the wait, so the ward leaves at once.
    const message = await ctx.idle((signal) => messages.next(signal))
    ctx.beat()
    if (message === 'poison' && ctx.attempt === 1) {
      console.log(`attempt ${ctx.attempt}: stuck on '${message}'`)
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }))
      return
    }
    console.log(`attempt ${ctx.attempt}: handled '${message}'`)
    if (message === 'world') handledWorld()
  }
}

const caller = new AbortController()
const run = steward(consumer, { timeout: '200ms' }).start({ signal: caller.signal })
run.on((event) => {
  if (event.type === 'hung') {
    console.log(`steward: '${event.ward}' hung; restarting`)
    messages.push('world') // arrives while the replacement starts: it is waiting for it
  }
})

messages.push('hello')
messages.push('poison')
// The caller shuts down once the replacement handled 'world': the wait for the next message is
// cancelled at once, so the run stops without waiting for any deadline.
await worldHandled
caller.abort()

const outcome = await run.done
console.log(`outcome: ${outcome.kind}`)
console.log(`unstopped: ${outcome.kind === 'stopped' ? outcome.unstopped.length : '-'}`)
// The signal handed to the wait cancelled the queue's own wait too: nothing is left waiting.
console.log(`left waiting on the queue: ${messages.waiting}`)
