// The build's bundle step: `steward run` (dist/cli/run-main.js and everything it imports, as
// compiled by tsc) becomes dist/run/run-main.js plus chunks for what it imports lazily (the HTTP
// face). Node then resolves and compiles a few files at start instead of about fifty; resolving
// that many made V8 optimise Node's own path functions during start-up, which cost the supervisor
// about 4 MB of resident memory for good. dist/run/ sits two levels below the package's root like
// the compiled modules, so their `../../dist/…` fallbacks for files beside them still resolve.
import { build } from 'esbuild'
import { rmSync } from 'node:fs'

rmSync('dist/run', { recursive: true, force: true })
await build({
  entryPoints: ['dist/cli/run-main.js'],
  outdir: 'dist/run',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  packages: 'external',
  sourcemap: 'linked',
  logLevel: 'warning',
})
