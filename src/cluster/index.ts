// The public API of steward/cluster (a subpath export; ioredis is an optional peer dependency).
export { cluster, StaleLeaseError, CommitReorderedError, ClusterStartError, ClusterOptionError } from './cluster.js'
export type { ClusterOptions, ClusterNode, ClusterEvent, ClusterStatus, ClusterMetrics, HeldWardStatus, FinishedWardStatus, WardLease, CommitOutcome, Startable, StartedWard } from './cluster.js'
export type { CoreEvent } from './node-core.js'
export type { NodeTree, ClusterFace } from './node-tree.js'
export type { Member } from './store.js'
export { score, assign } from './assign.js'
export { renderClusterMetrics } from './exposition.js'
export { PROTOCOL_VERSION } from './redis-store.js'
