// A byte stream of text cut into lines, in time linear in the bytes read: each chunk is searched
// once for newlines, and only the bytes of the line in progress are held (as the chunks they came
// in, joined once when the line ends). A line is decoded as UTF-8 when it is complete, so a
// character split across chunks arrives whole. With a limit, a line longer than it is handed on
// in pieces of at most that many bytes, each cut before a character, never across one; at most
// the limit is held.

const NEWLINE = 0x0a
/** The longest UTF-8 sequence: a piece cut backs off at most this many bytes minus one to a character's start. */
const LONGEST_CHARACTER = 4

/** Receives each line without its `\n`; `partial`: the line was cut at the limit and goes on in the next call. @internal */
export type OnLine = (line: string, partial: boolean) => void

/**
 * A `data` listener for a byte stream of text (`stream.on('data', reader)`), and `end` for its
 * `end` event (`stream.on('end', reader.end)`), which hands on the last line when the stream did
 * not end with a newline. @internal
 */
export interface LineReader {
  (chunk: Buffer): void
  /** The stream ended: what follows its last newline, if anything, is its last line. */
  readonly end: () => void
}

/**
 * Calls `onLine` with each line of the stream, without its `\n`. A line of more than `maxLength`
 * bytes (UTF-8) comes in pieces of at most `maxLength` bytes, every piece but the line's last one
 * marked `partial`; `maxLength` must be at least 4 (one character), `Infinity` for no limit.
 * @internal
 */
export function lineReader(onLine: OnLine, maxLength = Infinity): LineReader {
  /** The line in progress: bytes after the last newline, in the chunks they came in. */
  let held: Buffer[] = []
  let heldBytes = 0

  /** Hands on `bytes` as one line, or as pieces when it is longer than the limit (the last one `partial` unless `ends`). Returns what is left. */
  const pieces = (bytes: Buffer, ends: boolean): Buffer => {
    let start = 0
    while (bytes.length - start > maxLength) {
      let end = start + maxLength
      // Back to the start of the character the cut would split (a continuation byte is 10xxxxxx).
      for (let back = 1; back < LONGEST_CHARACTER && (bytes[end]! & 0xc0) === 0x80; back++) end--
      if ((bytes[end]! & 0xc0) === 0x80) end = start + maxLength // not UTF-8 there: cut where the limit says
      onLine(bytes.toString('utf8', start, end), true)
      start = end
    }
    if (!ends) return bytes.subarray(start)
    onLine(bytes.toString('utf8', start), false)
    return bytes.subarray(bytes.length)
  }

  const take = (last: Buffer): Buffer => {
    if (heldBytes === 0) return last
    const line = Buffer.concat([...held, last], heldBytes + last.length)
    held = []
    heldBytes = 0
    return line
  }

  const read = (chunk: Buffer): void => {
    let start = 0
    let newline: number
    while ((newline = chunk.indexOf(NEWLINE, start)) !== -1) {
      pieces(take(chunk.subarray(start, newline)), true)
      start = newline + 1
    }
    if (start === chunk.length) return
    // Copied: a small tail must not keep its whole chunk alive.
    const tail = Buffer.from(chunk.subarray(start))
    held.push(tail)
    heldBytes += tail.length
    if (heldBytes > maxLength) {
      const rest = pieces(take(Buffer.alloc(0)), false)
      if (rest.length > 0) {
        held = [rest]
        heldBytes = rest.length
      }
    }
  }
  const end = (): void => {
    if (heldBytes > 0) pieces(take(Buffer.alloc(0)), true)
  }
  return Object.assign(read, { end })
}
