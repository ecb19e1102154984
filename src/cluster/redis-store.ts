import type { Cluster, Redis } from 'ioredis'
import type { Checkpoint, ClaimResult, Finished, LeaseStore, Member, RenewResult, WriteResult } from './store.js'

/** The protocol version a namespace is written with; a node of another version refuses it. */
export const PROTOCOL_VERSION = 'steward-cluster/2'

/** The keys of a namespace and its wards (see docs/cluster.md): one hash slot each. @internal */
export class Keys {
  readonly ns: string
  constructor(ns: string) {
    this.ns = ns
  }
  get meta(): string {
    return `{${this.ns}}:meta`
  }
  get epoch(): string {
    return `{${this.ns}}:epoch`
  }
  get members(): string {
    return `{${this.ns}}:members`
  }
  get wards(): string {
    return `{${this.ns}}:wards`
  }
  get wardsVersion(): string {
    return `{${this.ns}}:wards-version`
  }
  get finished(): string {
    return `{${this.ns}}:finished`
  }
  get nodePrefix(): string {
    return `{${this.ns}}:node:`
  }
  node(node: string): string {
    return `${this.nodePrefix}${node}`
  }
  ward(ward: string): string {
    return `{${this.ns}:${ward}}`
  }
  dead(ward: string): string {
    return `{${this.ns}:${ward}}:dead`
  }
  /** A key of the user's in the ward's hash slot, for fenced writes. */
  user(ward: string, suffix: string): string {
    return `{${this.ns}:${ward}}:${suffix}`
  }
}

const NOW_MS = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`

/** The scripts, one atomic step each. @internal */
export const scripts = {
  // KEYS: meta, epoch, node key, members. ARGV: version, node, ttl.
  join: {
    keys: 4,
    lua: `local v = redis.call('HGET', KEYS[1], 'version')
if v and v ~= ARGV[1] then return {-1, v} end
if not v then redis.call('HSET', KEYS[1], 'version', ARGV[1]) end
if redis.call('EXISTS', KEYS[3]) == 1 then return {0, ''} end
local e = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[3], e, 'PX', ARGV[3])
redis.call('HSET', KEYS[4], ARGV[2], tostring(e))
return {e, ''}`,
  },
  // KEYS: node key, members, wards-version. ARGV: node, epoch, ttl, leaving, node key prefix.
  renew: {
    keys: 3,
    lua: `local ok = 0
if redis.call('GET', KEYS[1]) == ARGV[2] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  ok = 1
  local entry = ARGV[2]
  if ARGV[4] == '1' then entry = entry .. ':leaving' end
  redis.call('HSET', KEYS[2], ARGV[1], entry)
end
local all = redis.call('HGETALL', KEYS[2])
local live = {}
for i = 1, #all, 2 do
  local epoch = string.match(all[i + 1], '^(%d+)')
  if redis.call('GET', ARGV[5] .. all[i]) == epoch then
    live[#live + 1] = all[i]
    live[#live + 1] = all[i + 1]
  else
    redis.call('HDEL', KEYS[2], all[i])
  end
end
${NOW_MS}
return {ok, live, redis.call('GET', KEYS[3]) or '0', tostring(now)}`,
  },
  // KEYS: node key, members. ARGV: node, epoch.
  leave: {
    keys: 2,
    lua: `if redis.call('GET', KEYS[1]) == ARGV[2] then
  redis.call('DEL', KEYS[1])
  redis.call('HDEL', KEYS[2], ARGV[1])
end
return 1`,
  },
  // KEYS: wards, wards-version, finished.
  wards: {
    keys: 3,
    lua: `return {redis.call('SMEMBERS', KEYS[1]), redis.call('GET', KEYS[2]) or '0', redis.call('HGETALL', KEYS[3])}`,
  },
  // KEYS: wards, wards-version, finished. ARGV: again ('1': a finished id is to run again), ids.
  addWards: {
    keys: 3,
    lua: `local added = 0
for i = 2, #ARGV do
  if ARGV[1] == '1' then redis.call('HDEL', KEYS[3], ARGV[i]) end
  if redis.call('HEXISTS', KEYS[3], ARGV[i]) == 0 then added = added + redis.call('SADD', KEYS[1], ARGV[i]) end
end
if added > 0 then redis.call('INCR', KEYS[2]) end
return added`,
  },
  // KEYS: wards, wards-version, finished. ARGV: ward, its end (JSON).
  retire: {
    keys: 3,
    lua: `local removed = redis.call('SREM', KEYS[1], ARGV[1])
local fresh = redis.call('HSETNX', KEYS[3], ARGV[1], ARGV[2])
if removed + fresh > 0 then redis.call('INCR', KEYS[2]) end
return removed`,
  },
  // KEYS: ward.
  reopen: {
    keys: 1,
    lua: `if (redis.call('HGET', KEYS[1], 'state') or '') == '' then return 0 end
redis.call('HSET', KEYS[1], 'state', '', 'reason', '', 'failures', '0')
return 1`,
  },
  // KEYS: ward. ARGV: node, epoch, notAfter (Redis ms), then (ifNode, ifEpoch) pairs: dead owners it may be taken from.
  claim: {
    keys: 1,
    lua: `${NOW_MS}
if now > tonumber(ARGV[3]) then return {'expired'} end
local r = redis.call('HMGET', KEYS[1], 'node', 'epoch', 'token', 'progress', 'failures', 'state', 'reason')
if (r[6] or '') ~= '' then return {'finished', r[6], r[7] or ''} end
local owner = r[1] or ''
local progress = r[4] or ''
local failures = r[5] or '0'
if owner ~= '' then
  if owner == ARGV[1] and r[2] == ARGV[2] then return {'claimed', r[3], progress, failures, '', ''} end
  local dead = false
  for i = 4, #ARGV, 2 do
    if owner == ARGV[i] and r[2] == ARGV[i + 1] then dead = true end
  end
  if not dead then return {'held', owner, r[2]} end
end
local token = redis.call('HINCRBY', KEYS[1], 'token', 1)
redis.call('HSET', KEYS[1], 'node', ARGV[1], 'epoch', ARGV[2], 'seq', '0')
return {'claimed', tostring(token), progress, failures, owner, r[2] or ''}`,
  },
  // KEYS: ward. ARGV: token, seq, progress ('' for none), failures, release ('1' or '0'), kept ('1':
  // the ward commits its own progress, so the stored progress stays and failures are written only
  // where it is this progress), the ward's end ('', 'done' or 'failed') and its reason.
  write: {
    keys: 1,
    lua: `local r = redis.call('HMGET', KEYS[1], 'node', 'token', 'seq', 'progress')
if (r[1] or '') == '' or r[2] ~= ARGV[1] then return 'fenced' end
if tonumber(ARGV[2]) <= tonumber(r[3] or '0') then return 'superseded' end
if ARGV[6] ~= '1' then
  redis.call('HSET', KEYS[1], 'seq', ARGV[2], 'progress', ARGV[3], 'failures', ARGV[4])
elseif (r[4] or '') == ARGV[3] then
  redis.call('HSET', KEYS[1], 'seq', ARGV[2], 'failures', ARGV[4])
else
  redis.call('HSET', KEYS[1], 'seq', ARGV[2])
end
if ARGV[5] == '1' then redis.call('HSET', KEYS[1], 'node', '', 'epoch', '') end
if ARGV[7] ~= '' then redis.call('HSET', KEYS[1], 'state', ARGV[7], 'reason', ARGV[8]) end
return 'written'`,
  },
  // KEYS: ward (the call runs on its master).
  time: {
    keys: 1,
    lua: `${NOW_MS}
return tostring(now)`,
  },
  // KEYS: ward, dead stream. ARGV: token, then field/value pairs.
  deadLetter: {
    keys: 2,
    lua: `local r = redis.call('HMGET', KEYS[1], 'node', 'token')
if (r[1] or '') == '' or r[2] ~= ARGV[1] then return false end
return redis.call('XADD', KEYS[2], '*', unpack(ARGV, 2))`,
  },
} as const

/** The prelude of a user's fenced script: KEYS[1] is the ward, ARGV[1] the token; the user's KEYS and ARGV follow. */
export function fencedScript(body: string): string {
  return `local r = redis.call('HMGET', KEYS[1], 'node', 'token')
if (r[1] or '') == '' or r[2] ~= ARGV[1] then return redis.error_reply('STEWARD_FENCED the lease of this ward is no longer current') end
local user = function(KEYS, ARGV)
${body}
end
return user({unpack(KEYS, 2)}, {unpack(ARGV, 2)})`
}

/**
 * A user's commit: KEYS[1] is the ward, ARGV[1..3] the token, the write's sequence number and the
 * progress (JSON); the user's KEYS and ARGV follow. Only under the current token; a progress that
 * is already the stored one was committed before (a retry after a lost reply): nothing runs again.
 * Otherwise the user's script runs and the checkpoint moves to the progress in the same step.
 */
export function commitScript(body: string): string {
  return `local r = redis.call('HMGET', KEYS[1], 'node', 'token', 'seq', 'progress')
if (r[1] or '') == '' or r[2] ~= ARGV[1] then return redis.error_reply('STEWARD_FENCED the lease of this ward is no longer current') end
if (r[4] or '') == ARGV[3] then return {0} end
if tonumber(ARGV[2]) <= tonumber(r[3] or '0') then return redis.error_reply('STEWARD_SUPERSEDED a later write of this lease was applied first') end
local user = function(KEYS, ARGV)
${body}
end
local reply = user({unpack(KEYS, 2)}, {unpack(ARGV, 4)})
redis.call('HSET', KEYS[1], 'seq', ARGV[2], 'progress', ARGV[3], 'failures', '0')
return {1, reply}`
}

/** What a commit answers: `applied` with the user script's reply, or `duplicate` (this progress was committed before). @internal */
export type CommitReply = { readonly kind: 'applied'; readonly reply: unknown } | { readonly kind: 'duplicate' }

type Client = Redis | Cluster
type ScriptName = keyof typeof scripts
type Caller = (...args: Array<string | number>) => Promise<unknown>

/**
 * The protocol's store on Redis (a server or a Redis Cluster): each operation one Lua script
 * (`defineCommand`, so EVALSHA with a fallback), every script on the keys of one hash slot.
 * @internal
 */
export class RedisStore implements LeaseStore {
  readonly client: Client
  readonly keys: Keys
  /** Calls made, for the bench's Redis-load figure. */
  calls = 0

  constructor(client: Client, namespace: string) {
    this.client = client
    this.keys = new Keys(namespace)
    for (const [name, script] of Object.entries(scripts)) {
      if (typeof (client as unknown as Record<string, unknown>)[`steward_${name}`] !== 'function') {
        client.defineCommand(`steward_${name}`, { numberOfKeys: script.keys, lua: script.lua })
      }
    }
  }

  #run(name: ScriptName, ...args: Array<string | number>): Promise<unknown> {
    this.calls++
    return ((this.client as unknown as Record<string, Caller>)[`steward_${name}`] as Caller).apply(this.client, args)
  }

  /** The namespace's protocol version, or `undefined` when nothing was written in it yet. */
  async version(): Promise<string | undefined> {
    this.calls++
    return (await this.client.hget(this.keys.meta, 'version')) ?? undefined
  }

  async join(node: string, ttl: number): Promise<number | undefined> {
    const k = this.keys
    const [epoch, found] = (await this.#run('join', k.meta, k.epoch, k.node(node), k.members, PROTOCOL_VERSION, node, Math.ceil(ttl))) as [number, string]
    if (epoch === -1) throw new IncompatibleNamespace(k.ns, found)
    return epoch === 0 ? undefined : epoch
  }

  async renew(node: string, epoch: number, ttl: number, leaving: boolean): Promise<RenewResult> {
    const k = this.keys
    const [ok, live, version, time] = (await this.#run('renew', k.node(node), k.members, k.wardsVersion, node, epoch, Math.ceil(ttl), leaving ? '1' : '0', k.nodePrefix)) as [number, string[], string, string]
    const members: Member[] = []
    for (let i = 0; i < live.length; i += 2) {
      const entry = live[i + 1]!
      members.push({ node: live[i]!, epoch: Number.parseInt(entry, 10), leaving: entry.endsWith(':leaving') })
    }
    return { ok: ok === 1, members, wardsVersion: Number(version), time: Number(time) }
  }

  async alive(member: Member): Promise<boolean> {
    this.calls++
    return (await this.client.get(this.keys.node(member.node))) === String(member.epoch)
  }

  async leave(node: string, epoch: number): Promise<void> {
    await this.#run('leave', this.keys.node(node), this.keys.members, node, epoch)
  }

  async wards(): Promise<{ ids: string[]; version: number; finished: Map<string, Finished> }> {
    const [ids, version, flat] = (await this.#run('wards', this.keys.wards, this.keys.wardsVersion, this.keys.finished)) as [string[], string, string[]]
    const finished = new Map<string, Finished>()
    for (let i = 0; i < flat.length; i += 2) finished.set(flat[i]!, JSON.parse(flat[i + 1]!) as Finished)
    return { ids, version: Number(version), finished }
  }

  async addWards(ids: readonly string[], again = false): Promise<number> {
    let added = 0
    for (let i = 0; i < ids.length; i += 1_000) {
      added += (await this.#run('addWards', this.keys.wards, this.keys.wardsVersion, this.keys.finished, again ? '1' : '0', ...ids.slice(i, i + 1_000))) as number
    }
    return added
  }

  async retire(ward: string, finished: Finished): Promise<void> {
    await this.#run('retire', this.keys.wards, this.keys.wardsVersion, this.keys.finished, ward, JSON.stringify(finished))
  }

  async reopen(ward: string): Promise<boolean> {
    return (await this.#run('reopen', this.keys.ward(ward))) === 1
  }

  async claim(ward: string, node: string, epoch: number, notAfter: number, ifOwners: readonly Member[] = []): Promise<ClaimResult> {
    const reply = (await this.#run('claim', this.keys.ward(ward), node, epoch, Math.floor(notAfter), ...ifOwners.flatMap((owner) => [owner.node, String(owner.epoch)]))) as string[]
    if (reply[0] === 'expired') return { kind: 'expired' }
    if (reply[0] === 'finished') return { kind: 'finished', finished: { state: reply[1] as Finished['state'], reason: reply[2]!, at: 0 } }
    if (reply[0] === 'held') return { kind: 'held', owner: { node: reply[1]!, epoch: Number(reply[2]) } }
    return { kind: 'claimed', token: Number(reply[1]), checkpoint: { progress: reply[2] === '' ? undefined : reply[2], failures: Number(reply[3]) }, from: reply[4] === '' ? null : { node: reply[4]!, epoch: Number(reply[5]) } }
  }

  clockOf(ward: string): string | undefined {
    if (!('slots' in this.client)) return undefined
    const slot = hashSlot(this.keys.ward(ward))
    // The master that serves the slot now (ioredis's slot table); the slot itself until it is known.
    return this.client.slots[slot]?.[0] ?? `slot:${slot}`
  }

  async time(ward: string): Promise<number> {
    return Number(await this.#run('time', this.keys.ward(ward)))
  }

  checkpoint(ward: string, token: number, seq: number, checkpoint: Checkpoint, kept = false): Promise<WriteResult> {
    return this.#write(ward, token, seq, checkpoint, false, kept)
  }

  release(ward: string, token: number, seq: number, checkpoint: Checkpoint, kept = false): Promise<WriteResult> {
    return this.#write(ward, token, seq, checkpoint, true, kept)
  }

  finish(ward: string, token: number, seq: number, checkpoint: Checkpoint, kept: boolean, finished: Finished): Promise<WriteResult> {
    return this.#write(ward, token, seq, checkpoint, true, kept, finished)
  }

  async #write(ward: string, token: number, seq: number, checkpoint: Checkpoint, release: boolean, kept: boolean, finished?: Finished): Promise<WriteResult> {
    return (await this.#run('write', this.keys.ward(ward), token, seq, checkpoint.progress ?? '', checkpoint.failures, release ? '1' : '0', kept ? '1' : '0', finished?.state ?? '', finished?.reason ?? '')) as WriteResult
  }

  /** A fenced XADD to the ward's dead-letter stream; `false` when the token is no longer current. */
  async deadLetter(ward: string, token: number, fields: Record<string, string>): Promise<boolean> {
    const flat = Object.entries(fields).flat()
    return (await this.#run('deadLetter', this.keys.ward(ward), this.keys.dead(ward), token, ...flat)) !== null
  }

  /** Runs the user's `lua` only while `token` is the ward's current token; `keys` must be in the ward's slot. */
  async fenced(ward: string, token: number, lua: string, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<unknown> {
    return this.#user(lua, 'fenced', fencedScript).apply(this.client, [keys.length + 1, this.keys.ward(ward), ...keys, token, ...args])
  }

  /**
   * Runs the user's `lua` and moves the checkpoint to `progress` (JSON) in one script, only while
   * `token` is current and `seq` is above the last write's; `duplicate` when `progress` is already
   * the stored one. Rejects with a `STEWARD_FENCED` or `STEWARD_SUPERSEDED` reply error otherwise.
   */
  async commit(ward: string, token: number, seq: number, progress: string, lua: string, keys: readonly string[], args: ReadonlyArray<string | number>): Promise<CommitReply> {
    const reply = (await this.#user(lua, 'commit', commitScript).apply(this.client, [keys.length + 1, this.keys.ward(ward), ...keys, token, seq, progress, ...args])) as [number, unknown?]
    return reply[0] === 1 ? { kind: 'applied', reply: reply[1] ?? null } : { kind: 'duplicate' }
  }

  /** The command that runs `lua` wrapped by `wrap`: each distinct script is defined once (EVALSHA, EVAL when Redis does not know it yet). */
  #user(lua: string, kind: 'fenced' | 'commit', wrap: (body: string) => string): Caller {
    this.calls++
    let name = this.#userScripts.get(`${kind}\0${lua}`)
    if (name === undefined) {
      name = `steward_${kind}_${this.#userScripts.size}`
      this.client.defineCommand(name, { lua: wrap(lua) })
      this.#userScripts.set(`${kind}\0${lua}`, name)
    }
    return (this.client as unknown as Record<string, Caller>)[name] as Caller
  }

  readonly #userScripts = new Map<string, string>()
}

/** CRC16/XMODEM of `text`'s UTF-8 bytes, as Redis Cluster hashes keys. */
function crc16(bytes: Uint8Array): number {
  let crc = 0
  for (const byte of bytes) {
    crc ^= byte << 8
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc
}

const utf8 = new TextEncoder()

/** The Redis Cluster hash slot of `key`: of its hash tag (`{…}`, when not empty), else of the whole key. @internal */
export function hashSlot(key: string): number {
  const open = key.indexOf('{')
  if (open !== -1) {
    const close = key.indexOf('}', open + 1)
    if (close > open + 1) key = key.slice(open + 1, close)
  }
  return crc16(utf8.encode(key)) % 16_384
}

/** The namespace was written by another protocol version. */
export class IncompatibleNamespace extends Error {
  override readonly name = 'IncompatibleNamespace'
  readonly code = 'ERR_STEWARD_CLUSTER_VERSION'
  constructor(namespace: string, found: string) {
    super(`steward cluster: namespace '${namespace}' is used by protocol version '${found}'; this node speaks '${PROTOCOL_VERSION}' and refuses it (use another namespace, or run one version at a time)`)
  }
}
