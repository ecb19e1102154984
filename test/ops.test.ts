// What ops/ ships for operators: the Prometheus alerting rules (checked and unit-tested by
// promtool, which scripts/test-deps.sh installs) and the Grafana dashboard (its JSON model checked,
// its queries parsed by promtool). Every metric a rule or a panel names is one /metrics exports:
// compared with the exposition of a real tree with an in-process and a process ward.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { processWard, supervisor, type WardContext } from '../src/index.js'
import { stewardMetrics } from '../src/observe/metrics.js'

const root = fileURLToPath(new URL('..', import.meta.url))
const rulesDir = join(root, 'ops', 'prometheus')
const rulesFile = join(rulesDir, 'steward-rules.yml')
const dashboardFile = join(root, 'ops', 'grafana', 'steward.json')

function promtool(args: string[], cwd: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', args, { cwd, encoding: 'utf8' })
  assert.equal(run.error, undefined, 'promtool runs (scripts/test-deps.sh installs it)')
  return { status: run.status, output: `${run.stdout}${run.stderr}` }
}

/** The metric names a PromQL expression uses (steward's and the standard process_ ones). */
function metricNames(expr: string): string[] {
  return [...expr.matchAll(/\b(?:steward|process)_[a-z_]+\b/g)].map((m) => m[0])
}

/** The `expr:` of each rule in the rules file (one line, or a folded `>-` block). */
function ruleExprs(): string[] {
  const lines = readFileSync(rulesFile, 'utf8').split('\n')
  const exprs: string[] = []
  for (let i = 0; i < lines.length; i++) {
    const match = /^(\s*)expr: (.*)$/.exec(lines[i]!)
    if (match === null) continue
    if (match[2] !== '>-') {
      exprs.push(match[2]!)
      continue
    }
    const block: string[] = []
    while (i + 1 < lines.length && lines[i + 1]!.startsWith(`${match[1]}  `)) block.push(lines[++i]!.trim())
    exprs.push(block.join(' '))
  }
  return exprs
}

interface Target {
  readonly refId: string
  readonly expr: string
  readonly legendFormat?: string
}
interface Panel {
  readonly id: number
  readonly type: string
  readonly title: string
  readonly gridPos: { x: number; y: number; w: number; h: number }
  readonly datasource: { type: string; uid: string }
  readonly targets: readonly Target[]
}
interface Dashboard {
  readonly title: string
  readonly uid: string
  readonly schemaVersion: number
  readonly panels: readonly Panel[]
  readonly templating: { list: Array<{ name: string; type: string; query: string | { query: string } }> }
}

/** The metric names with at least one sample in the exposition of a tree with a working in-process ward and a process ward. */
async function exportedNames(): Promise<Set<string>> {
  const run = supervisor({ name: 'shop' }, [
    {
      name: 'worker',
      // Working and beating (a last-beat age), with the deadlines that give it stall and idle-timeout series.
      progressTimeout: '1m',
      idleTimeout: '1h',
      ward: async (ctx: WardContext) => {
        for (let i = 0; !ctx.signal.aborted; i++) {
          ctx.beat(i)
          await new Promise((resolve) => setTimeout(resolve, 20))
        }
      },
    },
    { name: 'sleeper', ward: processWard('sleep', ['60'], { heartbeat: 'none' }) },
  ]).start()
  const metrics = stewardMetrics(run)
  try {
    const deadline = Date.now() + 20_000
    while (run.status().children[1]?.fds == null) {
      assert.ok(Date.now() < deadline, 'the process ward has its figures within 20 s')
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    const names = new Set<string>()
    for (const line of metrics.render().split('\n')) if (line !== '' && !line.startsWith('#')) names.add(/^[a-z_:]+/.exec(line)![0])
    return names
  } finally {
    metrics.dispose()
    await run.stop()
  }
}

test('the alerting rules pass promtool check rules and their unit tests (promtool test rules)', { timeout: 60_000 }, () => {
  const checked = promtool(['check', 'rules', 'steward-rules.yml'], rulesDir)
  assert.equal(checked.status, 0, checked.output)
  assert.match(checked.output, /SUCCESS: 4 rules found/)
  const tested = promtool(['test', 'rules', 'steward-rules.test.yml'], rulesDir)
  assert.equal(tested.status, 0, tested.output)
  assert.match(tested.output, /SUCCESS/)
  const alerts = [...readFileSync(rulesFile, 'utf8').matchAll(/- alert: (\w+)/g)].map((m) => m[1])
  assert.deepEqual(alerts, ['StewardWardRestarting', 'StewardWardGaveUp', 'StewardWardHanging', 'StewardStackNotReady'])
  // Each alert has a unit test.
  const tests = readFileSync(join(rulesDir, 'steward-rules.test.yml'), 'utf8')
  for (const alert of alerts) assert.match(tests, new RegExp(`alertname: ${alert}\\b`), `a test of ${alert}`)
})

test('the Grafana dashboard is a valid model whose queries parse', { timeout: 60_000 }, () => {
  const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as Dashboard
  assert.equal(typeof dashboard.title, 'string')
  assert.match(dashboard.uid, /^[\w-]{1,40}$/)
  assert.ok(Number.isInteger(dashboard.schemaVersion) && dashboard.schemaVersion >= 36)
  const variables = new Set(dashboard.templating.list.map((v) => v.name))
  assert.ok(variables.has('datasource') && dashboard.templating.list.find((v) => v.name === 'datasource')!.query === 'prometheus')
  const ids = new Set<number>()
  const exprs: string[] = []
  for (const panel of dashboard.panels) {
    assert.ok(!ids.has(panel.id), `panel id ${panel.id} is unique`)
    ids.add(panel.id)
    assert.ok(['stat', 'timeseries', 'table'].includes(panel.type), `${panel.title}: a known panel type`)
    const { x, y, w, h } = panel.gridPos
    assert.ok(x >= 0 && w > 0 && x + w <= 24 && y >= 0 && h > 0, `${panel.title}: inside the 24-column grid`)
    assert.deepEqual(panel.datasource, { type: 'prometheus', uid: '${datasource}' })
    assert.ok(panel.targets.length > 0, `${panel.title}: has a query`)
    assert.equal(new Set(panel.targets.map((t) => t.refId)).size, panel.targets.length, `${panel.title}: unique refIds`)
    for (const target of panel.targets) {
      for (const [, name] of target.expr.matchAll(/\$(\w+)/g)) {
        assert.ok(variables.has(name!) || name!.startsWith('__'), `${panel.title}: $${name} is a dashboard variable`)
      }
      exprs.push(target.expr)
    }
  }
  // Every query parses: as the expressions of a rules file, with the variables given values.
  const dir = mkdtempSync(join(tmpdir(), 'steward-grafana-'))
  try {
    const substituted = exprs.map((expr) => expr.replaceAll('$__rate_interval', '1m').replaceAll('$job', '.*').replaceAll('$instance', '.*'))
    const rules = ['groups:', '  - name: dashboard', '    rules:', ...substituted.flatMap((expr, i) => [`      - record: dashboard:query${i}`, `        expr: ${JSON.stringify(expr)}`]), '']
    writeFileSync(join(dir, 'queries.yml'), rules.join('\n'))
    const checked = promtool(['check', 'rules', 'queries.yml'], dir)
    assert.equal(checked.status, 0, checked.output)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('every metric the rules and the dashboard name is one /metrics exports, and the dashboard shows every one', { timeout: 60_000 }, async () => {
  const exported = await exportedNames()
  const dashboard = JSON.parse(readFileSync(dashboardFile, 'utf8')) as Dashboard
  const queries = [
    ...dashboard.panels.flatMap((panel) => panel.targets.map((target) => ({ where: `panel '${panel.title}'`, expr: target.expr }))),
    ...dashboard.templating.list.filter((v) => typeof v.query === 'object').map((v) => ({ where: `variable $${v.name}`, expr: (v.query as { query: string }).query })),
    ...ruleExprs().map((expr) => ({ where: 'steward-rules.yml', expr })),
  ]
  assert.equal(ruleExprs().length, 4)
  const used = new Set<string>()
  for (const { where, expr } of queries) {
    const names = metricNames(expr)
    assert.ok(names.length > 0, `${where}: ${expr} names a metric`)
    for (const name of names) {
      assert.ok(exported.has(name), `${where}: ${name} is not exported (exported: ${[...exported].join(', ')})`)
      used.add(name.replace(/_bucket$/, ''))
    }
  }
  const families = new Set([...exported].map((name) => name.replace(/_(bucket|sum|count)$/, '')))
  const unshown = [...families].filter((name) => !used.has(name))
  assert.deepEqual(unshown, [], 'every exported metric is on the dashboard or in a rule')
})
