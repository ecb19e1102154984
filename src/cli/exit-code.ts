import { WardStartError } from '../steward/errors.js'

/**
 * The exit code of a run that gave up because a command could not be started, as a shell gives
 * it: 127 for a command not found, 126 for one found but not executable (permission denied, not
 * an executable file). `undefined` when the give-up was not a command's start error.
 */
export function startErrorExitCode(error: Error): number | undefined {
  for (let cause: unknown = error; cause instanceof Error; cause = cause.cause) {
    if (cause instanceof WardStartError) {
      if (cause.command === undefined) return undefined
      return (cause.cause as NodeJS.ErrnoException).code === 'ENOENT' ? 127 : 126
    }
  }
  return undefined
}
