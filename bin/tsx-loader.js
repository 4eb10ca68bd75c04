// How a .tsx file becomes JavaScript for Node (see bin/tsx-hooks.js): esbuild,
// the compiler wrangler bundles the Worker with, with the JSX settings
// tsconfig.json gives tsc and Vite (jsx "react-jsx", jsxImportSource "hono/jsx").
// Also the asynchronous `load` hook that `module.register` runs on Node 22.12–22.14.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

export const isTsx = (url) => url.startsWith('file:') && url.endsWith('.tsx')

/** The source and esbuild options of a .tsx file's URL. */
export function tsxInput(url) {
  const path = fileURLToPath(url)
  return [
    readFileSync(path, 'utf8'),
    {
      loader: 'tsx',
      format: 'esm',
      jsx: 'automatic',
      jsxImportSource: 'hono/jsx',
      sourcefile: path,
      sourcemap: 'inline',
      target: 'node22',
    },
  ]
}

export async function load(url, context, nextLoad) {
  if (!isTsx(url)) return nextLoad(url, context)
  const { transform } = await import('esbuild')
  const { code } = await transform(...tsxInput(url))
  return { format: 'module', source: code, shortCircuit: true }
}
