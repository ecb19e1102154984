import type { ClusterMetrics } from './cluster.js'

/** What each of a node's metrics means, and its Prometheus type. */
const described: Record<string, { readonly help: string; readonly type: 'gauge' | 'counter' }> = {
  'cluster.wards_held': { help: 'Wards this node holds the lease of.', type: 'gauge' },
  'cluster.members': { help: 'Live members of the namespace as this node sees them.', type: 'gauge' },
  'cluster.wards_done': { help: 'Wards of the namespace whose run completed (not run again until restarted).', type: 'gauge' },
  'cluster.wards_failed': { help: 'Wards of the namespace that gave up (not run again until restarted).', type: 'gauge' },
  'cluster.live': { help: '1 while this node holds a current lease, else 0.', type: 'gauge' },
  'cluster.renews_total': { help: 'Lease renewals (one Redis round trip each, whatever the number of wards).', type: 'counter' },
  'cluster.claims_total': { help: 'Wards this node claimed.', type: 'counter' },
  'cluster.failovers_total': { help: 'Wards this node took over from a dead owner (its lease expired).', type: 'counter' },
  'cluster.handovers_total': { help: 'Wards this node handed over (stopped, checkpointed, released).', type: 'counter' },
  'cluster.leases_lost_total': { help: 'Times this node lost its lease and stopped its wards.', type: 'counter' },
  'cluster.stale_writes_total': { help: 'Writes refused because their fencing token was no longer current.', type: 'counter' },
  'cluster.checkpoints_total': { help: 'Fenced checkpoints written.', type: 'counter' },
  'cluster.dead_letters_total': { help: 'Dead letters written to the namespace stream.', type: 'counter' },
  'cluster.commits_total': { help: 'Commits applied: an effect and its checkpoint in one fenced script (lease.commit).', type: 'counter' },
  'cluster.stop_overruns_total': { help: 'Ward stops that took longer than wardStop (the single-runner guarantee assumes none).', type: 'counter' },
  'cluster.redis_calls_total': { help: 'Redis calls this node made.', type: 'counter' },
}

/**
 * A cluster node's {@link ClusterMetrics} in the Prometheus text exposition format, each metric
 * `steward_` + its name with `_` for `.` (`steward_cluster_claims_total`), labelled with the
 * namespace and the node, with `# HELP` and `# TYPE`. Serve it beside `steward/metrics`'
 * exposition of the node's wards.
 *
 * @example
 * const text = renderClusterMetrics({ 'cluster.wards_held': 3 }, { namespace: 'feeds', node: 'a' })
 */
export function renderClusterMetrics(metrics: ClusterMetrics, labels: { readonly namespace: string; readonly node: string }): string {
  const label = `{namespace="${escape(labels.namespace)}",node="${escape(labels.node)}"}`
  let text = ''
  for (const [key, value] of Object.entries(metrics)) {
    const name = `steward_${key.replace(/[^a-zA-Z0-9_]/g, '_')}`
    const about = described[key]
    text += `# HELP ${name} ${about?.help ?? key}\n# TYPE ${name} ${about?.type ?? 'gauge'}\n${name}${label} ${Number.isFinite(value) ? value : 'NaN'}\n`
  }
  return text
}

function escape(value: string): string {
  return value.replace(/[\\"\n]/g, (char) => (char === '\n' ? '\\n' : `\\${char}`))
}
