/**
 * Finds, loads and validates a catalog: a JSON file, or a TypeScript/JavaScript
 * module whose default export is the catalog object (see `defineCatalog`).
 * Without a path: DQ_CATALOG from the environment the caller passes, then
 * ./checks/catalog.json, then the catalog of demo incidents shipped with
 * dq-monitor.
 *
 * @example
 * ```ts
 * const catalog = await loadCatalog({ path: flags.catalog, env: process.env })
 * const checks = selectChecks(catalog, { names: ['pwh_experience_key_stale'] })
 * ```
 */
import { access, readFile } from 'node:fs/promises'
import { extname, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { DqError, messageOf } from '../kernel/errors.ts'
import { type Catalog, parseCatalog } from './catalog.ts'

/** The demo catalog shipped with dq-monitor. */
export const BUNDLED_CATALOG = fileURLToPath(new URL('./catalog.json', import.meta.url))

export type CatalogSource = {
  /** --catalog FILE */
  path?: string | undefined
  /** Where DQ_CATALOG is read from (process.env in the CLI). */
  env?: { DQ_CATALOG?: string | undefined }
}

async function resolveCatalogPath(source: CatalogSource = {}): Promise<string> {
  if (source.path) return resolve(source.path)
  const fromEnv = source.env?.DQ_CATALOG?.trim()
  if (fromEnv) return resolve(fromEnv)
  const local = resolve('checks/catalog.json')
  try {
    await access(local)
    return local
  } catch {
    return BUNDLED_CATALOG
  }
}

export async function loadCatalog(source: CatalogSource = {}): Promise<Catalog & { path: string }> {
  const file = await resolveCatalogPath(source)
  let input: unknown
  try {
    if (extname(file) === '.json') {
      input = JSON.parse(await readFile(file, 'utf8'))
    } else {
      const module = (await import(pathToFileURL(file).href)) as { default?: unknown }
      input = module.default ?? module
    }
  } catch (error) {
    throw new DqError('invalid_catalog', `cannot read catalog ${file}: ${unreadable(file, error)}`)
  }
  return { ...parseCatalog(input, file), path: file }
}

/** Why a catalog file could not be read, with the line where a syntax error is. */
function unreadable(file: string, error: unknown): string {
  if (!(error instanceof SyntaxError)) return messageOf(error)
  // JSON.parse says "(line 3 column 17)"; a module's stack starts with "<file>:<line>".
  if (extname(file) === '.json') return `invalid JSON: ${error.message}`
  const where = error.stack?.split('\n')[0]?.match(/:(\d+)$/)?.[1]
  return `syntax error${where ? ` on line ${where}` : ''}: ${error.message}`
}

const counted = (n: number, one: string) => `${n} ${one}${n === 1 ? '' : 's'}`

/**
 * How commands name the catalog they use: its path, whether it is the demo
 * catalog dq-monitor ships (the last fallback: easy to run by mistake against
 * your database), and what it holds ("20 checks and 1 generator").
 */
export function describeCatalog(catalog: Catalog & { path: string }): string {
  const bundled = catalog.path === BUNDLED_CATALOG ? ' (the bundled demo catalog)' : ''
  const generators = catalog.generators.length
  return `${catalog.path}${bundled}: ${counted(catalog.checks.length, 'check')}${generators ? ` and ${counted(generators, 'generator')}` : ''}`
}
