/**
 * Whether two progress values are the same position: equal primitives, or
 * arrays / plain objects / Dates / Maps / Sets with the same contents
 * (progress is structured-cloneable data, so identity alone would miss a
 * position rebuilt by a restarted ward). @internal
 */
export function sameProgress(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false
  if (a instanceof Date) return a.getTime() === (b as Date).getTime()
  if (Array.isArray(a)) {
    const other = b as unknown[]
    return a.length === other.length && a.every((value, index) => sameProgress(value, other[index]))
  }
  if (a instanceof Map) {
    const other = b as Map<unknown, unknown>
    if (a.size !== other.size) return false
    for (const [key, value] of a) if (!other.has(key) || !sameProgress(value, other.get(key))) return false
    return true
  }
  if (a instanceof Set) {
    const other = b as Set<unknown>
    if (a.size !== other.size) return false
    for (const value of a) if (!other.has(value)) return false
    return true
  }
  const keysA = Object.keys(a)
  const keysB = Object.keys(b)
  if (keysA.length !== keysB.length) return false
  for (const key of keysA) {
    if (!Object.prototype.hasOwnProperty.call(b, key)) return false
    if (!sameProgress((a as Record<string, unknown>)[key], (b as Record<string, unknown>)[key])) return false
  }
  return true
}
