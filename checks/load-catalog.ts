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
    const reason =
      error instanceof SyntaxError ? `invalid JSON: ${error.message}` : messageOf(error)
    throw new DqError('invalid_catalog', `cannot read catalog ${file}: ${reason}`)
  }
  return { ...parseCatalog(input, file), path: file }
}
