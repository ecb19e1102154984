import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { renderClusterMetrics } from './exposition.js'

test('a cluster node\'s metrics in the exposition format: names, labels, HELP and TYPE; promtool accepts them', () => {
  const text = renderClusterMetrics({ 'cluster.wards_held': 3, 'cluster.claims_total': 7, 'cluster.live': 1 }, { namespace: 'feeds "eu"', node: 'a' })
  assert.equal(
    text,
    [
      '# HELP steward_cluster_wards_held Wards this node holds the lease of.',
      '# TYPE steward_cluster_wards_held gauge',
      'steward_cluster_wards_held{namespace="feeds \\"eu\\"",node="a"} 3',
      '# HELP steward_cluster_claims_total Wards this node claimed.',
      '# TYPE steward_cluster_claims_total counter',
      'steward_cluster_claims_total{namespace="feeds \\"eu\\"",node="a"} 7',
      '# HELP steward_cluster_live 1 while this node holds a current lease, else 0.',
      '# TYPE steward_cluster_live gauge',
      'steward_cluster_live{namespace="feeds \\"eu\\"",node="a"} 1',
      '',
    ].join('\n'),
  )
  const checked = spawnSync('promtool', ['check', 'metrics'], { input: text, encoding: 'utf8' })
  assert.equal(checked.error, undefined, 'promtool runs (scripts/test-deps.sh installs it)')
  assert.equal(checked.status, 0, `promtool check metrics:\n${checked.stdout}${checked.stderr}`)
})
