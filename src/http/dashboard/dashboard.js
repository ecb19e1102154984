/* global document, location, history, fetch, AbortController, URLSearchParams, TextDecoderStream */
// The steward dashboard: the status tree with each process's figures, the selected app's log lines,
// a timeline, and restart / stop / start buttons — live over /events (Server-Sent Events read with
// fetch, so a bearer token can be sent). The token is asked for once, in a dialog, and kept in this
// module's memory only: never in storage, cookies or the address (a `#token=…` in the address is
// read once and removed from it at once).
// It never shows old data as live: without a message for STALE_MS it says "disconnected", greys
// the tree and stops the clocks until the stream is back.

const STALE_MS = 3500
const RETRY_MS = 1500
const MAX_ROWS = 500
/** Lines kept per app while the page is open (the server's replay holds the recent ones for a new page). */
const MAX_LINES = 300
const TIMELINE = new Set(['started', 'restarting', 'hung', 'stalled', 'idle-timeout', 'failed', 'dead-letter', 'gave-up', 'decision', 'unstopped', 'stopped', 'blocked'])

const $ = (id) => document.getElementById(id)
const treeRoot = $('tree')
const timeline = $('timeline')
const filterInput = $('filter')
const connection = $('connection')
const logsList = $('logs')

let token = takeTokenFromAddress()
/** path → { li, status, receivedAt, … } */
const wards = new Map()
/** path → [{ wall, stream, line }], at most MAX_LINES each */
const lines = new Map()
let selected
let lastId = 0
let live = false
let lastMessageAt = 0
let lastStatusAt = 0
let controller
let retryTimer

/** A `#token=…` from an older bookmark: used, then taken out of the address and history entry. */
function takeTokenFromAddress() {
  const found = new URLSearchParams(location.hash.slice(1)).get('token')
  if (found !== null) history.replaceState(null, '', location.pathname + location.search)
  return found || undefined
}

function authHeaders() {
  return token === undefined ? {} : { authorization: `Bearer ${token}` }
}

/**
 * The word an operator reads for a run's state. `stopping` is a retirement: "restarting" when a
 * `restarting` event announced it, else "stopping" (an operator's stop, or the stack's); a steward
 * that runs but has not shown it is up yet (first beat, probe, idle wait) is "starting".
 */
function word(status, entry) {
  switch (status.state) {
    case 'working': case 'idle': case 'waiting':
      return status.kind === 'steward' && !status.up ? 'starting' : status.state
    case 'stopping': return entry?.retiring === 'restart' ? 'restarting' : 'stopping'
    case 'backoff': case 'restarting': return 'restarting'
    case 'gave-up': return 'gave up'
    default: return status.blocked ? 'blocked' : status.state // starting, completed, stopped
  }
}

function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag)
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value)
  for (const child of children) node.append(child)
  return node
}

function fact(label, cls) {
  const dd = el('dd', { class: cls })
  return [el('div', { class: `fact-${cls}` }, el('dt', {}, label), dd), dd]
}

/** Whether `path` names an app: a child of the top supervisor, which the POST /apps/NAME routes act on. */
function appName(path) {
  const root = treeRoot.firstElementChild
  const top = root === null ? undefined : wards.get(root.dataset.path)
  if (top === undefined || top.status.kind !== 'supervisor') return undefined
  const child = top.status.children.find((c) => c.path === path)
  return child?.name
}

function makeWard(status) {
  const li = el('li', { class: 'ward', 'data-path': status.path })
  const row = el('div', { class: 'row', tabindex: '0' })
  const head = el('div', { class: 'head' })
  const name = el('span', { class: 'name' }, status.name)
  const kind = el('span', { class: 'kind' })
  const state = el('span', { class: 'state' })
  head.append(name, kind, state)
  const facts = el('dl', { class: 'facts' })
  const figures = {}
  for (const [key, label] of [['pid', 'pid'], ['uptime', 'uptime'], ['rss', 'memory'], ['cpu', 'CPU'], ['fds', 'open files'], ['restarts', 'restarts'], ['attempt', 'attempt'], ['beat', 'last beat'], ['progress', 'progress']]) {
    const [box, dd] = fact(label, key)
    facts.append(box)
    figures[key] = dd
  }
  const failure = el('p', { class: 'failure' })
  const probe = el('p', { class: 'probe' })
  const actions = el('div', { class: 'actions', hidden: '' })
  const outcome = el('p', { class: 'outcome', role: 'status' })
  row.append(head, facts, failure, probe, actions, outcome)
  const children = el('ul', { role: 'group' })
  li.append(row, children)
  const entry = { li, row, kind, state, figures, failure, probe, actions, outcome, children, status, receivedAt: 0, retiring: undefined, app: undefined, process: false }
  row.addEventListener('keydown', (event) => navigate(event, entry))
  return entry
}

/** The app's buttons, made once it is known to be an app (its name is in their labels). */
function makeActions(entry, app) {
  entry.app = app
  const button = (verb, label) => {
    const b = el('button', { type: 'button', class: `action-${verb}`, 'aria-label': `${label} ${app}` }, label)
    b.addEventListener('click', () => act(entry, verb, b))
    return b
  }
  const logs = el('button', { type: 'button', class: 'action-logs', 'aria-pressed': 'false', 'aria-label': `Logs of ${app}` }, 'Logs')
  logs.addEventListener('click', () => select(entry.status.path))
  entry.logsButton = logs
  entry.actions.append(button('restart', 'Restart'), button('stop', 'Stop'), button('start', 'Start'), logs)
  entry.actions.hidden = false
}

/** Arrow keys move between visible rows, Home/End to the ends (Tab works too). */
function navigate(event, entry) {
  if (event.target !== entry.row) return
  const rows = [...treeRoot.querySelectorAll('.ward:not([hidden]) > .row')]
  const at = rows.indexOf(entry.row)
  const to = { ArrowDown: at + 1, ArrowUp: at - 1, Home: 0, End: rows.length - 1 }[event.key]
  if (to === undefined || rows[to] === undefined) return
  event.preventDefault()
  rows[to].focus()
}

function text(value) {
  if (value === undefined) return '–'
  try { return typeof value === 'string' ? value : JSON.stringify(value) } catch { return String(value) }
}

function bytes(n) {
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(0)} KiB`
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`
  return `${(n / 1024 ** 3).toFixed(2)} GiB`
}

function duration(ms) {
  const s = Math.floor(ms / 1000)
  if (s < 60) return `${s} s`
  if (s < 3600) return `${Math.floor(s / 60)} min ${s % 60} s`
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
  return `${Math.floor(s / 86400)} d ${Math.floor((s % 86400) / 3600)} h`
}

/** A failure for a person: its message (an error's class name is for logs, not this page). */
function said(error) {
  return error?.message || error?.code || error?.name || ''
}

function update(entry, status, receivedAt) {
  entry.status = status
  entry.receivedAt = receivedAt
  if (status.state !== 'stopping' && status.state !== 'backoff' && status.state !== 'restarting') entry.retiring = undefined
  const shown = word(status, entry)
  entry.li.dataset.state = shown
  entry.state.textContent = shown
  const steward = status.kind === 'steward'
  entry.kind.textContent = steward ? (status.threadId !== null ? 'thread' : 'steward') : `supervisor, ${status.strategy ?? ''}`
  const f = entry.figures
  f.pid.textContent = status.pid === null ? '–' : String(status.pid)
  f.rss.textContent = status.rss === null ? '–' : bytes(status.rss)
  f.cpu.textContent = status.cpu === null ? '–' : `${status.cpu.toFixed(2)} s`
  f.restarts.textContent = String(status.restarts)
  f.attempt.textContent = String(status.attempt)
  f.progress.textContent = text(status.progress)
  // A process's figures for a ward seen with a process (an in-process ward has none to show).
  if (status.pid !== null) entry.process = true
  for (const key of ['uptime', 'beat']) f[key].parentElement.hidden = !steward
  for (const key of ['pid', 'rss', 'cpu']) f[key].parentElement.hidden = !entry.process
  // Open file descriptors: shown only when the server's status has them (newer servers).
  f.fds.parentElement.hidden = !entry.process || !('fds' in status)
  f.fds.textContent = status.fds === null || status.fds === undefined ? '–' : String(status.fds)
  // Progress only for wards that report one (a process ward rarely does).
  f.progress.parentElement.hidden = !steward || status.progress === undefined
  entry.failure.textContent = status.lastFailure ? `last failure: ${said(status.lastFailure)}` : ''
  // Its probe, and why it fails while it does (cleared by a healthy answer).
  const probe = status.probeFailure
  const what = status.probe ?? probe?.kind
  entry.probe.textContent = probe ? `probe failing (${probe.failures} in a row): ${probe.message}` : what ? `probe: ${what}` : ''
  entry.probe.dataset.failing = String(Boolean(probe))
  paintClocks(entry)
}

/** Uptime and seconds since the last beat, counted on from the snapshot while the stream is live. */
function paintClocks(entry) {
  const since = live ? performance.now() - entry.receivedAt : 0
  const { uptime, lastBeatAgo } = entry.status
  entry.figures.uptime.textContent = uptime === null || uptime === undefined ? '–' : duration(uptime + since)
  entry.figures.beat.textContent = lastBeatAgo === null || lastBeatAgo === undefined ? '–' : `${((lastBeatAgo + since) / 1000).toFixed(1)} s ago`
}

function renderTree(root, receivedAt) {
  const seen = new Set()
  const place = (status, list) => {
    seen.add(status.path)
    let entry = wards.get(status.path)
    if (entry === undefined) {
      entry = makeWard(status)
      wards.set(status.path, entry)
    }
    if (entry.li.parentElement !== list) list.append(entry.li)
    update(entry, status, receivedAt)
    let previous = null
    for (const child of status.children) {
      const childEntry = place(child, entry.children)
      // Keep start order without moving rows that are in place (moving one would drop its focus).
      const expected = previous === null ? entry.children.firstElementChild : previous.nextElementSibling
      if (expected !== childEntry.li) entry.children.insertBefore(childEntry.li, expected)
      previous = childEntry.li
    }
    return entry
  }
  place(root, treeRoot)
  for (const [path, entry] of wards) {
    if (!seen.has(path)) { entry.li.remove(); wards.delete(path) }
  }
  // A cluster node's wards are not apps an operator restarts here (the node owns them).
  for (const entry of wards.values()) {
    const app = root.cluster === undefined ? appName(entry.status.path) : undefined
    if (app !== undefined && entry.app === undefined) makeActions(entry, app)
  }
  if (selected === undefined) {
    // The first app (or the top ward when it is not a supervisor) until the operator chooses.
    const first = root.kind === 'supervisor' ? root.children[0] : root
    if (first !== undefined) select(first.path)
  }
  applyFilter()
}

function matches(path) {
  const wanted = filterInput.value.trim().toLowerCase()
  return wanted === '' || path.toLowerCase().includes(wanted)
}

function applyFilter() {
  // A ward shows when it or a ward below it matches, so the path to a match stays visible.
  const visit = (entry) => {
    let show = matches(entry.status.path)
    for (const child of entry.status.children) {
      const childEntry = wards.get(child.path)
      if (childEntry !== undefined && visit(childEntry)) show = true
    }
    entry.li.hidden = !show
    return show
  }
  for (const li of treeRoot.children) {
    const entry = wards.get(li.dataset.path)
    if (entry !== undefined) visit(entry)
  }
  for (const row of timeline.children) row.hidden = !matches(row.dataset.path)
}

// ---- logs -------------------------------------------------------------------

/** The lines of `path` and of the wards below it (an app's own process, or its nested ones). */
function linesOf(path) {
  const out = []
  for (const [linePath, kept] of lines) if (linePath === path || linePath.startsWith(`${path}/`)) out.push(...kept)
  return out.sort((a, b) => a.id - b.id).slice(-MAX_LINES)
}

function lineRow(entry) {
  return el('li', { 'data-stream': entry.stream },
    el('time', { datetime: new Date(entry.wall).toISOString() }, new Date(entry.wall).toLocaleTimeString()),
    el('span', { class: 'stream' }, entry.stream === 'stderr' ? 'err' : 'out'),
    el('span', { class: 'text' }, entry.line))
}

function select(path) {
  selected = path
  for (const entry of wards.values()) entry.logsButton?.setAttribute('aria-pressed', String(entry.status.path === path))
  $('logs-app').textContent = `of ${path}`
  $('logs-hint').hidden = true
  logsList.replaceChildren(...linesOf(path).map(lineRow))
  logsList.scrollTop = logsList.scrollHeight
}

function onLine(event, id) {
  let kept = lines.get(event.path)
  if (kept === undefined) lines.set(event.path, (kept = []))
  const entry = { id, wall: event.wall ?? Date.now(), stream: event.stream, line: event.line }
  kept.push(entry)
  if (kept.length > MAX_LINES) kept.splice(0, kept.length - MAX_LINES)
  if (selected !== undefined && (event.path === selected || event.path.startsWith(`${selected}/`))) {
    // Follow the end unless the operator scrolled up to read.
    const atEnd = logsList.scrollHeight - logsList.scrollTop - logsList.clientHeight < 40
    logsList.append(lineRow(entry))
    while (logsList.children.length > MAX_LINES) logsList.firstElementChild.remove()
    if (atEnd) logsList.scrollTop = logsList.scrollHeight
  }
}

// ---- timeline ---------------------------------------------------------------

function describeEvent(event) {
  switch (event.type) {
    case 'started': return `attempt ${event.attempt}${event.resume === undefined || event.resume === null ? '' : `, resuming at ${text(event.resume)}`}`
    case 'restarting': return `reason ${event.reason}, restart ${event.restarts}, attempt ${event.attempt + 1} next${event.delay ? ` after ${Math.round(event.delay)} ms` : ''}`
    case 'hung': return `no beat for ${event.timeout} ms${event.starting ? ' (never started)' : ''}${event.probeFailure ? `; probe: ${event.probeFailure.message}` : ''}`
    case 'stalled': return `livelock: no progress for ${event.progressTimeout} ms at ${text(event.progress)}`
    case 'idle-timeout': return `idle for ${event.idleTimeout} ms`
    case 'failed': return said(event.error)
    case 'dead-letter': return `input ${text(event.input)} at ${text(event.position)} after ${event.failures} failures`
    case 'gave-up': return `after ${event.restarts} restarts: ${said(event.error)}`
    case 'decision': return `${event.action} ${event.restarting.join(', ') || event.child} (${event.strategy}, ${event.child} ${event.reason})`
    case 'unstopped': return `did not stop within ${event.stopTimeout} ms`
    case 'stopped': return event.unstopped.length > 0 ? `abandoned: ${event.unstopped.join(', ')}` : ''
    case 'blocked': return `not started: ${event.blocked.join(', ')} (${event.child} is not up${event.error ? `: ${said(event.error)}` : ''})`
    case 'gap': return 'some events were missed while disconnected'
    default: return ''
  }
}

function addRow(event, id) {
  const label = event.type === 'stalled' ? 'livelock' : event.type
  const wall = new Date(event.wall ?? Date.now())
  const row = el('li', { 'data-type': event.type, 'data-path': event.path, 'data-id': String(id) },
    el('time', { datetime: wall.toISOString() }, wall.toLocaleTimeString()),
    el('span', { class: 'type' }, label),
    el('span', { class: 'path' }, event.path),
    el('span', { class: 'detail' }, describeEvent(event)))
  row.hidden = !matches(event.path)
  timeline.prepend(row)
  while (timeline.children.length > MAX_ROWS) timeline.lastElementChild.remove()
}

/** Events move a ward's state at once, to what the run is then; the next status snapshot has the last word. */
function onEvent(event, id) {
  if (event.type === 'line') return onLine(event, id)
  const entry = wards.get(event.path)
  if (entry !== undefined) {
    // A failure is followed at once by `restarting` or `gave-up`: those say what happens next.
    if (event.type === 'restarting') {
      // Retired: no beat is due and its uptime has ended (as the next status will say).
      entry.retiring = 'restart'
      entry.status = { ...entry.status, uptime: null, lastBeatAgo: null }
      paintClocks(entry)
    }
    if (event.type === 'started') entry.retiring = undefined
    // The new process's pid at once (the next status brings its other figures).
    if (event.type === 'spawned' && event.pid !== undefined) {
      entry.process = true
      entry.figures.pid.textContent = String(event.pid)
      entry.figures.pid.parentElement.hidden = false
    }
    const state = { restarting: 'restarting', started: 'starting', stopped: 'stopped', completed: 'completed', 'gave-up': 'gave up' }[event.type]
    if (state !== undefined) { entry.li.dataset.state = state; entry.state.textContent = state }
  }
  if (TIMELINE.has(event.type)) addRow(event, id)
}

// ---- the token and the actions ----------------------------------------------

const dialog = $('token-dialog')
let dialogWaiters = []

function paintToken() {
  $('token-text').textContent = token === undefined ? 'No token entered' : 'Token entered (kept in this page only)'
  $('token-button').textContent = token === undefined ? 'Enter token…' : 'Change token…'
  $('token-forget').hidden = token === undefined
}

/** Asks for the token (once: every caller waiting meanwhile shares the answer); resolves with it, or undefined when cancelled. */
function askToken(why) {
  return new Promise((resolve) => {
    dialogWaiters.push(resolve)
    if (dialog.open) return
    $('token-why').textContent = why
    $('token-input').value = ''
    dialog.showModal()
    $('token-input').focus()
  })
}

dialog.addEventListener('close', () => {
  if (dialog.returnValue === 'use' && $('token-input').value !== '') {
    token = $('token-input').value
    paintToken()
    if (!live) reconnectNow()
  }
  $('token-input').value = ''
  const waiters = dialogWaiters
  dialogWaiters = []
  for (const resolve of waiters) resolve(dialog.returnValue === 'use' ? token : undefined)
  dialog.returnValue = ''
})
$('token-cancel').addEventListener('click', () => dialog.close('cancel'))
$('token-button').addEventListener('click', () => askToken('The token the server was started with (--http-token or STEWARD_HTTP_TOKEN).'))
$('token-forget').addEventListener('click', () => { token = undefined; paintToken() })

/** POST /apps/NAME/VERB with the token; the answer (or why it was refused) is shown under the app. */
async function act(entry, verb, button) {
  const app = entry.app
  if (token === undefined && (await askToken(`To ${verb} ${app}: the token the server was started with (--http-token or STEWARD_HTTP_TOKEN).`)) === undefined) return
  entry.outcome.dataset.result = 'pending'
  entry.outcome.textContent = `${verb}: sent…`
  button.setAttribute('aria-busy', 'true')
  button.disabled = true
  try {
    const response = await fetch(`apps/${encodeURIComponent(app)}/${verb}`, { method: 'POST', headers: { ...authHeaders(), 'content-type': 'application/json' }, body: '{}', cache: 'no-store' })
    let body = {}
    try { body = await response.json() } catch { /* not JSON: the status says enough */ }
    if (response.ok) {
      entry.outcome.dataset.result = 'ok'
      entry.outcome.textContent = `${verb}: done at ${new Date().toLocaleTimeString()}`
      return
    }
    entry.outcome.dataset.result = 'refused'
    if (response.status === 401) {
      // A wrong token is forgotten, so the next action asks again.
      token = undefined
      paintToken()
      entry.outcome.textContent = `${verb} refused: the token was not accepted (401 unauthorized). Enter the right one and try again.`
    } else {
      entry.outcome.textContent = `${verb} refused (${response.status}): ${body.error ?? response.statusText}`
    }
  } catch (error) {
    entry.outcome.dataset.result = 'refused'
    entry.outcome.textContent = `${verb} failed: ${error.message} (is the server still there?)`
  } finally {
    button.removeAttribute('aria-busy')
    button.disabled = false
  }
}

// ---- the stream ---------------------------------------------------------------

function setConnection(state, message) {
  live = state === 'live'
  connection.dataset.state = state
  $('connection-text').textContent = message
  treeRoot.dataset.stale = String(!live && lastStatusAt > 0)
  $('stale-note').hidden = live || lastStatusAt === 0
  if (!live && lastStatusAt > 0) $('stale-at').textContent = new Date(lastStatusAt).toLocaleTimeString()
  if (!live) for (const entry of wards.values()) paintClocks(entry)
}

/** A cluster node's view (a `node.tree` served by the HTTP face): its lease, the live nodes, the finished wards. */
function renderCluster(cluster) {
  const section = $('cluster-section')
  section.hidden = cluster === undefined
  if (cluster === undefined) return
  const metrics = cluster.metrics ?? {}
  const here = cluster.wards.length
  const lease = cluster.epoch === null ? 'no lease (joining)' : `epoch ${cluster.epoch}, lease ${(cluster.leaseLeft / 1000).toFixed(1)} s left`
  $('cluster-summary').textContent = `Node ${cluster.node}: ${lease}; runs ${here} of ${cluster.totalWards} wards; ${metrics['cluster.failovers_total'] ?? 0} taken over from dead nodes, ${metrics['cluster.leases_lost_total'] ?? 0} leases lost.`
  const body = $('cluster-members').tBodies[0]
  body.replaceChildren(...cluster.members.map((member) => {
    const row = el('tr', { 'data-self': String(member.node === cluster.node) })
    const note = [member.node === cluster.node ? 'this node' : '', member.leaving ? 'leaving' : ''].filter(Boolean).join(', ')
    row.append(el('td', {}, member.node), el('td', {}, String(member.epoch)), el('td', {}, String(member.assigned)), el('td', {}, note))
    return row
  }))
  const finished = cluster.finished ?? []
  $('cluster-finished-title').hidden = finished.length === 0
  $('cluster-finished').replaceChildren(...finished.map((end) => el('li', { 'data-state': end.state }, `${end.ward}: ${end.state}${end.reason ? ` (${end.reason})` : ''}`)))
}

function handle(message) {
  lastMessageAt = performance.now()
  if (message.id !== undefined) lastId = Number(message.id)
  if (message.event === 'status') {
    lastStatusAt = Date.now()
    if (!live) setConnection('live', 'live')
    const status = JSON.parse(message.data)
    renderCluster(status.cluster)
    renderTree(status, performance.now())
  } else if (message.event === 'gap') {
    addRow({ type: 'gap', path: '' }, lastId)
  } else {
    onEvent(JSON.parse(message.data), lastId)
  }
}

/** Drops the stream (if any) and opens a new one at once: a token was entered. */
function reconnectNow() {
  const old = controller
  connect()
  old?.abort()
}

async function connect() {
  clearTimeout(retryTimer)
  controller = new AbortController()
  const signal = controller.signal
  let retry = RETRY_MS
  try {
    const response = await fetch('events', { headers: { ...authHeaders(), accept: 'text/event-stream', 'last-event-id': String(lastId) }, signal, cache: 'no-store' })
    if (response.status === 401) {
      token = undefined
      paintToken()
      // No retry until a token is entered (the dialog's close reconnects).
      retry = undefined
      void askToken('This server needs its token to show anything (--http-token or STEWARD_HTTP_TOKEN).')
      throw new Error('unauthorized: enter the token')
    }
    if (!response.ok || response.body === null) throw new Error(`status ${response.status}`)
    lastMessageAt = performance.now()
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
    let buffer = ''
    for (;;) {
      const { value, done } = await reader.read()
      if (done) throw new Error('the server ended the stream')
      buffer += value.replaceAll('\r\n', '\n')
      let end
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const message = { id: undefined, event: 'message', data: [] }
        for (const line of block.split('\n')) {
          if (line === '' || line.startsWith(':')) continue
          const colon = line.indexOf(':')
          const field = colon === -1 ? line : line.slice(0, colon)
          const data = colon === -1 ? '' : line.slice(colon + 1).replace(/^ /, '')
          if (field === 'id') message.id = data
          else if (field === 'event') message.event = data
          else if (field === 'data') message.data.push(data)
        }
        if (message.data.length > 0) {
          handle({ ...message, data: message.data.join('\n') })
          // Several messages may come in one chunk: each one's changes reach mutation observers
          // (the live regions of assistive technology, a test's record) before the next's.
          await Promise.resolve()
        }
      }
    }
  } catch (error) {
    if (controller.signal !== signal) return // replaced by a newer connection
    setConnection('disconnected', `disconnected (${signal.aborted ? 'no data' : error.message})${retry === undefined ? '' : '; retrying'}`)
  }
  if (retry !== undefined) retryTimer = setTimeout(connect, retry)
}

// The stream sends a status every second: silence for STALE_MS means it is gone, whatever TCP says.
setInterval(() => {
  if (live && performance.now() - lastMessageAt > STALE_MS) {
    setConnection('disconnected', 'disconnected (no data); retrying')
    controller?.abort()
  }
  if (live) for (const entry of wards.values()) paintClocks(entry)
}, 250)

filterInput.addEventListener('input', applyFilter)
paintToken()
// The server says whether its routes need the token (the page's data-token): ask before the first
// request rather than after a 401.
if (token === undefined && document.documentElement.dataset.token === 'required') {
  setConnection('disconnected', 'waiting for the token')
  void askToken('This server needs its token to show anything (--http-token or STEWARD_HTTP_TOKEN).')
} else {
  connect()
}
