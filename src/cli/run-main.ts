// `steward run`'s whole entry: parse and validate, then supervise the one command in the
// foreground. The build bundles this module and what it imports into one CommonJS file,
// dist/run/run-main.cjs (see scripts/bundle-run.mjs), which bin.cjs requires for `steward run`: one
// file in place of about fifty keeps the supervisor's resident memory small. `steward run` shares
// no objects with modules outside the bundle, so a second copy of the engine's classes in it is
// never seen.
import { UsageError } from './flags.js'
import { commandPrinter } from './output.js'
import { parseRun, runCommand, runUsage } from './run.js'
import { takeNotifyEnv } from './sd-notify.js'

/** `steward run ARGV…` (the words after `run`); returns the exit code: 2 for a usage mistake, named before anything starts. */
export async function runMain(argv: readonly string[], write: (line: string) => void = (line) => process.stdout.write(`${line}\n`)): Promise<number> {
  // Before the child's environment is made from steward's: it must not inherit it.
  const notify = takeNotifyEnv(process.env)
  try {
    const plan = parseRun(argv)
    if (plan.help) {
      write(runUsage)
      return 0
    }
    return await runCommand(plan, { printer: commandPrinter(plan.json, write), notify })
  } catch (error) {
    if (!(error instanceof UsageError)) throw error
    // A UsageError of the command itself already starts with `steward run:` (not twice).
    process.stderr.write(`${error.where === 'steward run' ? error.message : `steward run: ${error.message}`}\n`)
    return 2
  }
}
