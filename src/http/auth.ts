import { createHash, timingSafeEqual } from 'node:crypto'

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

