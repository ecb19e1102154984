#!/usr/bin/env node
// The `steward` executable: runs the command line and exits with its code. `steward run` loads its
// bundle (dist/run/, made by the build) and nothing else of the package; the other commands load
// their modules as compiled.
import { existsSync } from 'node:fs'

// `steward demo all | head` closes the pipe early: that is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error
  process.exit(0)
})

const argv = process.argv.slice(2)
// Beside dist/cli/ in the package; absent when this file runs from the sources.
const runBundle = new URL('../run/run-main.js', import.meta.url)
const exit: Promise<number> =
  argv[0] === 'run'
    ? (import(existsSync(runBundle) ? runBundle.href : './run-main.js') as Promise<typeof import('./run-main.js')>).then((run) => run.runMain(argv.slice(1)))
    : import('./main.js').then((cli) => cli.main(argv))

exit.then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`steward: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exitCode = 1
  },
)
