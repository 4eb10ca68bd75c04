// The HTTP API on Node (the Worker serves the same app): routes, auth, error shapes.
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { parseCatalog } from '../checks/catalog.ts'
import { engines, useDatabase } from '../test/support/databases.ts'
import { createApp } from './app.ts'

const TOKEN = 'test-token-0123456789'

// Response bodies are asserted field by field below; their shape is the test.
// biome-ignore lint/suspicious/noExplicitAny: JSON under test
const readJson = (res: Response): Promise<any> => res.json()
const auth = { Authorization: `Bearer ${TOKEN}` }

const catalog = parseCatalog({
  checks: [
    {
      name: 'orders_ref_dups',
      kind: 'duplicates',
      table: 'api.orders',
      columns: ['ref'],
      tags: ['shop'],
    },
    {
      name: 'orders_id_unique',
      kind: 'duplicates',
      table: 'api.orders',
      columns: ['id'],
      severity: 'critical',
    },
    {
      name: 'orders_slow',
      kind: 'duplicates',
      table: 'api.orders',
      columns: ['case when pg_sleep(1.5) is null then id end'],
      where: 'id = 1',
    },
  ],
})

describe.each(engines())('HTTP API on %s', (engine) => {
  const database = useDatabase(engine)
  const opened = vi.fn()
  const app = createApp(() => ({
    catalog,
    token: TOKEN,
    withDatabase: (use) => {
      opened()
      return use(database().db)
    },
  }))

  beforeAll(async () => {
    await database().exec(`
      create schema api;
      create table api.orders (id int primary key, ref text);
      insert into api.orders select g, 'r' || (g % 8) from generate_series(1, 20) g;
    `)
  })

  it('GET /health needs no token and touches no database', async () => {
    opened.mockClear()
    const res = await app.request('/health')
    expect(res.status).toBe(200)
    expect(await readJson(res)).toEqual({ status: 'ok', service: 'dq-monitor' })
    expect(opened).not.toHaveBeenCalled()
  })

  it.each([
    ['no token', {}, 401],
    ['a wrong token', { Authorization: 'Bearer not-the-token' }, 401],
    ['a malformed header', { Authorization: 'Basic abc' }, 400],
  ])('%s: %i JSON and no database call', async (_, headers, status) => {
    opened.mockClear()
    const res = await app.request('/checks', { headers })
    expect(res.status).toBe(status)
    expect(await readJson(res)).toMatchObject({
      error: { code: expect.any(String), message: expect.any(String) },
    })
    expect(opened).not.toHaveBeenCalled()
  })

  it('POST /checks/:name/run runs one check and returns the result JSON', async () => {
    const res = await app.request('/checks/orders_ref_dups/run', { method: 'POST', headers: auth })
    expect(res.status).toBe(200)
    const body = await readJson(res)
    expect(body).toMatchObject({ trigger: 'http', run_id: expect.any(String) })
    expect(body.results).toEqual([
      expect.objectContaining({ check: 'orders_ref_dups', status: 'fail', value: 12, error: null }),
    ])
  })

  it("GET /checks lists the catalog with each check's last result", async () => {
    const res = await app.request('/checks', { headers: auth })
    expect(res.status).toBe(200)
    const { checks } = await readJson(res)
    expect(checks.map((c: { name: string }) => c.name)).toEqual([
      'orders_ref_dups',
      'orders_id_unique',
      'orders_slow',
    ])
    expect(checks[0]).toMatchObject({
      kind: 'duplicates',
      severity: 'warning',
      tags: ['shop'],
      last: { status: 'fail', value: 12 },
    })
    expect(checks[1]).toMatchObject({ severity: 'critical', last: null })
  })

  it('POST /runs runs by name or tag', async () => {
    const res = await app.request('/runs', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ checks: ['orders_id_unique'], tags: ['shop'] }),
    })
    expect(res.status).toBe(200)
    const { results } = await readJson(res)
    expect(results.map((r: { check: string; status: string }) => [r.check, r.status])).toEqual([
      ['orders_ref_dups', 'fail'],
      ['orders_id_unique', 'pass'],
    ])
  })

  it("POST /history returns a check's results, newest first", async () => {
    const res = await app.request('/history', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ check: 'orders_ref_dups', limit: 5 }),
    })
    expect(res.status).toBe(200)
    const body = await readJson(res)
    expect(body.check).toBe('orders_ref_dups')
    expect(body.results).toHaveLength(2)
    expect(body.results[0].trigger).toBe('http')
    expect(Date.parse(body.results[0].started_at)).toBeGreaterThanOrEqual(
      Date.parse(body.results[1].started_at),
    )
  })

  it('POST /history keeps answering for a check that left the catalog', async () => {
    const without = createApp(() => ({
      catalog: { ...catalog, checks: [] },
      token: TOKEN,
      withDatabase: (use) => use(database().db),
    }))
    const res = await without.request('/history', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ check: 'orders_ref_dups' }),
    })
    expect(res.status).toBe(200)
    expect((await readJson(res)).results).toHaveLength(2)
  })

  it.each([
    ['/history', { check: 3 }],
    ['/history', { check: 'orders_ref_dups', limit: 0 }],
    ['/runs', { checks: 'orders_ref_dups' }],
    ['/checks/orders_ref_dups/run', { notify: 'yes' }],
    ['/runs', { sql: 'select 1' }],
  ])('POST %s with a bad body: 400 with zod issues', async (path, body) => {
    const res = await app.request(path, {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    })
    expect(res.status).toBe(400)
    const json = await readJson(res)
    expect(json.error.code).toBe('invalid_input')
    expect(json.error.details.length).toBeGreaterThan(0)
  })

  it('an unknown check is 404, an unknown route 404, both JSON', async () => {
    const run = await app.request('/checks/nope/run', { method: 'POST', headers: auth })
    expect(run.status).toBe(404)
    expect((await readJson(run)).error.code).toBe('unknown_check')
    const history = await app.request('/history', {
      method: 'POST',
      headers: { ...auth, 'content-type': 'application/json' },
      body: JSON.stringify({ check: 'nope' }),
    })
    expect(history.status).toBe(404)
    expect((await app.request('/nowhere', { headers: auth })).status).toBe(404)
  })

  it('a configuration error is a 500 JSON without internals', async () => {
    const broken = createApp(() => {
      throw new Error('secret connection string postgres://u:pw@h/db')
    })
    const res = await broken.request('/checks', { headers: auth })
    expect(res.status).toBe(500)
    const text = await res.text()
    expect(JSON.parse(text).error.code).toBe('internal')
    expect(text).not.toContain('pw@')
  })

  if (engine === 'postgres') {
    it('two concurrent runs of one check: one 409', async () => {
      const [a, b] = await Promise.all([
        app.request('/checks/orders_slow/run', { method: 'POST', headers: auth }),
        app.request('/checks/orders_slow/run', { method: 'POST', headers: auth }),
      ])
      expect([a.status, b.status].sort()).toEqual([200, 409])
      const conflict = a.status === 409 ? a : b
      expect((await readJson(conflict)).error.code).toBe('check_running')
    })
  }
})
