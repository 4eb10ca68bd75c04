// raw_vs_enriched: edge cases of dq.check_raw_vs_enriched, on PGlite and real PostgreSQL.

import { beforeAll, describe, expect, it } from 'vitest'
import { parseCatalog } from '../../../checks/catalog.ts'
import { measureCheck } from '../../../checks/store.ts'
import { DqError } from '../../../kernel/errors.ts'
import { RUN, rejection, spec } from '../../../test/support/checks.ts'
import { engines, useDatabase } from '../../../test/support/databases.ts'

const FIXTURE = `
create schema rve;

-- k1 x3, k2 x2, k3 x1, k4 x2, k5 x1 and two rows without a key.
create table rve.raw (id serial primary key, job_key text, source text);
insert into rve.raw (job_key, source) values
  ('k1', 'api'), ('k1', 'api'), ('k1', 'csv'),
  ('k2', 'api'), ('k2', 'csv'),
  ('k3', 'api'),
  ('k4', 'csv'), ('k4', 'csv'),
  ('k5', 'api'),
  (null, 'api'), (null, 'csv');

-- k1, k3 and k5 were enriched (k3 failed); k9 has no raw row.
create table rve.enriched (job_key text, status text);
insert into rve.enriched values ('k1', 'ok'), ('k1', 'ok'), ('k3', 'failed'), ('k5', 'ok'), ('k9', 'ok');

-- Arrival times relative to now(): only 'a' was enriched.
create table rve.timed_raw (job_key text, fetched_at timestamptz);
insert into rve.timed_raw values
  ('old', now() - interval '3 days'),
  ('c', now() - interval '30 hours'),
  ('a', now() - interval '10 hours'),
  ('a', now() - interval '5 hours'),
  (null, now() - interval '3 hours'),
  ('b', now() - interval '2 hours'),
  ('fresh', now() - interval '10 minutes');
create table rve.timed_enriched (job_key text);
insert into rve.timed_enriched values ('a');

create view rve.raw_api as select * from rve.raw where source = 'api';
`

const ZERO = {
  raw_rows: 0,
  distinct_keys: 0,
  null_key_rows: 0,
  collapsed: 0,
  matched_keys: 0,
  lost_keys: 0,
  lost_rows: 0,
  ratio: 0,
}

describe.each(engines())('raw_vs_enriched on %s', (engine) => {
  const database = useDatabase(engine)
  const run = (input: Record<string, unknown>) =>
    measureCheck(database().db, spec({ kind: 'raw_vs_enriched', ...input }), RUN)
  const raw = { table: 'rve.raw', key: 'job_key' }
  const enriched = { table: 'rve.enriched', key: 'job_key' }
  const timed = (window?: string, grace?: string) =>
    run({
      raw: { table: 'rve.timed_raw', key: 'job_key', time: 'fetched_at' },
      enriched: { table: 'rve.timed_enriched', key: 'job_key' },
      ...(window ? { window } : {}),
      ...(grace ? { grace } : {}),
    })

  beforeAll(async () => {
    await database().exec(FIXTURE)
  })

  it('separates the expected collapse from the loss; NULL keys are lost rows, not lost keys', async () => {
    const m = await run({ raw, enriched })
    expect(m.value).toBe(6)
    expect(m.details).toEqual({
      raw_rows: 11,
      distinct_keys: 5,
      null_key_rows: 2,
      collapsed: 4,
      matched_keys: 3,
      lost_keys: 2,
      lost_rows: 6,
      ratio: 0.545455,
    })
    expect(m.sample).toEqual([
      { job_key: 'k2', rows: 2 },
      { job_key: 'k4', rows: 2 },
      { job_key: null, rows: 2 },
    ])
  })

  it('where on both sides', async () => {
    const m = await run({
      raw: { ...raw, where: "source = 'api'" },
      enriched: { ...enriched, where: "status = 'ok'" },
    })
    expect(m.value).toBe(3)
    expect(m.details).toEqual({
      raw_rows: 6,
      distinct_keys: 4,
      null_key_rows: 1,
      collapsed: 1,
      matched_keys: 2,
      lost_keys: 2,
      lost_rows: 3,
      ratio: 0.5,
    })
    expect(m.sample).toEqual([
      { job_key: 'k2', rows: 1 },
      { job_key: 'k3', rows: 1 },
      { job_key: null, rows: 1 },
    ])
  })

  it('a view as raw', async () => {
    const m = await run({ raw: { table: 'rve.raw_api', key: 'job_key' }, enriched })
    expect(m.details).toMatchObject({ raw_rows: 6, distinct_keys: 4, lost_keys: 1, lost_rows: 2 })
  })

  it('everything enriched: nothing lost', async () => {
    const m = await run({ raw: { ...raw, where: "job_key in ('k1', 'k5')" }, enriched })
    expect(m).toEqual({
      value: 0,
      details: {
        raw_rows: 4,
        distinct_keys: 2,
        null_key_rows: 0,
        collapsed: 2,
        matched_keys: 2,
        lost_keys: 0,
        lost_rows: 0,
        ratio: 0,
      },
      sample: [],
    })
  })

  describe('time, window and grace', () => {
    it('leaves out rows older than the window and younger than the grace period', async () => {
      const m = await timed('24 hours', '1 hour')
      expect(m.value).toBe(2)
      expect(m.details).toEqual({
        raw_rows: 4,
        distinct_keys: 2,
        null_key_rows: 1,
        collapsed: 1,
        matched_keys: 1,
        lost_keys: 1,
        lost_rows: 2,
        ratio: 0.5,
      })
      expect(m.sample).toEqual([
        { job_key: 'b', rows: 1 },
        { job_key: null, rows: 1 },
      ])
    })

    it('window alone: rows up to now count', async () => {
      const m = await timed('24 hours')
      expect(m.details).toMatchObject({ raw_rows: 5, distinct_keys: 3, lost_keys: 2, lost_rows: 3 })
    })

    it('grace alone: every row older than the grace period counts', async () => {
      const m = await timed(undefined, '1 hour')
      expect(m.details).toMatchObject({ raw_rows: 6, distinct_keys: 4, lost_keys: 3, lost_rows: 4 })
    })

    it('time alone: every row counts', async () => {
      const m = await timed()
      expect(m.details).toMatchObject({ raw_rows: 7, distinct_keys: 5, lost_keys: 4, lost_rows: 5 })
    })

    it('an empty window: all zeros, ratio 0', async () => {
      const m = await timed('1 hour', '30 minutes')
      expect(m).toEqual({ value: 0, details: ZERO, sample: [] })
    })

    it('a grace longer than the window: all zeros', async () => {
      const m = await timed('1 hour', '2 days')
      expect(m).toEqual({ value: 0, details: ZERO, sample: [] })
    })

    it('window or grace without raw.time: a catalog error with its path', () => {
      for (const field of ['window', 'grace'] as const) {
        let error: unknown
        try {
          parseCatalog({
            checks: [{ name: 'x', kind: 'raw_vs_enriched', raw, enriched, [field]: '24 hours' }],
          })
        } catch (caught) {
          error = caught
        }
        expect(error).toBeInstanceOf(DqError)
        expect((error as DqError).code).toBe('invalid_catalog')
        expect((error as DqError).details).toEqual([
          { path: `checks[0].${field}`, message: expect.stringContaining('raw.time') },
        ])
      }
    })

    it('and the engine refuses it too, when a spec skips the catalog', async () => {
      const unchecked = { name: 'x', kind: 'raw_vs_enriched', raw, enriched, window: '24 hours' }
      const error = await rejection(measureCheck(database().db, unchecked as never, RUN))
      expect(error.message).toContain('"raw.time"')
    })
  })

  describe('errors name the field', () => {
    it('a raw table that does not exist', async () => {
      const error = await rejection(run({ raw: { ...raw, table: 'rve.nope' }, enriched }))
      expect(error.message).toContain('check field "raw.table"')
      expect(error.message).toContain('"rve.nope" does not exist')
    })

    it('an enriched table that does not exist', async () => {
      const error = await rejection(run({ raw, enriched: { ...enriched, table: 'rve.nope' } }))
      expect(error.message).toContain('check field "enriched.table"')
      expect(error.message).toContain('"rve.nope" does not exist')
    })

    it('key columns that do not exist', async () => {
      const rawKey = await rejection(run({ raw: { ...raw, key: 'nope' }, enriched }))
      expect(rawKey.message).toContain('check field "raw.key"')
      expect(rawKey.message).toContain('column "nope" does not exist')
      const enrichedKey = await rejection(run({ raw, enriched: { ...enriched, key: 'source' } }))
      expect(enrichedKey.message).toContain('check field "enriched.key"')
      expect(enrichedKey.message).toContain('column "source" does not exist')
    })

    it('a time column that does not exist', async () => {
      const error = await rejection(
        run({ raw: { ...raw, time: 'fetched_at' }, enriched, window: '1 day' }),
      )
      expect(error.message).toContain('check field "raw.time"')
      expect(error.message).toContain('column "fetched_at" does not exist')
    })

    it('wheres on columns that do not exist', async () => {
      const rawWhere = await rejection(run({ raw: { ...raw, where: 'status is null' }, enriched }))
      expect(rawWhere.message).toContain('check field "raw.where"')
      const enrichedWhere = await rejection(
        run({ raw, enriched: { ...enriched, where: "source = 'api'" } }),
      )
      expect(enrichedWhere.message).toContain('check field "enriched.where"')
    })
  })
})
