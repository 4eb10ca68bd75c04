import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { DqError } from '../kernel/errors.ts'
import { loadCatalog } from './load-catalog.ts'

async function file(name: string, text: string): Promise<string> {
  const path = join(await mkdtemp(join(tmpdir(), 'dq-catalog-')), name)
  await writeFile(path, text)
  return path
}

async function failure(path: string): Promise<DqError> {
  const error = await loadCatalog({ path }).catch((e: unknown) => e)
  expect(error).toBeInstanceOf(DqError)
  expect((error as DqError).code).toBe('invalid_catalog')
  return error as DqError
}

// A TypeScript syntax error is reported through the real CLI (test/cli.test.ts): under
// vitest, imports go through Vite's transform, not Node's.
describe('loadCatalog', () => {
  it('a JSON syntax error says JSON, and where', async () => {
    const path = await file(
      'catalog.json',
      '{\n  "checks": [\n    { "name": "x" "kind": 1 }\n  ]\n}\n',
    )
    const error = await failure(path)
    expect(error.message).toContain(`cannot read catalog ${path}: invalid JSON:`)
    expect(error.message).toContain('line 3')
  })

  it('a TypeScript catalog that parses is validated like JSON', async () => {
    const path = await file(
      'catalog.ts',
      "export default { checks: [{ name: 'x', kind: 'duplicates', table: 't.a', columns: ['a'] }] }\n",
    )
    const catalog = await loadCatalog({ path })
    expect(catalog.checks.map((c) => c.name)).toEqual(['x'])
    expect(catalog.path).toBe(path)
  })
})
