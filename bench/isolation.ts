// thread.replace_ms (and _warm_ms, with a warm spare): from a thread ward's missed deadline to
// its replacement running (the replacement's first output reaching the consumer). process.kill_ms: from a process ward's
// missed deadline to its child's exit (the next incarnation's start, which waits for it).
import { fileURLToPath } from 'node:url'
import { processWard, steward, threadWard, type StewardEvent } from '../dist/index.js'
import { median, quick, type Figures } from './figure.js'

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

export async function measure(): Promise<Figures> {
  return {
    'thread.replace_ms': { value: await threadReplace(false), unit: 'ms' },
    'thread.replace_warm_ms': { value: await threadReplace(true), unit: 'ms' },
    'process.kill_ms': { value: await processKill(), unit: 'ms' },
  }
}
