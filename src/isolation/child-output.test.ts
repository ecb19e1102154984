import { test } from 'node:test'
import assert from 'node:assert/strict'
import type { StewardEvent } from '../observe/events.js'
import { checkLeaks, noLeaks } from '../testing/leaks.js'
import { steward } from '../steward/steward.js'
import { liveChildren, processWard } from './process-ward.js'

// A process ward's child output: the last line arrives with or without its newline, before the
// failure it explains; a long line comes in marked pieces of at most maxLineLength bytes.

test("a crash's last words without a newline arrive, as a stderr line event and through onLine, before the failure", { timeout: 30_000 }, async () => {
  const seen: string[] = []
  const heard: string[] = []
  const { result: outcome, leaks } = await checkLeaks(
    () =>
      steward(processWard('sh', ['-c', 'echo usage >&2; printf "fatal: config missing" >&2; exit 3'], { onLine: (stream, line, partial) => heard.push(`${stream} ${line} ${partial}`) }), {
        restart: 'temporary',
      }).start({
        onEvent: (event: StewardEvent) => {
          if (event.type === 'line') seen.push(`${event.stream} ${event.line}${event.partial === true ? ' (partial)' : ''}`)
          else if (event.type === 'failed') seen.push(`failed: ${event.error.message}`)
        },
      }).done,
  )
  assert.equal(outcome.kind, 'gave-up')
  assert.deepEqual(seen, ['stderr usage', 'stderr fatal: config missing', 'failed: sh exited with code 3'])
  assert.deepEqual(heard, ['stderr usage false', 'stderr fatal: config missing false'])
  assert.deepEqual(leaks, noLeaks)
  assert.equal(liveChildren.size, 0)
})

test('the last words after a flood of output arrive, whole, after it', { timeout: 30_000 }, async () => {
  // 1 MB on stderr first: at the child's exit its last lines may still be in the pipe, unread.
  for (let round = 0; round < 3; round++) {
    const lines: string[] = []
    const outcome = await steward(
      processWard('sh', ['-c', 'head -c 1000000 /dev/zero | tr "\\0" x >&2; printf "\\nlast words" >&2; exit 3'], {
        maxLineLength: '2MiB',
        onLine: (_, line) => lines.push(line.length > 20 ? `${line.length} bytes` : line),
      }),
      { restart: 'temporary' },
    ).start().done
    assert.equal(outcome.kind, 'gave-up')
    assert.deepEqual(lines, ['1000000 bytes', 'last words'], `round ${round}`)
  }
  assert.equal(liveChildren.size, 0)
})

test('a 32 MiB line on stdout comes in pieces of at most maxLineLength, every byte once, the last piece unmarked; stdout and stderr stay apart', { timeout: 60_000 }, async () => {
  const size = 32 * 1024 * 1024
  const script = `process.stderr.write('before\\n'); process.stdout.write(Buffer.alloc(${size}, 'y')); process.stdout.write('\\nafter'); process.stderr.write('end')`
  for (const [maxLineLength, pieceBytes] of [[undefined, 65_536], ['1MiB', 1_048_576]] as const) {
    const pieces: Array<{ bytes: number; partial: boolean }> = []
    const other: string[] = []
    let partialEvents = 0
    const outcome = await steward(
      processWard(process.execPath, ['-e', script], {
        ...(maxLineLength === undefined ? {} : { maxLineLength }),
        onLine: (stream, line, partial) => {
          if (stream === 'stdout' && line.startsWith('y')) pieces.push({ bytes: Buffer.byteLength(line), partial })
          else other.push(`${stream} ${line} ${partial}`)
        },
      }),
      { restart: 'transient', startTimeout: '30s' },
    ).start({ onEvent: (event) => void (event.type === 'line' && event.partial === true && partialEvents++) }).done
    assert.equal(outcome.kind, 'completed')
    assert.equal(pieces.length, size / pieceBytes, String(maxLineLength))
    assert.ok(pieces.every((piece) => piece.bytes === pieceBytes))
    assert.equal(pieces.reduce((sum, piece) => sum + piece.bytes, 0), size)
    assert.deepEqual(
      pieces.map((piece) => piece.partial),
      [...Array.from({ length: pieces.length - 1 }, () => true), false],
    )
    assert.equal(partialEvents, pieces.length - 1, 'the line events are marked the same way')
    assert.deepEqual(other.sort(), ['stderr before false', 'stderr end false', 'stdout after false'])
  }
  assert.equal(liveChildren.size, 0)
})

test('bad maxLineLength is refused, naming the option', () => {
  assert.throws(() => processWard('sh', [], { maxLineLength: 3 }), /option 'maxLineLength' must be at least 4 bytes/)
  assert.throws(() => processWard('sh', [], { maxLineLength: '64K' as never }), /option 'maxLineLength': "64K" is not a size/)
  assert.throws(() => processWard('sh', [], { maxLineLength: -1 }), /option 'maxLineLength': must be at least 1 byte/)
})
