// Node strips TypeScript types but does not compile JSX: the status pages
// (status/**/*.tsx, hono/jsx) are compiled as they load (bin/tsx-loader.js).
// Every other file loads as Node loads it. Imported by bin/dq.js; elsewhere
// `node --import ./bin/tsx-hooks.js FILE.ts`.
import module from 'node:module'
import { isTsx, tsxInput } from './tsx-loader.js'

if (module.registerHooks) {
  // Node 22.15+: synchronous hooks in this thread; esbuild loads on the first .tsx only.
  const require = module.createRequire(import.meta.url)
  module.registerHooks({
    load(url, context, nextLoad) {
      if (!isTsx(url)) return nextLoad(url, context)
      const { code } = require('esbuild').transformSync(...tsxInput(url))
      return { format: 'module', source: code, shortCircuit: true }
    },
  })
} else {
  module.register('./tsx-loader.js', import.meta.url)
}
