// The dq CLI against hostile or unlucky conditions: a locked history table, a
// hostile --check name, bad catalogs. It always ends, says what happened, and
// its exit code and printed duration are true.
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import postgres from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { engines, useDatabase } from '../support/databases.ts'

async function dq(args: string[], env: Record<string, string> = {}) {
  const started = Date.now()
  try {
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ['bin/dq.js', ...args], {
      env: { ...process.env, NO_COLOR: '1', DQ_DATABASE_URL: '', DQ_CATALOG: '', ...env },
    })
    return { code: 0, stdout, stderr, ms: Date.now() - started }
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr, ms: Date.now() - started }
  }
}

describe.runIf(engines().includes('postgres'))('dq run against a locked history table', () => {
  const database = useDatabase('postgres')
  let dir: string
  let catalogFile: string

  beforeAll(async () => {
    await database().exec(`
      create schema shop;
      create table shop.orders (id int primary key);
      insert into shop.orders select generate_series(1, 10);`)
    dir = await mkdtemp(join(tmpdir(), 'dq-cli-attack-'))
    catalogFile = join(dir, 'catalog.json')
    await writeFile(
      catalogFile,
      JSON.stringify({
        checks: [{ name: 'ids', kind: 'duplicates', table: 'shop.orders', columns: ['id'] }],
      }),
    )
  })
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  it('gives up on history within its lock timeout, says NOT recorded, and prints the true duration', async () => {
    const locker = postgres(database().url as string, { max: 1, onnotice: () => {} })
    try {
      const result = await locker.begin(async (tx) => {
        await tx`lock table dq.results in access exclusive mode`
        return dq(['run', '--catalog', catalogFile, '--db', database().url as string])
      })
      expect(result.code).toBe(2)
      expect(result.stderr).toMatch(/NOT recorded in history: .*lock/)
      // The history write waited for its lock (5 s), not for ever; the summary says so.
      expect(result.ms).toBeLessThan(20_000)
      const seconds = Number(/in (\d+\.\d) s/.exec(result.stdout)?.[1])
      expect(seconds).toBeGreaterThanOrEqual(4.5)
    } finally {
      await locker.end()
    }
  }, 60_000)
})

describe('hostile input to the CLI', () => {
  it('a 100 KB --check name: exit 2, the known names listed, the name not echoed whole', async () => {
    const name = 'x'.repeat(100_000)
    const result = await dq(['run', '--check', name, '--db', 'pglite:memory'])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/no check named "x+…" in the catalog/)
    expect(result.stderr.length).toBeLessThan(5_000)
  })

  it('a catalog that is not JSON, an unknown kind, SQL with ";" or a comment: exit 2 naming the field', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dq-cli-bad-'))
    try {
      const cases: [string, string][] = [
        ['{ "checks": [', 'invalid JSON'],
        [
          JSON.stringify({ checks: [{ name: 'x', kind: 'drop_table', table: 't' }] }),
          'checks[0].kind',
        ],
        [
          JSON.stringify({
            checks: [{ name: 'x', kind: 'duplicates', table: 't; drop table t', columns: ['a'] }],
          }),
          'checks[0].table',
        ],
        [
          JSON.stringify({
            checks: [{ name: 'x', kind: 'duplicates', table: 't', columns: ['a -- b'] }],
          }),
          'checks[0].columns[0]',
        ],
        [
          JSON.stringify({
            checks: [{ name: 'Robert"); drop', kind: 'duplicates', table: 't', columns: ['a'] }],
          }),
          'checks[0].name',
        ],
      ]
      for (const [text, field] of cases) {
        const file = join(dir, 'catalog.json')
        await writeFile(file, text)
        const result = await dq(['validate', '--catalog', file])
        expect(result.code, text).toBe(2)
        expect(result.stderr, text).toContain(field)
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
