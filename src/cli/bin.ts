#!/usr/bin/env node
// The `steward` executable: runs the command line and exits with its code. `steward run` requires
// its bundle (dist/run/run-main.cjs, made by the build) and nothing else of the package; the other
// commands load their modules as compiled.

// `steward demo all | head` closes the pipe early: that is not an error.
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error
  process.exit(0)
})

const argv = process.argv.slice(2)

/**
 * `steward run`'s module: the bundle beside dist/cli/ in the package, required; from the sources
 * (no bundle), the module itself. The builtins come from `process.getBuiltinModule` (Node 20.16
 * and later): an ES module import of node:fs reads every export of it, node:fs/promises and
 * readline with them, which keeps about 1.5 MB more resident on Node 24.
 */
async function runModule(): Promise<typeof import('./run-main.js')> {
  const fs = process.getBuiltinModule?.('node:fs') ?? (await import('node:fs'))
  if (!fs.existsSync(new URL('../run/run-main.cjs', import.meta.url))) return import('./run-main.js')
  const { createRequire } = process.getBuiltinModule?.('node:module') ?? (await import('node:module'))
  return createRequire(import.meta.url)('../run/run-main.cjs') as typeof import('./run-main.js')
}

const exit: Promise<number> = argv[0] === 'run' ? runModule().then((run) => run.runMain(argv.slice(1))) : import('./main.js').then((cli) => cli.main(argv))

exit.then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    process.stderr.write(`steward: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`)
    process.exitCode = 1
  },
)
