/**
 * Finds, loads and validates a catalog: a JSON file, or a TypeScript/JavaScript
 * module whose default export is the catalog object (see `defineCatalog`).
 * Without a path: DQ_CATALOG, then ./checks/catalog.json, then the catalog of
 * demo incidents shipped with dq-monitor.
 *
 * @example
 * ```ts
 * const catalog = await loadCatalog(flags.catalog)
 * const checks = selectChecks(catalog, { names: ['pwh_experience_key_stale'] })
 * ```
 */
import { access, readFile } from 'node:fs/promises'
import { extname, resolve } from 'node:path'
import { pathToFileURL } from 'node:url'
import { type Catalog, parseCatalog } from './catalog.ts'
import { DqError, messageOf } from './errors.ts'

export const BUNDLED_CATALOG = new URL('./catalog.json', import.meta.url)

export async function resolveCatalogPath(path?: string): Promise<string> {
  if (path) return resolve(path)
  if (process.env.DQ_CATALOG) return resolve(process.env.DQ_CATALOG)
  const local = resolve('checks/catalog.json')
  try {
    await access(local)
    return local
  } catch {
    return BUNDLED_CATALOG.pathname
  }
}

export async function loadCatalog(path?: string): Promise<Catalog & { path: string }> {
  const file = await resolveCatalogPath(path)
  let input: unknown
  try {
    if (extname(file) === '.json') {
      input = JSON.parse(await readFile(file, 'utf8'))
    } else {
      const module = (await import(pathToFileURL(file).href)) as { default?: unknown }
      input = module.default ?? module
    }
  } catch (error) {
    const reason =
      error instanceof SyntaxError ? `invalid JSON: ${error.message}` : messageOf(error)
    throw new DqError('invalid_catalog', `cannot read catalog ${file}: ${reason}`)
  }
  return { ...parseCatalog(input, file), path: file }
}

// Kept here too for the CLI's convenience; the Worker imports ./select-checks.ts (no node:fs).
export { type Selection, selectChecks } from './select-checks.ts'
