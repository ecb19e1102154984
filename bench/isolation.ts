// thread.replace_ms (and _warm_ms, with a warm spare): from a thread ward's missed deadline to
// its replacement running (the replacement's first output reaching the consumer). process.kill_ms: from a process ward's
// missed deadline to its child's exit (the next incarnation's start, which waits for it).
// process.memory_sample_50_ms: one memory sample of 50 process groups (50 wards with maxMemory
// due on the same tick: one /proc scan), beside peer.separate.memory_sample_50_ms, one scan per
// group as each ward sampled its own before, in the same run.
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { processWard, steward, threadWard, type StewardEvent } from '../dist/index.js'
import { median, quick, type Figures } from './figure.js'
import { groupRss, groupsRss } from '../src/isolation/process-group.js'

const repetitions = quick ? 3 : 7

async function threadReplace(warm: boolean): Promise<number> {
  const samples: number[] = []
  // The default terminateAfter (1 s): a worker retired for a hang is terminated at once all the same.
  const ward = threadWard(new URL('./fixtures/freeze.mjs', import.meta.url), { stream: true, warm })
  for (let r = 0; r < repetitions; r++) {
    let hungAt = 0
    // The worker's boot counts against the start deadline, not the 200 ms heartbeat timeout.
    const run = steward(ward, { timeout: 200, startTimeout: '10s', maxRestarts: 1 }).start({
      onEvent: (event: StewardEvent) => {
        if (event.type === 'hung') hungAt = event.at
      },
    })
    for await (const _ of run) {
      samples.push(performance.now() - hungAt)
      break
    }
    await run.done
  }
  return median(samples)
}

async function processKill(): Promise<number> {
  const samples: number[] = []
  const child = fileURLToPath(new URL('./fixtures/silent-child.mjs', import.meta.url))
  for (let r = 0; r < repetitions; r++) {
    let hungAt = 0
    let replacedAt = 0
    const run = steward(processWard(process.execPath, [child], { heartbeat: 'ipc', killAfter: 5_000 }), {
      timeout: 300,
      startTimeout: '10s',
      maxRestarts: 1,
    }).start({
      onEvent: (event: StewardEvent) => {
        if (event.type === 'hung' && hungAt === 0) hungAt = event.at
        if (event.type === 'started' && event.attempt === 2) replacedAt = event.at
      },
    })
    while (replacedAt === 0) await new Promise((resolve) => setTimeout(resolve, 5))
    samples.push(replacedAt - hungAt)
    await run.stop()
  }
  return median(samples)
}

/** ms per sample of 50 sleeping process groups: one shared scan, and one scan per group. */
async function memorySample(): Promise<{ shared: number; separate: number }> {
  const children = Array.from({ length: 50 }, () => spawn('sleep', ['600'], { detached: true, stdio: 'ignore' }))
  try {
    const pgids = new Set(children.map((child) => child.pid!))
    const shared: number[] = []
    const separate: number[] = []
    for (let r = 0; r < (quick ? 5 : 15); r++) {
      let started = performance.now()
      const rss = groupsRss(pgids)
      shared.push(performance.now() - started)
      if (rss.size !== 50) throw new Error(`the shared scan found ${rss.size} of 50 groups`)
      started = performance.now()
      for (const pgid of pgids) groupRss(pgid)
      separate.push(performance.now() - started)
    }
    return { shared: median(shared), separate: median(separate) }
  } finally {
    for (const child of children) child.kill('SIGKILL')
  }
}

export async function measure(): Promise<Figures> {
  const memory = await memorySample()
  return {
    'process.memory_sample_50_ms': { value: memory.shared, unit: 'ms (50 groups, one /proc scan)' },
    'peer.separate.memory_sample_50_ms': { value: memory.separate, unit: 'ms (50 groups, one /proc scan each)' },
    'thread.replace_ms': { value: await threadReplace(false), unit: 'ms' },
    'thread.replace_warm_ms': { value: await threadReplace(true), unit: 'ms' },
    'process.kill_ms': { value: await processKill(), unit: 'ms' },
  }
}
