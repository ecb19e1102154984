// Runs one group of figures in a fresh process and prints them as JSON on stdout.
import type { Figures } from './figure.js'

const groups: Record<string, () => Promise<{ measure: () => Promise<Figures> }>> = {
  beat: () => import('./beat.js'),
  memory: () => import('./memory.js'),
  load: () => import('./load.js'),
  lateness: () => import('./lateness.js'),
  stream: () => import('./stream.js'),
  restart: () => import('./restart.js'),
  isolation: () => import('./isolation.js'),
  go: () => import('./go.js'),
  cli: () => import('./cli.js'),
  cluster: () => import('./cluster.js'),
  metrics: () => import('./metrics.js'),
  events: () => import('./events.js'),
}

const name = process.argv[2] ?? ''
const load = groups[name]
if (load === undefined) {
  process.stderr.write(`bench child: unknown group '${name}'; known: ${Object.keys(groups).join(', ')}\n`)
  process.exit(2)
}
const figures = await (await load()).measure()
process.stdout.write(`${JSON.stringify(figures)}\n`)
