import { StringDecoder } from 'node:string_decoder'

/**
 * A `data` listener for a byte stream of text: calls `onLine` with each complete line, without
 * its `\n`. A UTF-8 character split across two chunks arrives whole. What follows the last `\n`
 * waits for the next chunk. @internal
 */
export function lineReader(onLine: (line: string) => void): (chunk: Buffer) => void {
  const decoder = new StringDecoder('utf8')
  let buffer = ''
  return (chunk) => {
    buffer += decoder.write(chunk)
    let newline
    while ((newline = buffer.indexOf('\n')) !== -1) {
      const line = buffer.slice(0, newline)
      buffer = buffer.slice(newline + 1)
      onLine(line)
    }
  }
}
