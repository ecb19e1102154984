// TypeDoc's configuration (`npm run docs`): the API reference of every subpath the package
// exports, read from package.json so a new export is documented without editing this file.
// Any warning (a broken {@link}, an undocumented or unexported type in the API) fails the build.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

const pkg = JSON.parse(readFileSync(join(import.meta.dirname, 'package.json'), 'utf8'))

/** `./dist/x/y.js` (an export's target) → `./src/x/y.ts` (its source). */
function source(target) {
  return target.replace(/^\.\/dist\//, './src/').replace(/\.js$/, '.ts')
}

const entryPoints = Object.entries(pkg.exports)
  .filter(([subpath]) => subpath !== './package.json')
  .map(([, target]) => source(typeof target === 'string' ? target : (target.import ?? target.default)))

/** @type {import('typedoc').TypeDocOptions} */
export default {
  name: pkg.name,
  entryPoints,
  tsconfig: './tsconfig.build.json',
  out: 'docs/api',
  readme: 'README.md',
  excludeInternal: true,
  excludePrivate: true,
  treatWarningsAsErrors: true,
  validation: { notExported: true, invalidLink: true, invalidPath: true, rewrittenLink: true, notDocumented: true, unusedMergeModuleWith: true },
  // Every export must say its contract; its members are documented where they need words.
  requiredToBeDocumented: ['Namespace', 'Enum', 'Variable', 'Function', 'Class', 'Interface', 'TypeAlias'],
  disableSources: true,
}
