// A worker or a child that waited for input and then works again is watched again: after its
// idle wait ends (the far side says 'busy'), its heartbeat deadline runs, so going silent is a hang.
import { afterEach, test } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import type { StewardEvent } from '../observe/events.js'
import { steward } from '../steward/steward.js'
import type { Ward } from '../steward/ward.js'
import { liveChildren, processWard } from './process-ward.js'
import { liveWorkers, threadWard } from './thread-ward.js'
import { waitFor } from '../testing/wait.js'

afterEach(async () => {
  await Promise.all([...liveWorkers].map((worker) => worker.terminate()))
  for (const c of liveChildren) c.kill('SIGKILL')
})

const TIMEOUT = 1_000

const wards: Record<string, () => Ward> = {
  'a worker (ctx.idle)': () => threadWard(new URL('../../test/fixtures/thread-wards.mjs', import.meta.url), { export: 'idleThenSilent' }),
  'a child (idle() of steward/child)': () =>
    processWard(process.execPath, [fileURLToPath(new URL('../../test/fixtures/child.mjs', import.meta.url)), 'idle-then-silent'], { heartbeat: 'ipc', killAfter: 200 }),
}

for (const [kind, make] of Object.entries(wards)) {
  test(`${kind}: idle, then busy, then silent is hung within timeout after the wait ended`, { timeout: 30_000 }, async () => {
    const hung: Array<{ wall: number; event: StewardEvent }> = []
    const run = steward(make(), { name: 'w', timeout: TIMEOUT, startTimeout: '10s', maxRestarts: 0 }).start({
      onEvent: (event) => void (event.type === 'hung' && hung.push({ wall: Date.now(), event })),
    })
    try {
      // Bounded wait for the verdict: a ward left idle after its wait is never found hung.
      await waitFor('a hung event', () => hung.length > 0, 20_000, 10)
      assert.equal(hung.length, 1, 'no hung event within 10 s: the wait ended but the ward is still taken as idle')
      const { wokeAt } = run.status().progress as { wokeAt: number }
      const after = hung[0]!.wall - wokeAt
      // Never before the timeout; within it plus the sampling and a loaded machine's delays.
      assert.ok(after >= TIMEOUT - 50 && after < TIMEOUT + 3_000, `hung ${after} ms after the wait ended`)
      const event = hung[0]!.event
      assert.ok(event.type === 'hung' && !event.starting && event.timeout === TIMEOUT)
    } finally {
      await run.stop()
    }
    await waitFor('every worker and child gone', () => liveWorkers.size === 0 && liveChildren.size === 0, 10_000, 10)
    assert.equal(liveWorkers.size + liveChildren.size, 0, 'a worker or child is left')
  })
}
