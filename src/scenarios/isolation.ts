// Demos of isolation (real time only): a thread ward frozen in a CPU loop, and a process ward
// whose child stops beating. Both are healed and their output continues.
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { StewardEvent } from '../observe/events.js'
import { processWard } from '../isolation/process-ward.js'
import { threadWard } from '../isolation/thread-ward.js'
import { steward } from '../steward/steward.js'
import type { Scenario, ScenarioIO } from './timeline.js'

/** A worker or child module, as built (the demos run it without a TypeScript loader). */
function built(name: string): URL {
  const beside = new URL(`./workers/${name}.js`, import.meta.url)
  return existsSync(fileURLToPath(beside)) ? beside : new URL(`../../dist/scenarios/workers/${name}.js`, import.meta.url)
}

function narrate(io: ScenarioIO): (event: StewardEvent) => void {
  return (event) => {
    if (event.type === 'hung') io.log('steward', `steward: ${event.ward} unhealthy (no heartbeat for ${event.timeout} ms)`)
    if (event.type === 'failed') io.log('steward', `steward: ${event.ward} failed: ${event.error.message}`)
    io.onEvent(event)
  }
}

export const cpuHang: Scenario = {
  id: 'cpu-hang',
  title: 'a thread ward frozen in a CPU loop is terminated and replaced; its output goes on (timeout 1s)',
  ward: 'cruncher',
  realTimeOnly: true,
  async run(io) {
    const { clock, signal, write } = io
    const ward = threadWard(built('cpu-hang'), { stream: true, terminateAfter: 200 })
    // A worker's first beat may take a while on a busy machine (it loads its module): a slow start
    // is not the hang this demo shows, which comes after its third value.
    const run = steward(ward, { name: 'cruncher', timeout: 1_000, startTimeout: 30_000 }).start({ clock, signal, onEvent: narrate(io) })
    for await (const value of run) write({ type: 'output', value })
    await run.done
  },
}

export const processHang: Scenario = {
  id: 'process',
  title: 'a child process that stops beating is killed and replaced; it resumes where it got to (timeout 1s)',
  ward: 'child',
  realTimeOnly: true,
  async run(io) {
    const { clock, signal } = io
    const onEvent = narrate(io)
    const ward = processWard(process.execPath, [fileURLToPath(built('hanging-child'))], { heartbeat: 'ipc', killAfter: 500 })
    // As above: a Node child slow to start on a busy machine is not the hang shown.
    const run = steward(ward, { name: 'child', timeout: 1_000, startTimeout: 30_000 }).start({
      clock,
      signal,
      onEvent: (event) => {
        onEvent(event)
        if (event.type === 'started') io.log('steward', `steward: child started (attempt ${event.attempt}, resume ${JSON.stringify(event.resume) ?? 'none'})`)
      },
    })
    await run.done
    io.log('main', `main: the child finished at progress ${JSON.stringify(run.status().progress)}`)
  },
}
