// The names the dispatcher (main.ts) needs before it loads a command's module: each command
// loads only what it uses (`steward status` no supervisor, `steward run` no demo or dashboard).

/** The commands that talk to a running steward through its control socket. */
export const controlCommands = ['status', 'restart', 'stop', 'start', 'reload', 'logs'] as const
/** One of {@link controlCommands}. */
export type ControlCommand = (typeof controlCommands)[number]

/** The demos `steward demo` knows, in the order its usage lists them (demo.ts has one scenario for each). */
export const demoNames = ['s1', 's2', 's3', 's4', 'tree', 'cpu-hang', 'process'] as const
/** What `steward demo all` replays: the seed's four. */
export const allDemoNames: readonly string[] = ['s1', 's2', 's3', 's4']
/** The demos that run real threads or processes: no `--virtual`. */
export const realTimeOnlyDemos: readonly string[] = ['cpu-hang', 'process']
