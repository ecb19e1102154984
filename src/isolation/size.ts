import { describe, valueError } from '../time/duration.js'

/**
 * An amount of memory: a number of bytes, or a string of one number and a unit:
 * `'512MB'`, `'1.5GiB'`, `'64KiB'`. Units: `B`; `kB`/`KB`, `MB`, `GB`, `TB` (powers of 1000);
 * `KiB`, `MiB`, `GiB`, `TiB` (powers of 1024). A unit of one letter (`'512M'`) is refused:
 * tools disagree on what it means.
 */
export type Size = number | `${number}${SizeUnit}`

/** The units a {@link Size} string may end with. */
export type SizeUnit = 'B' | 'kB' | 'KB' | 'MB' | 'GB' | 'TB' | 'KiB' | 'MiB' | 'GiB' | 'TiB'

const unitBytes: Record<SizeUnit, number> = {
  B: 1,
  kB: 1e3,
  KB: 1e3,
  MB: 1e6,
  GB: 1e9,
  TB: 1e12,
  KiB: 2 ** 10,
  MiB: 2 ** 20,
  GiB: 2 ** 30,
  TiB: 2 ** 40,
}
const pattern = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*(B|kB|KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$/

/**
 * Converts a {@link Size} to a whole number of bytes (rounded down). Throws a `TypeError` for
 * a value that is neither, and a `RangeError` for one that is not a positive finite amount;
 * the message names `option`. @internal
 */
export function toBytes(value: unknown, option: string): number {
  let bytes: number
  if (typeof value === 'number') {
    bytes = value
  } else if (typeof value === 'string') {
    const match = pattern.exec(value)
    if (match === null) {
      throw valueError(TypeError, option, `${JSON.stringify(value)} is not a size; use bytes or a string like '512MB', '1GiB' (units B, kB, MB, GB, TB, KiB, MiB, GiB, TiB)`)
    }
    bytes = Number(match[1]) * unitBytes[match[2] as SizeUnit]
  } else {
    throw valueError(TypeError, option, `expected a size (bytes or a string like '512MB'), got ${describe(value)}`)
  }
  if (!Number.isFinite(bytes)) throw valueError(RangeError, option, `must be a finite number of bytes, got ${String(value)}`)
  bytes = Math.floor(bytes)
  if (bytes <= 0) throw valueError(RangeError, option, `must be at least 1 byte, got ${String(value)}`)
  return bytes
}
