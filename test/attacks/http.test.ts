// The HTTP API against hostile or sloppy input, as an attacker would try it:
// every answer is the documented JSON shape, never runs something other than
// what was asked, never echoes unbounded input, never leaks internals. The
// attacks that held before these fixes live here too, as a regression suite.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { beforeAll, describe, expect, it, vi } from 'vitest'
import { parseCatalog } from '../../checks/catalog.ts'
import { PgDatabase } from '../../db/node-postgres.ts'
import { connectionError } from '../../db/sql-error.ts'
import { createApp, type Services } from '../../functions/app.ts'
import type { DatabasePort } from '../../kernel/port.ts'
import { engines, useDatabase } from '../support/databases.ts'
import { freePort } from '../support/ports.ts'

const TOKEN = 'attack-test-token-0123456789'
const auth = { authorization: `Bearer ${TOKEN}` }
const json = { ...auth, 'content-type': 'application/json' }

const catalog = parseCatalog({
  checks: [
    {
      name: 'orders_dups',
      kind: 'duplicates',
      table: 'api.orders',
      columns: ['ref'],
      tags: ['shop'],
    },
    {
      name: 'orders_ids',
      kind: 'duplicates',
      table: 'api.orders',
      columns: ['id'],
      tags: ['shop'],
    },
    {
      name: 'off',
      kind: 'duplicates',
      table: 'api.orders',
      columns: ['id'],
      tags: ['old'],
      enabled: false,
    },
    {
      // One row, so the sleep runs once: a check slow enough for 20 requests to overlap.
      name: 'slow',
      kind: 'rows',
      table: 'api.slow',
      where: 'pg_sleep(2) is not null',
      tags: ['slow'],
      timeoutSeconds: 30,
    },
  ],
})

// biome-ignore lint/suspicious/noExplicitAny: JSON under test
const body = async (res: Response): Promise<any> => {
  expect(res.headers.get('content-type')).toMatch(/^application\/json/)
  return res.json()
}

describe.each(engines())('HTTP attacks on %s', (engine) => {
  const database = useDatabase(engine)
  const services = (port: () => DatabasePort): Services => ({
    catalog,
    token: TOKEN,
    withDatabase: (use) => use(port()),
  })
  const app = createApp(() => services(() => database().db))
  const runs = async () =>
    Number((await database().query<{ n: number }>('select count(*)::int as n from dq.runs'))[0]?.n)

  beforeAll(async () => {
    await database().exec(`
      create schema api;
      create table api.orders (id int primary key, ref text);
      insert into api.orders select g, 'r' || (g % 5) from generate_series(1, 20) g;
      create table api.slow (id int);
      insert into api.slow values (1);`)
  })

  it('a JSON body without content-type: application/json (curl -d) is 415 and runs nothing', async () => {
    const before = await runs()
    for (const type of ['application/x-www-form-urlencoded', 'text/plain', undefined]) {
      const res = await app.request('/runs', {
        method: 'POST',
        headers: { ...auth, ...(type ? { 'content-type': type } : {}) },
        body: '{"checks":["orders_dups"],"notify":true}',
      })
      expect(res.status).toBe(415)
      expect((await body(res)).error).toMatchObject({
        code: 'unsupported_media_type',
        message: expect.stringContaining("-H 'content-type: application/json'"),
      })
    }
    expect(await runs()).toBe(before)
  })

  it('malformed JSON is 400 in the JSON error shape', async () => {
    const res = await app.request('/runs', { method: 'POST', headers: json, body: '{"checks": [' })
    expect(res.status).toBe(400)
    expect((await body(res)).error).toMatchObject({ code: 'invalid_json' })
  })

  it('a 10 MB body is 413 and nothing of it comes back', async () => {
    const huge = JSON.stringify({ checks: ['x'.repeat(10 * 1024 * 1024)] })
    const res = await app.request('/runs', { method: 'POST', headers: json, body: huge })
    expect(res.status).toBe(413)
    const text = JSON.stringify(await body(res))
    expect(text.length).toBeLessThan(500)
  })

  it('a long check name is answered 404 without echoing it whole', async () => {
    const name = 'a'.repeat(20_000)
    const res = await app.request(`/checks/${name}/run`, { method: 'POST', headers: auth })
    expect(res.status).toBe(404)
    expect(JSON.stringify(await body(res)).length).toBeLessThan(2_000)
    const many = await app.request('/runs', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ checks: ['y'.repeat(150)] }),
    })
    expect(many.status).toBe(404)
    expect(JSON.stringify(await body(many)).length).toBeLessThan(2_000)
  })

  it('tags or names that match nothing: 404 naming them, and no empty run is recorded', async () => {
    const before = await runs()
    const tags = await app.request('/runs', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ tags: ['nope', 'old'] }),
    })
    expect(tags.status).toBe(404)
    expect((await body(tags)).error.message).toMatch(/no enabled check has the tag "nope", "old"/)
    const names = await app.request('/runs', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({ checks: ['nope'] }),
    })
    expect(names.status).toBe(404)
    expect(await runs()).toBe(before)
  })

  it('unknown fields and wrong types are 400 with the field, hostile values never run', async () => {
    for (const payload of [
      { checks: 'orders_dups' },
      { sql: 'delete from api.orders' },
      { checks: ['orders_dups'], notify: 'yes' },
      { checks: [{ $where: 1 }] },
      [],
      null,
    ]) {
      const res = await app.request('/runs', {
        method: 'POST',
        headers: json,
        body: JSON.stringify(payload),
      })
      expect(res.status, JSON.stringify(payload)).toBe(400)
      expect((await body(res)).error.code).toBe('invalid_input')
    }
  })

  it('token variants and a 100 KB header: 400 or 401, never a run, never a 500', async () => {
    const before = await runs()
    for (const authorization of [
      '',
      'Bearer',
      'Bearer ',
      `bearer ${TOKEN}x`,
      `Bearer ${TOKEN.slice(0, -1)}`,
      `Bearer ${TOKEN} extra`,
      `Basic ${btoa(`user:${TOKEN}`)}`,
      `Bearer ${'A'.repeat(100_000)}`,
    ]) {
      const res = await app.request('/runs', {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: '{}',
      })
      expect([400, 401], authorization.slice(0, 40)).toContain(res.status)
      expect((await body(res)).error.code).toMatch(/unauthorized|bad_request/)
    }
    expect(await runs()).toBe(before)
  })

  it('a database nobody listens on: 503 "database unavailable", no host or port in the answer', async () => {
    const down = PgDatabase.connect('postgres://dq:secret@127.0.0.1:5999/app', {
      connectTimeoutSeconds: 2,
    })
    const unreachable = createApp(() => services(() => down))
    const res = await unreachable.request('/checks', { headers: auth })
    expect(res.status).toBe(503)
    const answer = JSON.stringify(await body(res))
    expect(answer).toContain('database unavailable')
    expect(answer).not.toMatch(/5999|127\.0\.0\.1|ECONNREFUSED|secret/)
    await down.close()
  })

  it.each([
    ['unreachable', 'unavailable'],
    ['dropped', 'connection_lost'],
  ])(
    'the database %s between the checks and the history write: "database unavailable", no host, port or driver text',
    async (_, code) => {
      const closed = await freePort()
      const down = PgDatabase.connect(`postgres://dq:secret@127.0.0.1:${closed}/app`, {
        connectTimeoutSeconds: 2,
      })
      // The checks run on the real database; only the history write meets the outage.
      const record = (): Promise<unknown> =>
        code === 'unavailable'
          ? down.call('record_run', {})
          : Promise.reject(
              connectionError(
                Object.assign(new Error('read ECONNRESET 10.1.2.3:5432'), { code: 'ECONNRESET' }),
                'call',
                'record_run',
              ),
            )
      const flaky = (): DatabasePort => {
        const real = database().db
        return {
          label: real.label,
          call: (fn, args, options) =>
            fn === 'record_run' ? record() : real.call(fn, args, options),
          migrate: () => real.migrate(),
          close: async () => {},
        }
      }
      const logged = vi.spyOn(console, 'error').mockImplementation(() => {})
      try {
        const res = await createApp(() => services(flaky)).request('/checks/orders_dups/run', {
          method: 'POST',
          headers: auth,
        })
        expect(res.status).toBe(500)
        const { error } = await body(res)
        expect(error.code).toBe('not_recorded')
        expect(error.message).toMatch(/NOT recorded in history.*database unavailable/)
        expect(error.details.run.results).toEqual([
          expect.objectContaining({ check: 'orders_dups', status: 'fail' }),
        ])
        const leaks = new RegExp(`${closed}|127\\.0\\.0\\.1|10\\.1\\.2\\.3|5432|ECONN|secret`)
        expect(JSON.stringify(error)).not.toMatch(leaks)
        // The details are the operator's, in the service logs.
        const logs = logged.mock.calls.map((call) => call.join(' ')).join('\n')
        expect(logs).toMatch(
          code === 'unavailable' ? `ECONNREFUSED 127.0.0.1:${closed}` : 'ECONNRESET 10.1.2.3:5432',
        )
        expect(logs).not.toContain('secret')
      } finally {
        logged.mockRestore()
        await down.close()
      }
    },
  )

  if (engine === 'postgres') {
    it('20 parallel runs of one slow check: one 200, nineteen 409s, one result in history', async () => {
      const results = async () =>
        Number(
          (
            await database().query<{ n: number }>(
              `select count(*)::int as n from dq.results where check_name = 'slow'`,
            )
          )[0]?.n,
        )
      // A connection each, so the twenty transactions race in the database itself.
      const wide = PgDatabase.connect(database().url as string, { max: 20 })
      const before = await results()
      try {
        const parallel = createApp(() => services(() => wide))
        const answers = await Promise.all(
          Array.from({ length: 20 }, () =>
            parallel.request('/checks/slow/run', { method: 'POST', headers: auth }),
          ),
        )
        const statuses = answers.map((res) => res.status)
        expect(statuses.filter((status) => status === 200)).toHaveLength(1)
        expect(statuses.filter((status) => status === 409)).toHaveLength(19)
        for (const res of answers) {
          const answer = await body(res)
          if (res.status === 409) expect(answer.error.code).toBe('check_running')
          else expect(answer.results).toEqual([expect.objectContaining({ check: 'slow' })])
        }
        expect(await results()).toBe(before + 1)
      } finally {
        await wide.close()
      }
    }, 30_000)

    it('a run the login cannot record is a 500 not_recorded that carries the results', async () => {
      await database().exec(`
        do $$ begin
          if to_regrole('dq_no_history') is null then create role dq_no_history login; end if;
        end $$;
        grant dq_monitor to dq_no_history;
        revoke insert on dq.runs from dq_monitor;`)
      const url = new URL(database().url as string)
      url.username = 'dq_no_history'
      const limited = PgDatabase.connect(url.toString())
      try {
        const res = await createApp(() => services(() => limited)).request(
          '/checks/orders_dups/run',
          {
            method: 'POST',
            headers: auth,
          },
        )
        expect(res.status).toBe(500)
        const { error } = await body(res)
        expect(error.code).toBe('not_recorded')
        expect(error.message).toMatch(/NOT recorded in history/)
        expect(error.details.run.results).toEqual([
          expect.objectContaining({ check: 'orders_dups', status: 'fail' }),
        ])
      } finally {
        await limited.close()
        await database().exec(`
          grant insert on dq.runs to dq_monitor;
          revoke dq_monitor from dq_no_history;`)
      }
    })
  }
})

describe('a bearer token a header cannot carry is refused at start-up', () =>
  it.each([
    ['a space', 'has a space 0123456789'],
    ['a "!"', 'exclamation!0123456789'],
    ['too short', 'short'],
  ])('dq serve with %s in DQ_API_TOKEN: exit 2 naming it, never echoing it', async (_, token) => {
    const result = await promisify(execFile)(
      process.execPath,
      ['bin/dq.js', 'serve', '--db', 'pglite:memory'],
      {
        env: { ...process.env, DQ_API_TOKEN: token, NO_COLOR: '1' },
      },
    ).catch((error: { code: number; stderr: string }) => error)
    expect((result as { code: number }).code).toBe(2)
    expect(result.stderr).toMatch(/DQ_API_TOKEN/)
    expect(result.stderr).not.toContain(token)
  }))
