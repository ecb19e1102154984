// Operating a stack from the dashboard, end to end: the built CLI's `steward up` with three
// process-ward apps and `--http … --http-token …`, the page in a real headless Chromium (Debian's
// chromium, driven by playwright-core with executablePath; no browser is downloaded). The page asks
// for the token once; each app shows its pid, uptime, memory and CPU; the selected app's log lines
// come live; Restart on one app changes its pid (read from /status outside the page) and no other;
// Stop and Start work; a wrong token is refused and the page says why; no console errors, no 404s.
// Screenshots go to artifacts/.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { request } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Browser, type Page } from 'playwright-core'
import { startCli } from '../src/testing/cli.js'
import { freePort } from '../src/testing/net.js'
import { cleanup } from '../src/testing/process-tree.js'

const executablePath = process.env.STEWARD_CHROMIUM ?? '/usr/bin/chromium'
const artifacts = new URL('../artifacts/', import.meta.url)
const TOKEN = 'open-sesame'
const APPS = ['web', 'worker', 'mailer'] as const

interface App {
  readonly name: string
  readonly state: string
  readonly up: boolean
  readonly pid: number | null
}

function getStatus(port: number): Promise<{ children: App[] }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/status', headers: { authorization: `Bearer ${TOKEN}` } }, (res) => {
      let body = ''
      res.setEncoding('utf8').on('data', (chunk: string) => (body += chunk))
      res.on('end', () => (res.statusCode === 200 ? resolve(JSON.parse(body) as { children: App[] }) : reject(new Error(`/status: ${res.statusCode} ${body}`))))
    })
    req.once('error', reject)
    req.setTimeout(5_000, () => req.destroy(new Error('/status: no answer within 5 s')))
    req.end()
  })
}

/** Polls `check` (every 50 ms) until it returns a value; fails after `within` ms naming `what` and the last value seen. */
async function until<T>(what: string, check: () => Promise<T | undefined>, within = 15_000): Promise<T> {
  const deadline = performance.now() + within
  let last: unknown
  for (;;) {
    try {
      const value = await check()
      if (value !== undefined) return value
    } catch (error) {
      last = error
    }
    if (performance.now() > deadline) throw new Error(`no ${what} within ${within} ms${last === undefined ? '' : ` (last: ${last instanceof Error ? last.message : JSON.stringify(last)})`}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

async function pids(port: number): Promise<Record<string, number | null>> {
  const status = await getStatus(port)
  return Object.fromEntries(status.children.map((app) => [app.name, app.pid]))
}

function row(page: Page, app: string) {
  return page.locator(`#tree [data-path="stack/${app}"] > .row`)
}

/** Waits until the text of `selector` is `expected` (the page has no DOM types here: the check is a string). */
async function textIs(page: Page, selector: string, expected: string, timeout = 10_000): Promise<void> {
  await page.waitForFunction(`document.querySelector(${JSON.stringify(selector)})?.textContent === ${JSON.stringify(expected)}`, undefined, { timeout })
}

/** Waits until the last log line shown ends with `end`. */
async function lastLogEndsWith(page: Page, end: string): Promise<void> {
  await page.waitForFunction(`document.querySelector('#logs li:last-child .text')?.textContent?.endsWith(${JSON.stringify(end)}) === true`, undefined, { timeout: 10_000 })
}

async function shown(page: Page, app: string, figure: string): Promise<string> {
  return (await row(page, app).locator(`dd.${figure}`).textContent()) ?? ''
}

test('the dashboard operates a steward up stack: figures per app, live logs, restart/stop/start with the token asked once, a refusal explained', { timeout: 120_000 }, async (t) => {
  mkdirSync(artifacts, { recursive: true })
  const dir = mkdtempSync(join(tmpdir(), '.sd-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const worker = join(dir, 'app.mjs')
  // Each app prints a line every 100 ms (its heartbeat) with its name and pid, and takes a moment to
  // leave on SIGTERM, so a retirement can be seen.
  // web also answers /health: 200, or 503 while the file `sick` exists (its probe then fails).
  const sick = join(dir, 'sick')
  writeFileSync(
    worker,
    [
      `import { createServer } from 'node:http'`,
      `import { existsSync } from 'node:fs'`,
      `let n = 0`,
      `process.on('SIGTERM', () => { console.log('leaving'); setTimeout(() => process.exit(0), 300) })`,
      // A restarted incarnation (attempt 2 on) is slow to be up: 3 s before its first line.
      `setTimeout(() => setInterval(() => console.log(\`tick \${++n} \${process.env.APP} \${process.pid}\`), 100), process.env.STEWARD_ATTEMPT === '1' ? 0 : 3000)`,
      `if (process.env.PORT) createServer((req, res) => { res.statusCode = existsSync(${JSON.stringify(sick)}) ? 503 : 200; res.end() }).listen(Number(process.env.PORT), '127.0.0.1')`,
      '',
    ].join('\n'),
  )
  const webPort = await freePort()
  writeFileSync(
    join(dir, 'steward.config.json'),
    JSON.stringify({
      name: 'stack',
      children: APPS.map((name) => ({
        name,
        command: process.execPath,
        args: [worker],
        heartbeat: name === 'web' ? { http: `http://127.0.0.1:${webPort}/health`, every: '200ms' } : 'stdout',
        startTimeout: '20s',
        timeout: '10s',
        env: name === 'web' ? { APP: name, PORT: String(webPort) } : { APP: name },
      })),
    }),
  )
  const port = await freePort()
  const cli = startCli(['up', '--json', '--http', `127.0.0.1:${port}`, '--http-token', TOKEN], { cwd: dir, env: { ...process.env, NO_COLOR: '1', XDG_RUNTIME_DIR: dir } })
  t.after(() => cli.kill())
  const children = cleanup(t)
  const running = (): Promise<Record<string, number>> =>
    until('three apps up with pids', async () => {
      if (cli.process.exitCode !== null) assert.fail(`steward up ended: ${cli.lines.map((line) => line.text).join('\n')}`)
      const status = await getStatus(port)
      if (!status.children.every((app) => app.up && app.pid !== null)) return undefined
      const found = Object.fromEntries(status.children.map((app) => [app.name, app.pid!]))
      children.add(...Object.values(found))
      return found
    })
  const before = await running()

  let browser: Browser | undefined
  try {
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] })
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } })
    // Every console error and every answer ≥ 400, with the step it happened in.
    let step = 'load'
    const problems: string[] = []
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`${step}: console: ${message.text()}`)
    })
    page.on('pageerror', (error) => problems.push(`${step}: page error: ${error.message}`))
    page.on('response', (response) => {
      if (response.status() >= 400) problems.push(`${step}: ${response.status()} ${new URL(response.url()).pathname}`)
    })
    await page.goto(`http://127.0.0.1:${port}/`)

    // The server needs a token: the page asks before its first request (no 401 on /events).
    await page.locator('#token-dialog[open]').waitFor({ timeout: 10_000 })
    await page.fill('#token-input', TOKEN)
    await page.click('#token-form button[type="submit"]')
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: 10_000 })
    // Kept in the page's memory only: nothing in the address, storage or cookies.
    assert.equal(new URL(page.url()).hash, '')
    assert.deepEqual(await page.evaluate(`[localStorage.length, sessionStorage.length, document.cookie]`), [0, 0, ''])

    // Per app: the pid /status has, an uptime, memory, CPU; the words of the state.
    for (const app of APPS) {
      await textIs(page, `#tree [data-path="stack/${app}"] > .row dd.pid`, String(before[app]))
      assert.match(await shown(page, app, 'uptime'), /^\d+ s$/, `${app} uptime`)
      assert.match(await shown(page, app, 'rss'), /^\d+(\.\d)? (KiB|MiB)$/, `${app} memory`)
      assert.match(await shown(page, app, 'cpu'), /^\d+\.\d\d s$/, `${app} CPU`)
      assert.equal(await page.locator(`#tree [data-path="stack/${app}"]`).getAttribute('data-state'), 'working')
      assert.equal(await row(page, app).locator('button', { hasText: 'Restart' }).getAttribute('aria-label'), `Restart ${app}`)
    }
    // web's probe, and why it fails while it does (no class name, no restart: its timeout is long).
    const probeText = `http GET http://127.0.0.1:${webPort}/health every 200 ms`
    await textIs(page, '#tree [data-path="stack/web"] > .row .probe', `probe: ${probeText}`)
    writeFileSync(sick, '')
    await page.locator('#tree [data-path="stack/web"] > .row .probe[data-failing="true"]').waitFor({ timeout: 10_000 })
    assert.match((await row(page, 'web').locator('.probe').textContent()) ?? '', new RegExp(`^probe failing \\(\\d+ in a row\\): http GET http://127\\.0\\.0\\.1:${webPort}/health: 503 Service Unavailable$`))
    await page.screenshot({ path: new URL('dashboard-probe-failing.png', artifacts).pathname })
    rmSync(sick)
    await textIs(page, '#tree [data-path="stack/web"] > .row .probe', `probe: ${probeText}`)
    assert.equal((await pids(port)).web, before.web, 'the probe failed for less than its timeout: no restart')

    // The uptime counts on between snapshots.
    const uptime = await shown(page, 'web', 'uptime')
    await page.waitForFunction(`document.querySelector('#tree [data-path="stack/web"] > .row dd.uptime')?.textContent !== ${JSON.stringify(uptime)}`, undefined, { timeout: 5_000 })

    // Logs: the first app is selected; its lines come live, and only its own.
    await page.locator('#logs li', { hasText: `tick` }).first().waitFor({ timeout: 10_000 })
    assert.match((await page.locator('#logs-app').textContent()) ?? '', /stack\/web/)
    await page.waitForFunction(`[...document.querySelectorAll('#logs li .text')].filter((l) => l.textContent.startsWith('tick ')).length >= 3`, undefined, { timeout: 10_000 })
    const webLines = await page.locator('#logs li .text').allTextContents()
    assert.ok(webLines.every((line) => line.includes(` web ${before.web}`)), `lines of web only: ${webLines.slice(0, 5).join(' | ')}`)
    await row(page, 'worker').getByRole('button', { name: 'Logs of worker', exact: true }).click()
    assert.equal(await row(page, 'worker').getByRole('button', { name: 'Logs of worker', exact: true }).getAttribute('aria-pressed'), 'true')
    await lastLogEndsWith(page, ` worker ${before.worker}`)
    const count = await page.locator('#logs li').count()
    await page.waitForFunction(`document.querySelectorAll('#logs li').length > ${count}`, undefined, { timeout: 10_000 })

    // What the worker's and the mailer's rows show, every time their state or pid changes.
    await page.evaluate(`(() => {
      window.seen = {}
      for (const app of ['worker', 'mailer']) {
        const li = document.querySelector('#tree [data-path="stack/' + app + '"]')
        const seen = (window.seen[app] = [])
        const note = () => {
          const now = { state: li.dataset.state, pid: li.querySelector(':scope > .row dd.pid').textContent, uptimeShown: li.querySelector(':scope > .row dd.uptime').textContent !== '–' }
          const last = seen.at(-1)
          if (last === undefined || last.state !== now.state || last.pid !== now.pid || last.uptimeShown !== now.uptimeShown) seen.push(now)
        }
        note()
        new MutationObserver(note).observe(li, { attributes: true, attributeFilter: ['data-state'], subtree: true, childList: true, characterData: true })
      }
    })()`)

    // Restart the worker: the token is not asked again; its pid changes, the others' do not.
    step = 'restart'
    await row(page, 'worker').getByRole('button', { name: 'Restart worker', exact: true }).click()
    assert.equal(await page.locator('#token-dialog').getAttribute('open'), null, 'the token is asked once')
    const afterRestart = await until('a new pid for worker in /status', async () => {
      const now = await pids(port)
      return now.worker !== before.worker && now.worker !== null ? now : undefined
    })
    children.add(afterRestart.worker!)
    assert.equal(afterRestart.web, before.web)
    assert.equal(afterRestart.mailer, before.mailer)
    // Before its first line the new worker is not up: once a status with its uptime reached the
    // page, the page says "starting", not "working" (read the page first: up never goes back).
    await page.waitForFunction(
      `document.querySelector('#tree [data-path="stack/worker"] > .row dd.pid')?.textContent === ${JSON.stringify(String(afterRestart.worker))} && document.querySelector('#tree [data-path="stack/worker"] > .row dd.uptime')?.textContent !== '–'`,
      undefined,
      { timeout: 10_000 },
    )
    const early = await page.locator('#tree [data-path="stack/worker"]').getAttribute('data-state')
    const upYet = (await getStatus(port)).children.find((a) => a.name === 'worker')!.up
    if (upYet) t.diagnostic('the restarted worker was up before the page was read: the "starting" check was inconclusive')
    else assert.equal(early, 'starting', 'a new incarnation not up yet')
    await textIs(page, '#tree [data-path="stack/worker"] > .row dd.pid', String(afterRestart.worker))
    await page.locator('#tree [data-path="stack/worker"][data-state="working"]').waitFor({ timeout: 10_000 })
    assert.match((await row(page, 'worker').locator('.outcome').textContent()) ?? '', /^restart: done/)
    assert.equal(await shown(page, 'web', 'pid'), String(before.web))
    assert.equal(await shown(page, 'mailer', 'pid'), String(before.mailer))
    // Truthful while it retired: after the restart began, never "working" until the new pid showed.
    const seen = await page.evaluate<{ state: string; pid: string; uptimeShown: boolean }[]>('window.seen.worker')
    t.diagnostic(`the worker row through its restart: ${JSON.stringify(seen)}`)
    const began = seen.findIndex((s) => s.state === 'restarting')
    assert.ok(began > 0, `the worker was shown restarting: ${JSON.stringify(seen)}`)
    const settled = seen.findIndex((s, i) => i > began && s.pid === String(afterRestart.worker) && s.state === 'working')
    assert.ok(settled > began, `the worker was shown working with its new pid: ${JSON.stringify(seen)}`)
    // Restarting while the old process leaves, then starting until the new one's first line, then working.
    assert.deepEqual(
      seen
        .slice(began)
        .map((s) => s.state)
        .filter((state, i, all) => state !== all[i - 1]),
      ['restarting', 'starting', 'working'],
      JSON.stringify(seen),
    )
    // The new pid shows as soon as the child is spawned (its spawned event), before a status brings its uptime.
    assert.ok(
      seen.some((s) => s.pid === String(afterRestart.worker) && !s.uptimeShown),
      `the new pid before the next status: ${JSON.stringify(seen)}`,
    )
    // Once the new incarnation started, the old process's pid is not shown as its.
    for (const s of seen.slice(began, settled)) assert.ok(s.state !== 'starting' || s.pid !== String(before.worker), `the old pid shown for the new start: ${JSON.stringify(seen)}`)
    // The timeline has its restart and its new start; the logs follow the new process.
    await page.locator('#timeline li[data-type="restarting"][data-path="stack/worker"]').first().waitFor({ timeout: 10_000 })
    assert.match((await page.locator('#timeline li[data-type="restarting"][data-path="stack/worker"]').first().textContent()) ?? '', /reason manual/)
    await page.locator('#timeline li[data-type="started"][data-path="stack/worker"]', { hasText: 'attempt 2' }).waitFor({ timeout: 10_000 })
    await lastLogEndsWith(page, ` worker ${afterRestart.worker}`)
    assert.equal(await page.locator('#logs li .text', { hasText: 'leaving' }).count(), 1, 'the old worker said it was leaving')
    await page.screenshot({ path: new URL('dashboard-operate.png', artifacts).pathname })

    // Stop, then start, the mailer.
    step = 'stop'
    await row(page, 'mailer').getByRole('button', { name: 'Stop mailer', exact: true }).click()
    await until('mailer stopped in /status', async () => ((await getStatus(port)).children.find((a) => a.name === 'mailer')?.state === 'stopped' ? true : undefined))
    await page.locator('#tree [data-path="stack/mailer"][data-state="stopped"]').waitFor({ timeout: 10_000 })
    assert.equal(await row(page, 'mailer').locator('.state').textContent(), 'stopped')
    await textIs(page, '#tree [data-path="stack/mailer"] > .row dd.pid', '–')
    await page.locator('#timeline li[data-type="stopped"][data-path="stack/mailer"]').waitFor({ timeout: 10_000 })
    await page.screenshot({ path: new URL('dashboard-stopped.png', artifacts).pathname })
    // While its process left (300 ms after SIGTERM) the row said "stopping": not working, not restarting.
    const mailerSeen = await page.evaluate<{ state: string; pid: string; uptimeShown: boolean }[]>('window.seen.mailer')
    t.diagnostic(`the mailer row through its stop: ${JSON.stringify(mailerSeen)}`)
    assert.deepEqual(
      mailerSeen.map((s) => s.state).filter((state, i, all) => state !== all[i - 1]),
      ['working', 'stopping', 'stopped'],
      JSON.stringify(mailerSeen),
    )
    step = 'start'
    await row(page, 'mailer').getByRole('button', { name: 'Start mailer', exact: true }).click()
    const afterStart = await until('mailer running again', async () => {
      const now = await pids(port)
      return now.mailer !== null && now.mailer !== before.mailer ? now : undefined
    })
    children.add(afterStart.mailer!)
    assert.equal(afterStart.web, before.web)
    await textIs(page, '#tree [data-path="stack/mailer"] > .row dd.pid', String(afterStart.mailer))

    // A wrong token: the action is refused, the page says why, nothing changes.
    step = 'forget'
    await page.getByRole('button', { name: 'Forget token', exact: true }).click()
    step = 'refused'
    await row(page, 'web').getByRole('button', { name: 'Restart web', exact: true }).click()
    await page.locator('#token-dialog[open]').waitFor({ timeout: 5_000 })
    await page.fill('#token-input', 'not-the-token')
    await page.click('#token-form button[type="submit"]')
    await page.locator('#tree [data-path="stack/web"] > .row .outcome[data-result="refused"]').waitFor({ timeout: 10_000 })
    assert.match((await row(page, 'web').locator('.outcome').textContent()) ?? '', /restart refused: the token was not accepted \(401 unauthorized\)/)
    assert.equal((await pids(port)).web, before.web)
    await page.screenshot({ path: new URL('dashboard-refused.png', artifacts).pathname })
    // The refused request is the one error the browser reports; nothing else, and no 404 (favicon).
    assert.deepEqual(
      problems.filter((p) => !p.startsWith('refused: ')),
      [],
    )
    assert.ok(problems.some((p) => p === 'refused: 401 /apps/web/restart'), problems.join('\n'))

    // An older link with #token=…: used once, and taken out of the address at once.
    step = 'link'
    const linked = await browser.newPage()
    linked.on('console', (message) => {
      if (message.type() === 'error') problems.push(`link: console: ${message.text()}`)
    })
    await linked.goto(`http://127.0.0.1:${port}/#token=${TOKEN}`)
    await linked.locator('#connection[data-state="live"]').waitFor({ timeout: 10_000 })
    assert.equal(new URL(linked.url()).hash, '', 'the token left the address')
    assert.equal(await linked.locator('#token-dialog').getAttribute('open'), null, 'not asked again')
    assert.equal(await linked.locator('#token-text').textContent(), 'Token entered (kept in this page only)')
    assert.deepEqual(problems.filter((p) => !p.startsWith('refused: ')), [])
    step = 'end'
  } finally {
    await browser?.close()
    cli.process.kill('SIGTERM')
    await cli.exited
  }
})
