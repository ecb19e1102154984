/* global document, location, fetch, AbortController, URLSearchParams, TextDecoderStream */
// The steward dashboard: the status tree and a timeline, live over /events (Server-Sent Events
// read with fetch, so a bearer token can be sent; give it as #token=… in the page's address).
// It never shows old data as live: without a message for STALE_MS it says "disconnected", greys
// the tree and stops the beat clocks until the stream is back.

const STALE_MS = 3500
const RETRY_MS = 1500
const MAX_ROWS = 500
const TIMELINE = new Set(['restarting', 'hung', 'stalled', 'idle-timeout', 'failed', 'dead-letter', 'gave-up', 'decision', 'unstopped'])

const token = new URLSearchParams(location.hash.slice(1)).get('token')
const headers = token ? { authorization: `Bearer ${token}` } : {}

const $ = (id) => document.getElementById(id)
const treeRoot = $('tree')
const timeline = $('timeline')
const filterInput = $('filter')
const connection = $('connection')

/** path → { li, status, receivedAt } */
const wards = new Map()
let lastId = 0
let live = false
let lastMessageAt = 0
let lastStatusAt = 0
let controller

/** The five words operators read; the run's finer states map onto them. */
function word(state) {
  switch (state) {
    case 'working': case 'idle': case 'waiting': return state
    case 'stopping': case 'backoff': case 'restarting': return 'restarting'
    case 'gave-up': return 'gave up'
    case 'starting': return 'starting'
    default: return state // completed, stopped
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
  return [el('div', {}, el('dt', {}, label), dd), dd]
}

function makeWard(status) {
  const li = el('li', { class: 'ward', 'data-path': status.path })
  const row = el('div', { class: 'row', tabindex: '0' })
  const name = el('span', { class: 'name' }, status.name)
  const kind = el('span', { class: 'kind' })
  const state = el('span', { class: 'state' })
  const facts = el('dl', { class: 'facts' })
  const [beatBox, beat] = fact('last beat', 'beat')
  const [attemptBox, attempt] = fact('attempt', 'attempt')
  const [restartsBox, restarts] = fact('restarts', 'restarts')
  const [progressBox, progress] = fact('progress', 'progress')
  facts.append(beatBox, attemptBox, restartsBox, progressBox)
  const failure = el('p', { class: 'failure' })
  const probe = el('p', { class: 'failure probe' })
  row.append(name, kind, state, facts, failure, probe)
  const children = el('ul', { role: 'group' })
  li.append(row, children)
  const entry = { li, row, kind, state, beat, attempt, restarts, progress, failure, probe, children, status, receivedAt: 0 }
  row.addEventListener('keydown', (event) => navigate(event, entry))
  return entry
}

/** Arrow keys move between visible rows, Home/End to the ends (Tab works too). */
function navigate(event, entry) {
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

function update(entry, status, receivedAt) {
  entry.status = status
  entry.receivedAt = receivedAt
  const shown = word(status.state)
  entry.li.dataset.state = shown
  entry.state.textContent = shown
  entry.kind.textContent = status.kind === 'supervisor' ? `supervisor, ${status.strategy ?? ''}` : 'steward'
  entry.attempt.textContent = String(status.attempt)
  entry.restarts.textContent = String(status.restarts)
  entry.progress.textContent = text(status.progress)
  entry.failure.textContent = status.lastFailure ? `last failure: ${status.lastFailure.name}: ${status.lastFailure.message}` : ''
  // Why its probe fails, while it does (cleared by a healthy answer).
  const probe = status.probeFailure
  entry.probe.textContent = probe ? `probe failing (${probe.failures} in a row): ${probe.message}` : ''
  entry.beat.parentElement.hidden = status.kind === 'supervisor'
  paintBeat(entry)
}

/** Seconds since the last beat, counted on from the snapshot while the stream is live. */
function paintBeat(entry) {
  const ago = entry.status.lastBeatAgo
  if (ago === null || ago === undefined) { entry.beat.textContent = '–'; return }
  const since = live ? performance.now() - entry.receivedAt : 0
  entry.beat.textContent = `${((ago + since) / 1000).toFixed(1)} s ago`
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

function describeEvent(event) {
  switch (event.type) {
    case 'restarting': return `reason ${event.reason}, restart ${event.restarts}, attempt ${event.attempt + 1} next${event.delay ? ` after ${event.delay} ms` : ''}`
    case 'hung': return `no beat for ${event.timeout} ms${event.starting ? ' (never started)' : ''}${event.probeFailure ? `; probe: ${event.probeFailure.message}` : ''}`
    case 'stalled': return `livelock: no progress for ${event.progressTimeout} ms at ${text(event.progress)}`
    case 'idle-timeout': return `idle for ${event.idleTimeout} ms`
    case 'failed': return `${event.error.name}: ${event.error.message}`
    case 'dead-letter': return `input ${text(event.input)} at ${text(event.position)} after ${event.failures} failures`
    case 'gave-up': return `after ${event.restarts} restarts: ${event.error.message}`
    case 'decision': return `${event.action} ${event.restarting.join(', ') || event.child} (${event.strategy}, ${event.child} ${event.reason})`
    case 'unstopped': return `did not stop within ${event.stopTimeout} ms`
    default: return ''
  }
}

function addRow(event, id) {
  const label = event.type === 'stalled' ? 'livelock' : event.type
  const row = el('li', { 'data-type': event.type, 'data-path': event.path, 'data-id': String(id) },
    el('time', { datetime: new Date(event.wall ?? Date.now()).toISOString() }, new Date(event.wall ?? Date.now()).toLocaleTimeString()),
    el('span', { class: 'type' }, label),
    el('span', { class: 'path' }, event.path),
    el('span', { class: 'detail' }, describeEvent(event)))
  row.hidden = !matches(event.path)
  timeline.prepend(row)
  while (timeline.children.length > MAX_ROWS) timeline.lastElementChild.remove()
}

/** Events move a ward's state at once; the next status snapshot has the last word. */
function onEvent(event) {
  const entry = wards.get(event.path)
  if (entry !== undefined) {
    const state = { hung: 'restarting', stalled: 'restarting', 'idle-timeout': 'restarting', failed: 'restarting', restarting: 'restarting', started: 'working', 'gave-up': 'gave up' }[event.type]
    if (state !== undefined) { entry.li.dataset.state = state; entry.state.textContent = state }
  }
  if (TIMELINE.has(event.type)) addRow(event, lastId)
}

function setConnection(state, message) {
  live = state === 'live'
  connection.dataset.state = state
  $('connection-text').textContent = message
  treeRoot.dataset.stale = String(!live && lastStatusAt > 0)
  $('stale-note').hidden = live || lastStatusAt === 0
  if (!live && lastStatusAt > 0) $('stale-at').textContent = new Date(lastStatusAt).toLocaleTimeString()
  if (!live) for (const entry of wards.values()) paintBeat(entry)
}

function handle(message) {
  lastMessageAt = performance.now()
  if (message.id !== undefined) lastId = Number(message.id)
  if (message.event === 'status') {
    lastStatusAt = Date.now()
    if (!live) setConnection('live', 'live')
    renderTree(JSON.parse(message.data), performance.now())
  } else if (message.event === 'gap') {
    addRow({ type: 'gap', path: '', }, lastId)
  } else {
    onEvent(JSON.parse(message.data))
  }
}

async function connect() {
  controller = new AbortController()
  const signal = controller.signal
  try {
    const response = await fetch('events', { headers: { ...headers, accept: 'text/event-stream', 'last-event-id': String(lastId) }, signal, cache: 'no-store' })
    if (response.status === 401) throw new Error('unauthorized: open the page with #token=…')
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
        if (message.data.length > 0) handle({ ...message, data: message.data.join('\n') })
      }
    }
  } catch (error) {
    setConnection('disconnected', `disconnected (${signal.aborted ? 'no data' : error.message}); retrying`)
  }
  setTimeout(connect, RETRY_MS)
}

// The stream sends a status every second: silence for STALE_MS means it is gone, whatever TCP says.
setInterval(() => {
  if (live && performance.now() - lastMessageAt > STALE_MS) {
    setConnection('disconnected', 'disconnected (no data); retrying')
    controller?.abort()
  }
  if (live) for (const entry of wards.values()) paintBeat(entry)
}, 250)

filterInput.addEventListener('input', applyFilter)
connect()
