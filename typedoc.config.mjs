// TypeDoc's configuration (`npm run docs`): one site (docs/site/, git-ignored) of the README, the
// guides (docs/guides/*.md, with the cluster's design and sizing notes) and the API reference of
// every subpath the package exports, read from package.json so a new export is documented
// without editing this file. The guides keep the order below (sortEntryPoints: false).
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
  out: 'docs/site',
  readme: 'README.md',
  projectDocuments: [
    'docs/guides/concepts.md',
    'docs/guides/delivery.md',
    'docs/guides/trees.md',
    'docs/guides/isolation.md',
    'docs/guides/api.md',
    'docs/guides/testing.md',
    'docs/guides/observability.md',
    'docs/guides/cli.md',
    'docs/guides/production.md',
    'docs/guides/recipes.md',
    'docs/guides/cluster.md',
    'docs/cluster.md',
    'docs/scaling.md',
    'docs/guides/performance.md',
    'docs/guides/seed.md',
    'docs/guides/comparison.md',
  ],
  sortEntryPoints: false,
  // The search box finds words of the guides too, not only their titles (TypeDoc's default).
  searchInDocuments: true,
  highlightLanguages: ['bash', 'console', 'css', 'html', 'javascript', 'json', 'jsonc', 'json5', 'yaml', 'tsx', 'typescript', 'dockerfile', 'ini'],
  excludeInternal: true,
  excludePrivate: true,
  treatWarningsAsErrors: true,
  validation: { notExported: true, invalidLink: true, invalidPath: true, rewrittenLink: true, notDocumented: true, unusedMergeModuleWith: true },
  // Every export must say its contract; its members are documented where they need words.
  requiredToBeDocumented: ['Namespace', 'Enum', 'Variable', 'Function', 'Class', 'Interface', 'TypeAlias'],
  disableSources: true,
}
