// Recipe: ordering sibling timeouts so the root cause is seen first. A connection and a query
// ward that uses it both stop beating when the link freezes at 1000 ms. Under rest-for-one, the
// connection's hang restarts it and the query after it; the query's own hang restarts only the
// query, on the same frozen link. So give the connection the shorter timeout: its hang is
// noticed first, and the one restart heals both. The example runs the tree twice, with the
// timeouts the right way round (connection 1 s, query 3 s) and the wrong way (3 s, 1 s).
// Run: npx tsx examples/timeout-order.ts
import { ManualClock, supervisor, type Duration, type WardContext } from 'steward'

async function tree(connectionTimeout: Duration, queryTimeout: Duration): Promise<void> {
  const clock = new ManualClock()
  let frozen = false // the link: frozen at 1000 ms, until a new connection is made
  let links = 0

  const connection = async (ctx: WardContext): Promise<void> => {
    links++
    frozen = false
    for (;;) {
      if (!frozen) ctx.beat() // its pings answer while the link works
      await ctx.clock.sleep(100, ctx.signal)
    }
  }
  const query = async (ctx: WardContext): Promise<void> => {
    if (ctx.attempt > 1) console.log(`  ${clock.now()} ms: query attempt ${ctx.attempt} on link ${links}`)
    for (;;) {
      if (!frozen) ctx.beat() // its queries complete while the link works
      await ctx.clock.sleep(100, ctx.signal)
    }
  }

  console.log(`connection timeout ${connectionTimeout}, query timeout ${queryTimeout}:`)
  const run = supervisor({ name: 'db', strategy: 'rest-for-one', maxRestarts: 10, within: '1m' }, [
    { name: 'connection', ward: connection, timeout: connectionTimeout },
    { name: 'query', ward: query, timeout: queryTimeout },
  ]).start({
    clock,
    onEvent: (event) => {
      if (event.type === 'hung') console.log(`  ${event.at} ms: ${event.path} hung (link ${links})`)
    },
  })
  await clock.advance(1_000)
  frozen = true
  await clock.advance(5_000)
  console.log(`  connections made: ${links}`)
  await clock.runUntil(run.stop())
}

await tree('1s', '3s')
await tree('3s', '1s')
