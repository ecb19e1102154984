// A cluster node seen as a supervision tree, for the HTTP face (`serveHttp(node.tree)`): the node
// is the root (an `independent` supervisor named after the node), the wards it runs now are its
// children (each its steward's own status, its paths under `node/ward`), their events are its
// events, and `cluster` carries the node's cluster view and metrics for /status, /metrics and the
// dashboard.
import type { EventListener, StewardEvent, StewardEventType, Subscription } from '../observe/events.js'
import type { WardStatus } from '../observe/status.js'
import type { EventOf, Lifecycle, Outcome, StopReport } from '../steward/run-api.js'

/** What the HTTP face shows of a cluster node beside its tree: its view (in /status, as `cluster`) and its metrics text (in /metrics). */
export interface ClusterFace {
  /** The node's {@link ClusterStatus}-like view, JSON-serialisable. */
  status(): unknown
  /** The node's metrics in Prometheus' text format. */
  metrics(): string
}

/** A cluster node's supervision tree: a {@link Lifecycle} the HTTP face serves, with the node's cluster view. */
export interface NodeTree extends Lifecycle {
  /** The node's cluster view and metrics, which the HTTP face adds to /status, /metrics and the dashboard. */
  readonly cluster: ClusterFace
}

/** What the tree reads from its node. @internal */
export interface NodeTreeSource {
  readonly node: string
  /** Whether the node holds a current lease. */
  live(): boolean
  /** The runs of the wards the node runs now, by ward id. */
  runs(): Iterable<readonly [ward: string, status: () => unknown]>
  readonly face: ClusterFace
  stop(): Promise<void>
}

/** `path` of a ward's own tree moved under `node/ward` (its first segment is the ward's steward name). */
function moved(path: string, node: string, ward: string): string {
  const slash = path.indexOf('/')
  return `${node}/${ward}${slash === -1 ? '' : path.slice(slash)}`
}

function movedStatus(status: WardStatus, node: string, ward: string, top: boolean): WardStatus {
  return {
    ...status,
    ...(top ? { name: ward } : {}),
    path: moved(status.path, node, ward),
    ...(status.lastAbandoned === null ? {} : { lastAbandoned: { ...status.lastAbandoned, path: moved(status.lastAbandoned.path, node, ward) } }),
    children: status.children.map((child) => movedStatus(child, node, ward, false)),
  }
}

function isWardStatus(value: unknown): value is WardStatus {
  return typeof value === 'object' && value !== null && typeof (value as WardStatus).path === 'string' && Array.isArray((value as WardStatus).children)
}

/** Makes the tree of a node; `forward` is what the node calls with each event of a ward it runs. @internal */
export function nodeTree(source: NodeTreeSource): { tree: NodeTree; forward: (ward: string, event: StewardEvent) => void; ended: () => void } {
  const listeners = new Set<EventListener>()
  let settle: (outcome: Outcome) => void = () => {}
  const done = new Promise<Outcome>((resolve) => (settle = resolve))
  let stopped = false
  const subscribe = (listener: EventListener): Subscription => {
    listeners.add(listener)
    const dispose = (): void => void listeners.delete(listener)
    return { dispose, [Symbol.dispose]: dispose }
  }
  const status = (): WardStatus => {
    const children: WardStatus[] = []
    for (const [ward, read] of source.runs()) {
      const child = read()
      if (isWardStatus(child)) children.push(movedStatus(child, source.node, ward, true))
    }
    const live = source.live()
    return {
      name: source.node,
      path: source.node,
      kind: 'supervisor',
      strategy: 'independent',
      state: stopped ? 'stopped' : live ? 'working' : 'starting',
      attempt: 1,
      restarts: 0,
      restartReasons: [],
      up: live && children.every((child) => child.up),
      lastBeatAgo: null,
      progress: undefined,
      failuresHere: 0,
      lastFailure: null,
      probeFailure: null,
      pid: null,
      threadId: null,
      uptime: null,
      rss: null,
      cpu: null,
      fds: null,
      startTime: null,
      abandoned: children.reduce((sum, child) => sum + child.abandoned, 0),
      lastAbandoned: null,
      children,
    }
  }
  const stop = async (): Promise<StopReport> => {
    await source.stop()
    return { unstopped: [], killed: [] }
  }
  function on(listener: EventListener): Subscription
  function on<K extends StewardEventType>(type: K, listener: (event: EventOf<K>) => void): Subscription
  function on(typeOrListener: StewardEventType | EventListener, listener?: (event: never) => void): Subscription {
    if (typeof typeOrListener === 'function') return subscribe(typeOrListener)
    return subscribe((event) => {
      if (event.type === typeOrListener) (listener as (event: StewardEvent) => void)(event)
    })
  }
  const tree: NodeTree = {
    name: source.node,
    done,
    on,
    once<K extends StewardEventType>(type: K, options: { readonly signal?: AbortSignal } = {}): Promise<EventOf<K>> {
      return new Promise<EventOf<K>>((resolve, reject) => {
        const { signal } = options
        let settled = false
        const cleanup = (): void => {
          settled = true
          subscription.dispose()
          signal?.removeEventListener('abort', onAbort)
        }
        const onAbort = (): void => {
          cleanup()
          reject(signal!.reason as Error)
        }
        const subscription = on(type, (event) => {
          cleanup()
          resolve(event)
        })
        if (signal?.aborted === true) return onAbort()
        signal?.addEventListener('abort', onAbort, { once: true })
        void done.then((outcome) => {
          if (settled) return
          cleanup()
          reject(new Error(`the node stopped before a '${type}' event`, { cause: outcome }))
        })
      })
    },
    status,
    stop,
    cluster: source.face,
    [Symbol.asyncDispose]: async () => void (await stop()),
  }
  return {
    tree,
    forward: (ward, event) => {
      if (listeners.size === 0) return
      const top = !event.path.includes('/')
      const out = { ...event, path: moved(event.path, source.node, ward), ...(top ? { ward } : {}) } as StewardEvent
      for (const listener of listeners) listener(out)
    },
    ended: () => {
      stopped = true
      settle({ kind: 'stopped', reason: undefined, unstopped: [], attempts: 1, restarts: 0 })
    },
  }
}
