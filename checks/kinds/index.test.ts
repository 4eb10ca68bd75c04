// A kind is one unit: its folder (schema, details, figure, tests), its SQL file,
// a registry line, a README section. This holds every kind to that.
import { access, readdir, readFile } from 'node:fs/promises'
import { describe, expect, it } from 'vitest'
import { CheckSchema, KIND_NAMES, KINDS } from './index.ts'

const ROOT = new URL('../../', import.meta.url)
const exists = (path: string) =>
  access(new URL(path, ROOT)).then(
    () => true,
    () => false,
  )

describe('the kind registry', () => {
  it('lists each kind once, and a folder exists for every kind and a kind for every folder', async () => {
    expect(new Set(KIND_NAMES).size).toBe(KIND_NAMES.length)
    const folders = (await readdir(new URL('checks/kinds/', ROOT), { withFileTypes: true }))
      .filter((entry) => entry.isDirectory())
      .map((entry) => entry.name)
      .sort()
    expect(folders).toEqual([...KIND_NAMES].sort())
  })

  it.each(KIND_NAMES)(
    '%s: its folder has a test, its SQL file defines dq.kind_<kind>, the README has its section',
    async (kind) => {
      const tests = (await readdir(new URL(`checks/kinds/${kind}/`, ROOT))).filter((f) =>
        f.endsWith('.test.ts'),
      )
      expect(tests.length).toBeGreaterThan(0)
      const sql = await readFile(new URL(`supabase/schemas/30_kind_${kind}.sql`, ROOT), 'utf8')
      expect(sql).toContain(`create or replace function dq.kind_${kind}(spec jsonb)`)
      const readme = await readFile(new URL('README.md', ROOT), 'utf8')
      expect(readme).toContain(`### \`${kind}\``)
      expect(await exists(`checks/kinds/${kind}/index.ts`)).toBe(true)
    },
  )

  it('the catalog union accepts each kind by name and names them all when the kind is wrong', () => {
    for (const kind of KINDS) {
      const parsed = CheckSchema.safeParse({ name: 'x', kind: kind.kind })
      // Missing fields, but the union picked this kind's schema (no "must be one of").
      expect(JSON.stringify(parsed.error?.issues ?? [])).not.toContain('must be one of')
    }
    const wrong = CheckSchema.safeParse({ name: 'x', kind: 'nope' })
    expect(wrong.error?.issues[0]?.message).toBe(`must be one of ${KIND_NAMES.join(', ')}`)
  })
})
