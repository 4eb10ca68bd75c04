import { describe, expect, it } from 'vitest'
import { DqError } from '../kernel/errors.ts'
import { parseCatalog } from './catalog.ts'

const dup = { name: 'dups', kind: 'duplicates', table: 't.a', columns: ['a'] }

function issuesOf(input: unknown): { path: string; message: string }[] {
  try {
    parseCatalog(input)
  } catch (error) {
    expect(error).toBeInstanceOf(DqError)
    expect((error as DqError).code).toBe('invalid_catalog')
    return (error as DqError).details as { path: string; message: string }[]
  }
  throw new Error('expected the catalog to be rejected')
}

describe('parseCatalog', () => {
  it('reports every error in one pass, in catalog order; an unknown nested key is named', () => {
    expect(
      issuesOf({
        checks: [
          { name: 'b', kind: 'duplicates', table: 't.a' },
          { ...dup, name: 'r', threshold: { fail: 0.1, metric: 'ratio' } },
          dup,
          dup,
          {
            name: 'c',
            kind: 'coverage_gap',
            source: { table: 'a.b', key: 'k', wher: 'x' },
            target: { table: 'a.c', key: 'k' },
          },
          { ...dup, name: 'i', incremental: 'updated_at' },
        ],
      }),
    ).toEqual([
      { path: 'checks[0].columns', message: 'Invalid input: expected array, received undefined' },
      {
        path: 'checks[1].threshold.metric',
        message: '"ratio" is not reported by duplicates checks: use "count"',
      },
      {
        path: 'checks[3].name',
        message: '"dups" is already the name of checks[2]: names must be unique',
      },
      { path: 'checks[4].source', message: 'Unrecognized key: "wher"' },
      {
        path: 'checks[5].incremental',
        message: 'must be an object { column, fullEvery?, lookback? }',
      },
    ])
  })

  it('applies defaults from the catalog and the contract', () => {
    const { checks } = parseCatalog({
      defaults: { severity: 'critical', timeoutSeconds: 30 },
      checks: [dup],
    })
    expect(checks[0]).toMatchObject({
      name: 'dups',
      severity: 'critical',
      timeoutSeconds: 30,
      schedule: '0 * * * *',
      enabled: true,
      tags: [],
      threshold: { fail: 0, metric: 'count' },
    })
  })

  it("keeps a check's own settings over the defaults", () => {
    const { checks } = parseCatalog({
      defaults: { owner: '@team' },
      checks: [{ ...dup, owner: '@me', threshold: { warn: 1, fail: 10 }, enabled: false }],
    })
    expect(checks[0]).toMatchObject({
      owner: '@me',
      enabled: false,
      threshold: { warn: 1, fail: 10, metric: 'count' },
    })
  })

  it('rejects an unknown kind, naming the field', () => {
    expect(issuesOf({ checks: [dup, { name: 'x', kind: 'uniqueness', table: 't' }] })).toEqual([
      {
        path: 'checks[1].kind',
        message: expect.stringContaining('must be one of stale_keys, duplicates'),
      },
    ])
  })

  it('rejects a missing field with its path', () => {
    expect(issuesOf({ checks: [dup, { name: 'x', kind: 'duplicates', table: 't.a' }] })).toEqual([
      { path: 'checks[1].columns', message: expect.any(String) },
    ])
  })

  it('rejects a wrong type with its path', () => {
    const issues = issuesOf({ checks: [{ ...dup, maxPerKey: 'two' }] })
    expect(issues.map((i) => i.path)).toEqual(['checks[0].maxPerKey'])
  })

  it('rejects duplicate names', () => {
    const issues = issuesOf({ checks: [dup, { ...dup, columns: ['b'] }] })
    expect(issues).toEqual([
      { path: 'checks[1].name', message: expect.stringContaining('checks[0]') },
    ])
  })

  it('rejects ";" and comments in SQL text', () => {
    expect(issuesOf({ checks: [{ ...dup, columns: ['a', 'b; drop table t'] }] })).toEqual([
      { path: 'checks[0].columns[1]', message: expect.stringContaining(';') },
    ])
    expect(issuesOf({ checks: [{ ...dup, where: 'a > 1 -- why' }] }).map((i) => i.path)).toEqual([
      'checks[0].where',
    ])
    expect(issuesOf({ checks: [{ ...dup, table: 't.a /* x */' }] }).map((i) => i.path)).toEqual([
      'checks[0].table',
    ])
  })

  it('rejects unknown fields (typos) and bad names', () => {
    expect(issuesOf({ checks: [{ ...dup, colums: ['a'] }] }).map((i) => i.path)).toEqual([
      'checks[0]',
    ])
    expect(issuesOf({ checks: [{ ...dup, name: 'Bad-Name' }] }).map((i) => i.path)).toEqual([
      'checks[0].name',
    ])
  })

  it('rejects metric "ratio" for a kind without a ratio', () => {
    const trigger = {
      name: 't',
      kind: 'trigger',
      table: 't.a',
      threshold: { fail: 0.1, metric: 'ratio' },
    }
    expect(issuesOf({ checks: [trigger] }).map((i) => i.path)).toEqual([
      'checks[0].threshold.metric',
    ])
  })

  it('rejects a threshold that can never fire, in a check or in the defaults', () => {
    expect(issuesOf({ checks: [{ ...dup, threshold: {} }] })).toEqual([
      { path: 'checks[0].threshold', message: expect.stringContaining('"warn", "fail" or both') },
    ])
    const stale = { name: 's', kind: 'stale_keys', table: 't.a', key: 'k', formula: 'f' }
    expect(issuesOf({ checks: [{ ...stale, threshold: { metric: 'ratio' } }] })).toEqual([
      { path: 'checks[0].threshold', message: expect.stringContaining('"warn", "fail" or both') },
    ])
    expect(issuesOf({ defaults: { threshold: {} }, checks: [dup] })).toEqual([
      { path: 'defaults.threshold', message: expect.stringContaining('"warn", "fail" or both') },
    ])
    expect(
      issuesOf({ checks: [{ ...dup, threshold: { warn: 10, fail: 5 } }] }).map((i) => i.path),
    ).toEqual(['checks[0].threshold.warn'])
  })

  it('trigger: needs a table, or schemas with a column', () => {
    expect(issuesOf({ checks: [{ name: 't', kind: 'trigger' }] }).map((i) => i.path)).toEqual([
      'checks[0].table',
    ])
    expect(
      issuesOf({ checks: [{ name: 't', kind: 'trigger', schemas: ['core'] }] }).map((i) => i.path),
    ).toEqual(['checks[0].column'])
    expect(
      issuesOf({ checks: [{ name: 't', kind: 'trigger', table: 'a', events: ['UPSERT'] }] }).map(
        (i) => i.path,
      ),
    ).toEqual(['checks[0].events[0]'])
  })

  it('raw_vs_enriched: window and grace need raw.time; intervals are validated', () => {
    const base = {
      name: 'r',
      kind: 'raw_vs_enriched',
      raw: { table: 'raw', key: 'k' },
      enriched: { table: 'enr', key: 'k' },
    }
    expect(issuesOf({ checks: [{ ...base, window: '1 day' }] }).map((i) => i.path)).toEqual([
      'checks[0].window',
    ])
    expect(
      issuesOf({ checks: [{ ...base, raw: { ...base.raw, time: 'at' }, grace: 'soon' }] }).map(
        (i) => i.path,
      ),
    ).toEqual(['checks[0].grace'])
    expect(() =>
      parseCatalog({
        checks: [
          { ...base, raw: { ...base.raw, time: 'at' }, window: '24 hours', grace: '1 hour' },
        ],
      }),
    ).not.toThrow()
  })

  it('the message lists every issue with its path', () => {
    const parse = () => parseCatalog({ checks: [{ name: 'x', kind: 'duplicates' }] }, 'my.json')
    expect(parse).toThrow(/my\.json is not a valid catalog/)
    expect(parse).toThrow(/checks\[0\]\.table/)
    expect(parse).toThrow(/checks\[0\]\.columns/)
  })

  it('accepts the shipped demo catalog', async () => {
    const { default: catalog } = await import('./catalog.json', { with: { type: 'json' } })
    const parsed = parseCatalog(catalog)
    expect(parsed.checks).toHaveLength(20)
    expect(parsed.generators).toHaveLength(1)
  })
})
