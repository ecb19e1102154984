// Recipe: a pod's main process. The HTTP face answers the kubelet's probes (/healthz as the
// liveness probe, /readyz as the readiness probe) and stopOnSignals turns the SIGTERM the
// kubelet sends at deletion into a graceful stop of every ward (each within its stop deadline,
// children's process groups included), then exits 143. Keep the wards' stop deadlines well
// under the pod's terminationGracePeriodSeconds, after which the kubelet sends SIGKILL.
// Run: npm run build && PORT=9477 npx tsx examples/kubernetes.ts   (then: kill -TERM <pid>)
import { processWard, stopOnSignals, supervisor, type WardContext } from 'steward'
import { serveHttp } from 'steward/http'

const port = Number(process.env.PORT ?? 9477)
if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new RangeError(`PORT must be a port number (0 picks a free one), got ${process.env.PORT}`)

// An in-process ward and a child process (here a stand-in server: a Node process that waits).
const queue = (ctx: WardContext): Promise<never> => ctx.idle(new Promise<never>(() => {}))
const server = processWard(process.execPath, ['-e', 'setInterval(() => {}, 1000)'], {
  onSpawn: (child) => console.log(`child pid ${child.pid}`),
})
const run = supervisor({ name: 'pod' }, [
  { name: 'queue', ward: queue, timeout: '10s', stopTimeout: '5s' },
  { name: 'server', ward: server, timeout: '10s', stopTimeout: '10s' },
]).start()

// Loopback here; in a pod, the kubelet probes the pod's IP: bind '0.0.0.0' with a token then
// (the probes send it as an httpHeaders entry), or put the probes on a loopback-only sidecar.
const http = await serveHttp(run, { port })
console.log(`listening on ${http.url} (pid ${process.pid})`)
const code = await stopOnSignals(run, { exit: false })
await http.close()
console.log(`stopped; exit code ${code}`)
process.exit(code)
