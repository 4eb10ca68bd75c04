// supabase/schemas is the one definition of every dq object; supabase/migrations
// is generated from it. Three ways to build a database end in the same one:
// the schema files applied in order, the migrations (`dq migrate`), and a
// database migrated by 0.1.0's seven files, then upgraded with `dq migrate`.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { loadMigrations, SCHEMAS_DIR } from '../db/migrations.ts'
import { engines, openTestDatabase, type TestDatabase } from './support/databases.ts'
import { SCHEMA_SNAPSHOT_SQL } from './support/schema-snapshot.ts'

const OLD_MIGRATIONS = new URL('./fixtures/migrations-0.1.0/', import.meta.url)

type Handle = TestDatabase & { close(): Promise<void> }

async function snapshot(database: TestDatabase): Promise<Record<string, unknown>> {
  const [row] = await database.query<{ snapshot: Record<string, unknown> }>(SCHEMA_SNAPSHOT_SQL)
  if (!row) throw new Error('no snapshot')
  return typeof row.snapshot === 'string' ? JSON.parse(row.snapshot) : row.snapshot
}

async function applyFiles(database: TestDatabase, dir: URL) {
  for (const file of await loadMigrations(dir)) await database.exec(file.sql)
}

describe.each(engines())('schemas and migrations on %s', (engine) => {
  const handles: Handle[] = []
  const open = async () => {
    const handle = await openTestDatabase(engine)
    handles.push(handle)
    return handle
  }
  let fromSchemas: Handle
  let fromMigrations: Handle
  let upgraded: Handle

  beforeAll(async () => {
    fromSchemas = await open()
    await applyFiles(fromSchemas, SCHEMAS_DIR)
    fromMigrations = await open()
    await fromMigrations.db.migrate()
    upgraded = await open()
    await applyFiles(upgraded, OLD_MIGRATIONS)
    await upgraded.db.migrate()
  }, 180_000)

  afterAll(async () => {
    for (const handle of handles) await handle.close()
  })

  it('the migrations build what the schema files define', async () => {
    const expected = await snapshot(fromSchemas)
    expect(Object.keys(expected.functions as object).length).toBeGreaterThan(40)
    expect(await snapshot(fromMigrations)).toEqual(expected)
  })

  it('a database migrated by 0.1.0 upgrades to the same state with dq migrate', async () => {
    expect(await snapshot(upgraded)).toEqual(await snapshot(fromSchemas))
  })

  it('migrating again changes nothing', async () => {
    const before = await snapshot(fromMigrations)
    await fromMigrations.db.migrate()
    expect(await snapshot(fromMigrations)).toEqual(before)
  })

  it('the comparison sees a changed SET clause, a dropped index and a grant', async () => {
    const control = await open()
    await control.db.migrate()
    const base = await snapshot(control)
    await control.exec(`alter function dq.run_check(jsonb) set statement_timeout = '20s'`)
    const changedSet = await snapshot(control)
    expect(changedSet).not.toEqual(base)
    await control.exec(`alter function dq.run_check(jsonb) set statement_timeout = '55s'`)
    expect(await snapshot(control)).toEqual(base)
    await control.exec('drop index dq.results_run_idx')
    expect(await snapshot(control)).not.toEqual(base)
    await control.exec('create index results_run_idx on dq.results (run_id)')
    expect(await snapshot(control)).toEqual(base)
    await control.exec('grant select on dq.runs to public')
    expect(await snapshot(control)).not.toEqual(base)
  })

  it('0.1.0 leaves objects that no longer exist; the upgrade drops them', async () => {
    const names = async (database: TestDatabase) =>
      (
        await database.query<{ proname: string }>(
          `select proname from pg_proc where pronamespace = 'dq'::regnamespace order by 1`,
        )
      ).map((r) => r.proname)
    expect(await names(upgraded)).not.toContain('duplicate_sample_ids')
    expect(await names(upgraded)).not.toContain('check_duplicates')
    expect(await names(upgraded)).toContain('kind_duplicates')
  })
})

describe('the generated migrations carry every schema file as it is now', () => {
  it('each schema file appears, whole, in a migration', async () => {
    const migrations = (await loadMigrations()).map((m) => m.sql).join('\n')
    const stale = (await loadMigrations(SCHEMAS_DIR))
      .filter((schema) => !migrations.includes(schema.sql.trimEnd()))
      .map((schema) => `supabase/schemas/${schema.name}`)
    // The fix, when this fails: npm run migration -- new <name> <each file listed>
    expect(stale).toEqual([])
  })
})
