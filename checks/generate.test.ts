// Checks generated from a registry table: expanded inside the database at
// every run, placeholders written as quoted identifiers, hostile rows giving
// their own check an error and changing nothing, on PGlite and PostgreSQL.
import { beforeAll, describe, expect, it } from 'vitest'
import { engines, useDatabase } from '../test/support/databases.ts'
import { parseCatalog } from './catalog.ts'
import { expandCatalog } from './generate.ts'
import { runChecks } from './run-checks.ts'

const FIXTURE = `
  create schema reg;
  create schema src;
  create schema dst;
  create table src.a (k text); insert into src.a values ('1'), ('2'), ('3');
  create table dst.a (k text); insert into dst.a values ('1'), ('2');
  create table src."Mixed Case" (k text); insert into src."Mixed Case" values ('x');
  create table dst.b (k text); insert into dst.b values ('x');
  create table src.victim (k text); insert into src.victim values ('v');
  create table reg.registry (
    workflow text primary key, source_table text, target_table text, key_column text, active boolean
  );
  insert into reg.registry values
    ('alpha',          'src.a',                             'dst.a',      'k',     true),
    ('mixed',          'src."Mixed Case"',                  'dst.b',      'k',     true),
    ('semicolon',      'src.a; drop table src.victim',      'dst.a',      'k',     true),
    ('no_column',      'src.a',                             'dst.a',      'nope',  true),
    ('missing_table',  'src.a',                             'dst.missing','k',     true),
    ('null_target',    'src.a',                             null,         'k',     true),
    ('Alpha!',         'src.a',                             'dst.a',      'k',     true),
    ('alpha?',         'src.a',                             'dst.a',      'k',     true),
    ('quote"d',        'src.a',                             'dst.a',      'k"; --',true),
    ('hidden',         'src."a""; drop table src.victim; --"', 'dst.a',  'k',     true),
    ('inactive',       'src.a',                             'dst.a',      'k',     false);
`

const generator = (extra: Record<string, unknown> = {}) => ({
  generate: {
    name: '{workflow}_gap',
    from: 'reg.registry',
    where: 'active',
    check: {
      kind: 'coverage_gap',
      source: { table: '{source_table}', key: '{key_column}' },
      target: { table: '{target_table}', key: '{key_column}' },
      owner: '@registry',
    },
    ...extra,
  },
})

describe.each(engines())('generated checks on %s', (engine) => {
  const database = useDatabase(engine)
  beforeAll(async () => {
    await database().exec(FIXTURE)
  })

  const expand = (checks: unknown[]) => expandCatalog(database().db, parseCatalog({ checks }))

  it('one check per matching row, named from it; the rest of the catalog first', async () => {
    const catalog = await expand([
      { name: 'static_one', kind: 'duplicates', table: 'src.a', columns: ['k'] },
      generator(),
    ])
    const names = catalog.checks.map((c) => c.name)
    expect(names[0]).toBe('static_one')
    expect(names.slice(1).sort()).toEqual(
      [
        'alpha_gap',
        'alpha_gap',
        'alpha_gap',
        'hidden_gap',
        'missing_table_gap',
        'mixed_gap',
        'no_column_gap',
        'null_target_gap',
        'quote_d_gap',
        'semicolon_gap',
      ].sort(),
    )
    // Every run expands in the same order.
    expect((await expand([generator()])).checks.map((c) => c.name)).toEqual(names.slice(1))
    const mixed = catalog.checks.find((c) => c.name === 'mixed_gap')
    expect(mixed).toMatchObject({
      kind: 'coverage_gap',
      owner: '@registry',
      source: { table: 'src."Mixed Case"', key: 'k' },
      target: { table: 'dst.b', key: 'k' },
      generated: {
        by: 'generate_gap',
        from: 'reg.registry',
        row: expect.objectContaining({ workflow: 'mixed' }),
      },
    })
  })

  it('three rows that normalise to one name: each an error naming the others', async () => {
    const catalog = await expand([generator()])
    const alphas = catalog.checks.filter((c) => c.name === 'alpha_gap')
    expect(alphas).toHaveLength(3)
    for (const check of alphas) {
      expect(check.generated?.error).toMatch(/generated name "alpha_gap" is also the name of row/)
    }
  })

  it('a run: good rows measured, hostile rows errors naming the field, nothing changed', async () => {
    const catalog = await expand([generator()])
    const run = await runChecks(database().db, catalog.checks, { trigger: 'cli' })
    const byName = Object.fromEntries(run.results.map((r) => [r.check, r]))
    expect(byName.mixed_gap).toMatchObject({ status: 'pass', value: 0 })
    expect(byName.semicolon_gap).toMatchObject({ status: 'error', error_code: 'invalid_catalog' })
    expect(byName.semicolon_gap?.error).toMatch(
      /generate\.check\.source\.table: \{source_table\} is src\.a; drop table src\.victim, which is not a name/,
    )
    expect(byName.no_column_gap).toMatchObject({ status: 'error' })
    expect(byName.no_column_gap?.error).toMatch(/column "nope" does not exist/)
    expect(byName.missing_table_gap?.error).toMatch(
      /check field "target.table": relation "dst.missing" does not exist/,
    )
    expect(byName.null_target_gap?.error).toMatch(
      /generate\.check\.target\.table: \{target_table\} is empty in this row/,
    )
    expect(byName.quote_d_gap).toMatchObject({ status: 'error', error_code: 'invalid_catalog' })
    expect(byName.quote_d_gap?.error).toBe(
      'generate.check.source.key: {key_column} is k"; --, which is not a name (a value is read as an identifier, never as SQL)',
    )
    // A valid quoted name hiding ";" and "--": written as one quoted identifier, then refused
    // as a check field like any hand-written one, before it reaches the database.
    expect(byName.hidden_gap).toMatchObject({ status: 'error', error_code: 'invalid_catalog' })
    expect(byName.hidden_gap?.error).toBe(
      'generate.check.source.table: must be a single SQL expression: no ";"; generate.check.source.table: must not contain SQL comments ("--" or "/*")',
    )
    expect(run.recorded).toBe(true)
    const [victim] = await database().query<{ n: number }>(
      'select count(*)::int as n from src.victim',
    )
    expect(victim?.n).toBe(1)
  })

  it('a generator whose table is missing is one error, named by its id; the other checks run', async () => {
    const catalog = await expand([
      { name: 'static_one', kind: 'duplicates', table: 'src.a', columns: ['k'] },
      generator({ from: 'reg.nope' }),
    ])
    expect(catalog.checks.map((c) => c.name)).toEqual(['static_one', 'generate_gap'])
    const run = await runChecks(database().db, catalog.checks, { trigger: 'cli', record: false })
    expect(run.results[0]?.status).toBe('pass')
    expect(run.results[1]).toMatchObject({ status: 'error', check: 'generate_gap' })
    expect(run.results[1]?.error).toMatch(
      /generator generate_gap could not expand: check field "generate.from": relation "reg.nope" does not exist/,
    )
  })

  it('a generated name a catalog check has is an error, not a second check of that name', async () => {
    const catalog = await expand([
      { name: 'mixed_gap', kind: 'duplicates', table: 'src.a', columns: ['k'] },
      generator(),
    ])
    const mixed = catalog.checks.filter((c) => c.name === 'mixed_gap')
    expect(mixed).toHaveLength(2)
    expect(mixed[1]?.generated?.error).toMatch(/already the name of a check in the catalog/)
  })
})

describe('the generator in the catalog', () => {
  const issues = (entry: unknown) => {
    try {
      parseCatalog({ checks: [entry] })
      return []
    } catch (error) {
      return ((error as { details: { path: string; message: string }[] }).details ?? []).map(
        (i) => i.path,
      )
    }
  }

  it('a placeholder inside an expression, no placeholder in the name, a bad check template: errors with paths', () => {
    expect(
      issues(
        generator({
          check: {
            kind: 'coverage_gap',
            source: { table: '{source_table}', key: 'lower({key_column})' },
            target: { table: 't', key: 'k' },
          },
        }),
      ),
    ).toContain('checks[0].generate.check.source.key')
    expect(issues(generator({ name: 'fixed_name' }))).toEqual(['checks[0].generate.name'])
    expect(
      issues(generator({ check: { kind: 'coverage_gap', source: { table: '{t}' } } })),
    ).toEqual(
      expect.arrayContaining([
        'checks[0].generate.check.source.key',
        'checks[0].generate.check.target',
      ]),
    )
    expect(issues(generator({ from: 'reg.registry; drop table x' }))).toEqual([
      'checks[0].generate.from',
    ])
  })
})
