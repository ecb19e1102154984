// The build's bundle step: `steward run` (dist/cli/run-main.js and everything it imports, as
// compiled by tsc) becomes one CommonJS file, dist/run/run-main.cjs, which bin.cjs requires.
// Resolving some fifty ES modules at start made V8 optimise Node's own path functions, and an ES
// module import of a builtin reads every export of it (node:fs's loads node:fs/promises); both
// kept megabytes of the node binary resident for the supervisor's life. One file required once
// does neither. dist/run/ sits two levels below the package's root like the compiled modules, so
// their `../../dist/…` fallbacks for files beside them still resolve; `import.meta.url` becomes
// the bundle's own file URL.
// The global `performance` becomes a two-member stand-in on `process.uptime()` (the same monotonic
// clock, milliseconds since the process started): the first touch of Node's `performance` loads
// its perf_hooks modules, 1.4 MB resident on Node 24, for a clock the supervisor reads a few
// times a second.
import { build } from 'esbuild'
import { rmSync } from 'node:fs'

rmSync('dist/run', { recursive: true, force: true })
await build({
  entryPoints: ['dist/cli/run-main.js'],
  outfile: 'dist/run/run-main.cjs',
  bundle: true,
  format: 'cjs',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  define: { 'import.meta.url': '__bundleUrl', performance: '__bundlePerformance' },
  banner: {
    js: [
      'const __bundleUrl = require("node:url").pathToFileURL(__filename).href;',
      'const __bundlePerformance = { now: () => process.uptime() * 1e3, get timeOrigin() { return Date.now() - process.uptime() * 1e3 } };',
    ].join('\n'),
  },
  sourcemap: 'linked',
  logLevel: 'warning',
})
