#!/usr/bin/env node
// The `steward` executable: runs the command line and exits with its code. A CommonJS file, so
// that `steward run` loads no ES module at all: it requires its bundle (dist/run/run-main.cjs,
// made by the build) and nothing else of the package, and Node's ES module loader never starts
// for it (0.6 MB resident on Node 24). The other commands import their modules as compiled.
import fs = require('node:fs')
import path = require('node:path')
import type * as RunMain from './run-main.js'
import type * as Main from './main.js'

const argv = process.argv.slice(2)

/**
 * `steward demo all | head` closes the pipe early: that is not an error. Listened for once the
 * command's module is loaded (nothing is written before): made before the bundle, the stdout
 * stream kept 0.5 MB more resident on Node 24.
 */
function quietOnEpipe<T>(module: T): T {
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error
    process.exit(0)
  })
  return module
}

/** `steward run`'s module: the bundle beside dist/cli/ in the package; without one (a build that made none), the module as compiled. */
async function runModule(): Promise<typeof RunMain> {
  const bundle = path.join(__dirname, '../run/run-main.cjs')
  if (!fs.existsSync(bundle)) return import('./run-main.js')
  return require(bundle) as typeof RunMain
}

const exit: Promise<number> =
  argv[0] === 'run'
    ? runModule()
        .then(quietOnEpipe)
        .then((run) => run.runMain(argv.slice(1)))
    : import('./main.js')
        .then(quietOnEpipe)
        .then((cli: typeof Main) => cli.main(argv))

exit.then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`steward: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exitCode = 1
  },
)
