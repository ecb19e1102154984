// The dashboard end to end in a real headless Chromium (Debian's chromium, driven by
// playwright-core with executablePath; no browser is downloaded): a ward is made to hang, the page
// shows it restarting and then working again, the timeline row appears, and a killed event stream
// shows "disconnected" (greyed, not live) until the server is back. Screenshots go to artifacts/.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdirSync } from 'node:fs'
import { chromium, type Browser, type Page } from 'playwright-core'
import { fixed, processWard, supervisor, type WardContext, type WardStatus } from '../src/index.js'
import { serveHttp, type HttpServer } from '../src/http/index.js'
import { Redis } from 'ioredis'
import { cluster } from '../src/cluster/index.js'
import { steward, walk } from '../src/index.js'
import { RedisServer } from '../src/testing/redis-server.js'

const executablePath = process.env.STEWARD_CHROMIUM ?? '/usr/bin/chromium'
const artifacts = new URL('../artifacts/', import.meta.url)
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

function shopTree(flags: { hang: number }) {
  // The restart waits 6 s, so a page that a busy machine holds back for a few seconds still shows it restarting.
  return supervisor({ name: 'shop', strategy: 'one-for-one', maxRestarts: 10, within: '1m', backoff: fixed(6000) }, [
    {
      name: 'poller',
      // 2 s without a beat (it beats every 50 ms): a busy machine's pause is not taken for the hang.
      timeout: 2_000,
      ward: async (ctx: WardContext<number>) => {
        let n = ctx.resume ?? 0
        while (!ctx.signal.aborted) {
          // Only the incarnation named hangs: the replacement works however late the page looks.
          if (flags.hang !== ctx.attempt) ctx.beat(++n)
          await sleep(50)
        }
      },
    },
    { name: 'mailer', ward: async (ctx: WardContext) => ctx.idle(new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }))) },
  ]).start()
}

async function state(page: Page, path: string): Promise<string | null> {
  return page.locator(`#tree [data-path="${path}"]`).getAttribute('data-state')
}

test('the dashboard shows a hang heal live, its timeline row, and says "disconnected" when the stream dies', { timeout: 90_000 }, async () => {
  mkdirSync(artifacts, { recursive: true })
  const flags = { hang: 0 }
  const run = shopTree(flags)
  let server: HttpServer | undefined = await serveHttp(run, { port: 0 })
  const port = server.port
  let browser: Browser | undefined
  try {
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] })
    const page = await browser.newPage({ viewport: { width: 1100, height: 640 } })
    await page.goto(`${server.url}/`)
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: 10_000 })
    const poller = page.locator('#tree [data-path="shop/poller"]')
    await page.locator('#tree [data-path="shop/poller"][data-state="working"]').waitFor()
    assert.equal(await poller.locator(':scope > .row .state').textContent(), 'working')
    assert.match((await page.locator('#tree [data-path="shop"] > .row .kind').textContent()) ?? '', /supervisor, one-for-one/)
    assert.equal(await state(page, 'shop/mailer'), 'idle')

    // The poller's incarnation now hangs (the first, unless a busy machine already replaced it).
    const hung = run.status().children.find((child) => child.name === 'poller')!.attempt
    flags.hang = hung
    await page.locator('#tree [data-path="shop/poller"][data-state="restarting"]').waitFor({ timeout: 20_000 })
    // The word, not only the colour.
    assert.equal(await poller.locator(':scope > .row .state').textContent(), 'restarting')
    await page.locator('#timeline li[data-type="hung"][data-path="shop/poller"]').waitFor()
    await page.locator('#timeline li[data-type="restarting"][data-path="shop/poller"]').waitFor()
    assert.match((await page.locator('#timeline li[data-type="restarting"]').first().textContent()) ?? '', /reason hung/)
    await page.screenshot({ path: new URL('dashboard-restarting.png', artifacts).pathname })
    await page.locator('#tree [data-path="shop/poller"][data-state="working"]').waitFor({ timeout: 20_000 })
    await page.waitForFunction(`document.querySelector('#tree [data-path="shop/poller"] > .row .attempt')?.textContent === '${hung + 1}'`)
    assert.equal(await poller.locator(':scope > .row .restarts').textContent(), String(hung))
    // The failure in words: its message, not the error's class name.
    assert.equal(await poller.locator(':scope > .row .failure').textContent(), "last failure: ward 'poller' did not beat for 2000 ms")
    assert.equal(await page.locator('#timeline li[data-type="hung"][data-path="shop/poller"] .detail').first().textContent(), 'no beat for 2000 ms')
    // The last beat counts live between snapshots.
    assert.match((await poller.locator(':scope > .row .beat').textContent()) ?? '', /^\d+\.\d s ago$/)
    await page.screenshot({ path: new URL('dashboard-healed.png', artifacts).pathname })

    // Keyboard: rows are focusable and the arrow keys move between them.
    await page.locator('#tree [data-path="shop"] > .row').focus()
    await page.keyboard.press('ArrowDown')
    assert.equal(await page.evaluate(`document.activeElement?.closest('.ward')?.getAttribute('data-path')`), 'shop/poller')
    await page.keyboard.press('ArrowDown')
    assert.equal(await page.evaluate(`document.activeElement?.closest('.ward')?.getAttribute('data-path')`), 'shop/mailer')

    // Filter by path: the tree keeps the way to a match; the timeline keeps the matching rows.
    await page.fill('#filter', 'mailer')
    assert.equal(await poller.isHidden(), true)
    assert.equal(await page.locator('#tree [data-path="shop/mailer"]').isVisible(), true)
    assert.equal(await page.locator('#tree [data-path="shop"]').isVisible(), true)
    assert.equal(await page.locator('#timeline li[data-path="shop/poller"]').first().isHidden(), true)
    await page.fill('#filter', '')

    // Kill the event stream (the server goes away): the page says so and stops showing data as live.
    await server.close()
    server = undefined
    await page.locator('#connection[data-state="disconnected"]').waitFor({ timeout: 10_000 })
    assert.match((await page.locator('#connection').textContent()) ?? '', /disconnected/)
    assert.equal(await page.locator('#tree').getAttribute('data-stale'), 'true')
    assert.equal(await page.locator('#stale-note').isVisible(), true)
    const frozen = await poller.locator(':scope > .row .beat').textContent()
    await sleep(600)
    assert.equal(await poller.locator(':scope > .row .beat').textContent(), frozen, 'no live counting while disconnected')
    await page.screenshot({ path: new URL('dashboard-disconnected.png', artifacts).pathname })

    // The server is back: the page reconnects and is live again.
    server = await serveHttp(run, { port })
    await page.locator('#connection[data-state="live"]').waitFor({ timeout: 10_000 })
    assert.equal(await page.locator('#stale-note').isVisible(), false)

    // 200 % zoom: a 550 px wide window at device scale 2 reflows without a horizontal scroll bar.
    const zoomed = await browser.newPage({ viewport: { width: 550, height: 700 }, deviceScaleFactor: 2 })
    await zoomed.goto(`${server.url}/`)
    await zoomed.locator('#tree [data-path="shop/poller"][data-state="working"]').waitFor({ timeout: 10_000 })
    const overflow = await zoomed.evaluate<number>(`document.documentElement.scrollWidth - document.documentElement.clientWidth`)
    assert.ok(overflow <= 0, `horizontal overflow of ${overflow} px at 200 %`)
    await zoomed.screenshot({ path: new URL('dashboard-zoom-200.png', artifacts).pathname, fullPage: true })
  } finally {
    await browser?.close()
    await server?.close()
    await run.stop()
  }
})

test('open files show only when the status has them (a newer server), for process wards only', { timeout: 60_000 }, async () => {
  const run = supervisor({ name: 'box' }, [
    { name: 'proc', ward: processWard('sleep', ['600']) },
    { name: 'inproc', ward: async (ctx: WardContext) => ctx.idle(new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }))) },
  ]).start()
  // The same run, its status with `fds` on every ward (as a server with the figure sends it).
  const withFds = (status: WardStatus): WardStatus => ({ ...status, fds: status.pid === null ? null : 7, children: status.children.map(withFds) })
  const served = Object.assign(Object.create(run) as typeof run, { status: () => withFds(run.status()) })
  const plain = await serveHttp(run, { port: 0 })
  const figures = await serveHttp(served, { port: 0 })
  let browser: Browser | undefined
  try {
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] })
    const page = await browser.newPage()
    const openFiles = (path: string) => page.locator(`#tree [data-path="${path}"] > .row .fact-fds`)
    await page.goto(`${figures.url}/`)
    await page.waitForFunction(`document.querySelector('#tree [data-path="box/proc"] > .row dd.fds')?.textContent === '7'`, undefined, { timeout: 10_000 })
    assert.equal(await openFiles('box/proc').isVisible(), true)
    assert.equal(await openFiles('box/inproc').isVisible(), false, 'no process, no open files')
    assert.equal(await openFiles('box').isVisible(), false)
    await page.goto(`${plain.url}/`)
    await page.waitForFunction(`/^\\d+$/.test(document.querySelector('#tree [data-path="box/proc"] > .row dd.pid')?.textContent ?? '')`, undefined, { timeout: 10_000 })
    assert.equal(await openFiles('box/proc').isVisible(), 'fds' in run.status().children[0]!, 'shown only when the status has it')
  } finally {
    await browser?.close()
    await plain.close()
    await figures.close()
    await run.stop()
  }
})

test('a cluster node’s HTTP face: its wards as the tree, the cluster view in /status, /metrics and the dashboard (members, failovers, finished wards)', { timeout: 90_000 }, async () => {
  mkdirSync(artifacts, { recursive: true })
  const redis = await RedisServer.start()
  const ward = (id: string) =>
    steward(
      walk(
        (from: number) => (function* () {
          for (let i = from; ; i++) yield i
        })(),
        async (position, ctx) => {
          if (id === 'bad') throw new Error('bad input')
          await ctx.clock.sleep(20, ctx.signal)
          return position
        },
      ),
      { maxRestarts: 1, within: '1m', backoff: fixed('10ms') },
    )
  const a = cluster({ redis: redis.url, namespace: 'dash', node: 'a', leaseTtl: '1s', ward })
  // b has its own client: disconnecting it makes b a dead node whose wards a takes over.
  const bClient = new Redis(redis.port, '127.0.0.1', { maxRetriesPerRequest: 1 })
  bClient.on('error', () => {})
  const b = cluster({ redis: bClient, namespace: 'dash', node: 'b', leaseTtl: '1s', ward })
  const server = await serveHttp(a.tree, { port: 0 })
  let browser: Browser | undefined
  try {
    await Promise.all([a.ready, b.ready])
    await a.add(['w0', 'w1', 'w2', 'w3', 'w4', 'w5', 'bad'])
    const get = async (path: string): Promise<string> => (await fetch(`${server.url}${path}`)).text()
    const deadline = Date.now() + 20_000
    let status: { path: string; children: Array<{ path: string }>; cluster: { node: string; members: unknown[]; finished: unknown[] } }
    do {
      status = JSON.parse(await get('/status')) as typeof status
      if (status.cluster.members.length === 2 && status.children.length > 0 && status.cluster.finished.length === 1) break
      await new Promise((resolve) => setTimeout(resolve, 50))
    } while (Date.now() < deadline)
    assert.equal(status.path, 'a')
    assert.equal(status.cluster.node, 'a')
    assert.equal(status.cluster.members.length, 2, JSON.stringify(status.cluster))
    assert.equal(status.cluster.finished.length, 1, 'the ward that gave up')
    assert.ok(status.children.length > 0 && status.children.every((child) => /^a\/w\d$/.test(child.path)), JSON.stringify(status.children.map((c) => c.path)))
    const metrics = await get('/metrics')
    assert.match(metrics, /^steward_cluster_members\{namespace="dash",node="a"\} 2$/m)
    assert.match(metrics, /path="a\/w\d"/)

    browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] })
    const page = await browser.newPage({ viewport: { width: 1100, height: 640 } })
    await page.goto(`${server.url}/`)
    await page.locator('#cluster-section').waitFor({ timeout: 10_000 })
    await page.waitForFunction(`document.querySelectorAll('#cluster-members tbody tr').length === 2`, undefined, { timeout: 10_000 })
    // A node that lost its lease on a busy machine (leaseTtl 1 s) shows "no lease (joining)" until
    // it holds one again: the summary is awaited, not read once.
    const holding = /^Node a: epoch \d+, lease \d+\.\d s left; runs \d+ of 6 wards;/
    await page
      .waitForFunction(`${holding}.test(document.querySelector('#cluster-summary').textContent)`, undefined, { timeout: 20_000 })
      .catch(async (error: Error) => {
        throw new Error(`the summary never showed node a holding its lease: '${await page.locator('#cluster-summary').textContent()}' (${error.message})`)
      })
    assert.equal(await page.locator('#cluster-members tbody tr[data-self="true"] td').first().textContent(), 'a')
    assert.match((await page.locator('#cluster-finished li[data-state="failed"]').textContent()) ?? '', /^bad: failed \(.*bad input.*\)$/)
    await page.locator(`#tree [data-path="${status.children[0]!.path}"]`).waitFor()
    assert.equal(await page.locator('.action-restart').count(), 0, 'no restart buttons: the node owns its wards')
    // b dies (its connection cut): a takes its wards over once b's lease expired.
    bClient.disconnect()
    await page.waitForFunction(`/[1-9]\\d* taken over from dead nodes/.test(document.querySelector('#cluster-summary').textContent)`, undefined, { timeout: 20_000 })
    await page.waitForFunction(`document.querySelectorAll('#cluster-members tbody tr').length === 1`, undefined, { timeout: 20_000 })
    await page.screenshot({ path: new URL('dashboard-cluster.png', artifacts).pathname })
  } finally {
    await browser?.close()
    await server.close()
    await b.stop()
    await a.stop()
    bClient.disconnect()
    await redis.stop()
  }
})
