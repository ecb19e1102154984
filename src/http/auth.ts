import { createHash, timingSafeEqual } from 'node:crypto'
import { isIP } from 'node:net'

/**
 * Whether `authorization` (a request's header) is `Bearer <token>`.
 * Compared in constant time: both sides are hashed first, so neither the
 * token's length nor a matching prefix shows in the time taken.
 * @internal
 */
export function bearerMatches(authorization: string | undefined, token: string): boolean {
  const given = authorization?.startsWith('Bearer ') === true ? authorization.slice('Bearer '.length) : ''
  const a = createHash('sha256').update(given).digest()
  const b = createHash('sha256').update(token).digest()
  return timingSafeEqual(a, b) && given !== ''
}

/** Whether `host` is a loopback address or name (127.0.0.0/8, ::1, localhost). @internal */
export function isLoopback(host: string): boolean {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host
  if (bare === 'localhost') return true
  if (isIP(bare) === 4) return bare.startsWith('127.')
  if (isIP(bare) === 6) return bare === '::1' || /^::ffff:127\./i.test(bare)
  return false
}
