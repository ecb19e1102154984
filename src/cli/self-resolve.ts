// `import { defineConfig } from 'steward'` in a config file must load wherever steward itself is
// installed: in the project, globally (`npm install -g steward`) or only in npx's cache. The CLI
// therefore resolves `steward` and `steward/…` to its own copy for every module it loads, with
// Node's module customization hooks. One copy also keeps the library's symbols one: a ward built
// in the config by `processWard` from another copy would not be recognised by this one.
import * as nodeModule from 'node:module'

/** Whether `specifier` names this package or one of its subpaths. */
function isSteward(specifier: string): boolean {
  return specifier === 'steward' || specifier.startsWith('steward/')
}

/**
 * The async hook module for `module.register` (Node 20 and 22 before `registerHooks`): a
 * `steward` specifier is resolved as if imported from this package's own `package.json`, where
 * Node's self-reference through `exports` finds it.
 */
const asyncHooks = `
let parentURL
export function initialize(data) { parentURL = data.parentURL }
export async function resolve(specifier, context, next) {
  return specifier === 'steward' || specifier.startsWith('steward/') ? next(specifier, { ...context, parentURL }) : next(specifier, context)
}
`

let installed = false

/**
 * Makes `steward` and `steward/…` resolve to this copy of the package in every module imported
 * after the call (a config file and what it imports). Idempotent. Uses `module.registerHooks`
 * where Node has it (in-thread, synchronous), `module.register` otherwise; on a Node with
 * neither, resolution stays Node's own.
 * @internal
 */
export function resolveStewardToSelf(): void {
  if (installed) return
  installed = true
  // dist/cli/ (or src/cli/ under tsx) → the package's root.
  const parentURL = new URL('../../package.json', import.meta.url).href
  const hooks = nodeModule as typeof nodeModule & {
    registerHooks?: (hooks: { resolve: (specifier: string, context: object, next: (specifier: string, context?: object) => unknown) => unknown }) => unknown
  }
  if (typeof hooks.registerHooks === 'function') {
    hooks.registerHooks({
      resolve: (specifier, context, next) => (isSteward(specifier) ? next(specifier, { ...context, parentURL }) : next(specifier, context)),
    })
  } else if (typeof nodeModule.register === 'function') {
    nodeModule.register(`data:text/javascript,${encodeURIComponent(asyncHooks)}`, { data: { parentURL } })
  }
}
