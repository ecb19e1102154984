// The CLI stamps every JSON line, log line and control answer with the time in ISO 8601 (UTC).
// Date's own toISOString gives the same text but, called once, keeps about 1 MB more of the
// node binary resident for the process's life (on Node 20 and 24, beside a bare `node`): the
// supervisor formats it from the UTC fields instead, which cost nothing extra.

/** Two or more digits, zero-padded to `width`. */
function pad(value: number, width: number): string {
  return String(value).padStart(width, '0')
}

/**
 * `ms` (since the epoch) as `YYYY-MM-DDTHH:mm:ss.sssZ`, exactly what `new Date(ms).toISOString()`
 * returns for the years 0 to 9999. @internal
 */
export function isoTime(ms: number): string {
  const date = new Date(ms)
  return `${pad(date.getUTCFullYear(), 4)}-${pad(date.getUTCMonth() + 1, 2)}-${pad(date.getUTCDate(), 2)}T${pad(date.getUTCHours(), 2)}:${pad(date.getUTCMinutes(), 2)}:${pad(date.getUTCSeconds(), 2)}.${pad(date.getUTCMilliseconds(), 3)}Z`
}
