// The grants, on real PostgreSQL with Supabase's API roles present: nothing in
// schema dq is for PUBLIC, anon or authenticated (the roles browsers get), and
// service_role and dq_monitor have what the monitor needs. Checked over all of
// pg_proc and pg_class in dq, so a future migration that forgets its grants
// fails here; then the same through the PostgREST-compatible endpoint.
import postgres, { type Sql } from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spec } from './support/checks.ts'
import { engines, useDatabase } from './support/databases.ts'
import { ensureSupabaseRoles, type PostgrestServer, startPostgrest } from './support/postgrest.ts'

const POSTGRES = engines().includes('postgres')
const BROWSER_ROLES = ['anon', 'authenticated'] as const
const MONITOR_ROLES = ['service_role', 'dq_monitor'] as const

const probe = spec({
  name: 'grant_probe',
  kind: 'duplicates',
  table: 'public.grant_probe',
  columns: ['id'],
})
const run = (trigger: string) => ({
  run_id: crypto.randomUUID(),
  trigger,
  started_at: new Date().toISOString(),
  duration_ms: 1,
  results: [],
})

describe.skipIf(!POSTGRES)('grants on schema dq', () => {
  // Before the migration: its grant block only touches roles that exist.
  beforeAll(() => ensureSupabaseRoles())
  const database = useDatabase('postgres')
  let sql: Sql
  let api: PostgrestServer

  beforeAll(async () => {
    await database().exec(`
      create table public.grant_probe (id int); insert into public.grant_probe values (1), (2);
      grant select on public.grant_probe to service_role, dq_monitor;`)
    sql = postgres(database().url as string, { max: 1, onnotice: () => {} })
    api = await startPostgrest({ databaseUrl: database().url as string })
  })
  afterAll(async () => {
    await api?.close()
    await sql?.end()
  })

  /** Runs one statement as `role`, in its own transaction. */
  const as = (role: string, statement: string, values: unknown[] = []) =>
    sql.begin(async (tx) => {
      await tx.unsafe(`set local role ${role}`)
      return tx.unsafe(statement, values as never[])
    })

  describe('in the catalog', () => {
    it('every dq function: not executable by PUBLIC, anon, authenticated; executable by service_role, dq_monitor (but apply_grants)', async () => {
      const functions = await sql<
        {
          fn: string
          public: boolean
          anon: boolean
          authenticated: boolean
          service_role: boolean
          dq_monitor: boolean
        }[]
      >`
        select p.oid::regprocedure::text as fn,
               exists (select 1 from aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a
                       where a.grantee = 0 and a.privilege_type = 'EXECUTE') as public,
               has_function_privilege('anon', p.oid, 'execute') as anon,
               has_function_privilege('authenticated', p.oid, 'execute') as authenticated,
               has_function_privilege('service_role', p.oid, 'execute') as service_role,
               has_function_privilege('dq_monitor', p.oid, 'execute') as dq_monitor
        from pg_proc p
        where p.pronamespace = 'dq'::regnamespace
        order by 1`
      expect(functions.map((f) => f.fn)).toContain('dq.run_check(jsonb)')
      expect(functions.map((f) => f.fn)).toContain('dq.record_run(jsonb)')
      expect(
        functions.filter((f) => f.public || f.anon || f.authenticated).map((f) => f.fn),
      ).toEqual([])
      // Every function but dq.apply_grants(), the migrations' own (granting is not the monitor's
      // job), and dq.as_monitor, which runs catalog SQL as dq_monitor for dq_monitor alone.
      expect(functions.filter((f) => !f.service_role || !f.dq_monitor).map((f) => f.fn)).toEqual([
        'dq.apply_grants()',
        'dq.as_monitor(text,jsonb)',
      ])
      expect(functions.find((f) => f.fn === 'dq.as_monitor(text,jsonb)')).toMatchObject({
        service_role: false,
        dq_monitor: true,
      })
    })

    it('dq.as_monitor: SECURITY DEFINER, owned by dq_monitor, so catalog SQL cannot switch back to the login', async () => {
      const [fn] = await sql<{ owner: string; definer: boolean }[]>`
        select p.proowner::regrole::text as owner, p.prosecdef as definer
        from pg_proc p where p.oid = 'dq.as_monitor(text,jsonb)'::regprocedure`
      expect(fn).toEqual({ owner: 'dq_monitor', definer: true })
    })

    it('every dq table and sequence: no privilege for anon, authenticated; read and write for the monitor roles', async () => {
      const relations = await sql<{ rel: string; browser: boolean; monitor: boolean }[]>`
        select c.oid::regclass::text as rel,
               case when c.relkind = 'S' then
                 has_sequence_privilege('anon', c.oid, 'usage,select,update')
                 or has_sequence_privilege('authenticated', c.oid, 'usage,select,update')
               else
                 has_table_privilege('anon', c.oid, 'select,insert,update,delete,truncate,references,trigger')
                 or has_table_privilege('authenticated', c.oid, 'select,insert,update,delete,truncate,references,trigger')
               end as browser,
               case when c.relkind = 'S' then
                 has_sequence_privilege('service_role', c.oid, 'usage')
                 and has_sequence_privilege('dq_monitor', c.oid, 'usage')
               else
                 (select bool_and(has_table_privilege(r, c.oid, p))
                  from unnest(array['service_role', 'dq_monitor']) r,
                       unnest(array['select', 'insert', 'update', 'delete']) p)
               end as monitor
        from pg_class c
        where c.relnamespace = 'dq'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'f', 'S')
        order by 1`
      expect(relations.map((r) => r.rel)).toEqual(expect.arrayContaining(['dq.runs', 'dq.results']))
      expect(relations.filter((r) => r.browser).map((r) => r.rel)).toEqual([])
      expect(relations.filter((r) => !r.monitor).map((r) => r.rel)).toEqual([])
    })

    it('schema dq: no usage for anon, authenticated; usage for the monitor roles', async () => {
      const [row] = await sql<{ browser: boolean; monitor: boolean }[]>`
        select has_schema_privilege('anon', 'dq', 'usage,create')
               or has_schema_privilege('authenticated', 'dq', 'usage,create') as browser,
               has_schema_privilege('service_role', 'dq', 'usage')
               and has_schema_privilege('dq_monitor', 'dq', 'usage') as monitor`
      expect(row).toEqual({ browser: false, monitor: true })
    })

    it('dq.run_check carries its API timeouts (migration 006), which a later "create or replace" would drop', async () => {
      const [row] = await sql<{ config: string[] }[]>`
        select proconfig as config from pg_proc where oid = 'dq.run_check(jsonb)'::regprocedure`
      expect(row?.config).toEqual(
        expect.arrayContaining(['statement_timeout=55s', 'lock_timeout=5s']),
      )
    })
  })

  describe('calling as each role (set role)', () => {
    const calls: [string, string, unknown[]][] = [
      ['dq.run_check', 'select dq.run_check($1::text::jsonb)', [JSON.stringify(probe)]],
      ['dq.record_run', 'select dq.record_run($1::text::jsonb)', [JSON.stringify(run('cli'))]],
      ['dq.check_history', `select dq.check_history('grant_probe')`, []],
      ['dq.latest_results', 'select dq.latest_results()', []],
      ['dq.runs', 'select * from dq.runs', []],
      ['dq.results', 'select * from dq.results', []],
    ]

    describe.each(BROWSER_ROLES)('%s', (role) => {
      it.each(calls)('%s: permission denied (42501)', async (_, statement, values) => {
        await expect(as(role, statement, values)).rejects.toMatchObject({
          code: '42501',
          message: expect.stringContaining('permission denied'),
        })
      })
    })

    describe.each(MONITOR_ROLES)('%s', (role) => {
      it('runs a check', async () => {
        const [row] = await as(role, 'select dq.run_check($1::text::jsonb) as m', [
          JSON.stringify(probe),
        ])
        expect(row?.m).toMatchObject({ value: 0, details: { rows: 2 } })
      })

      it('records a run and reads history', async () => {
        const [row] = await as(role, 'select dq.record_run($1::text::jsonb) as r', [
          JSON.stringify(run('cli')),
        ])
        expect(row?.r).toMatchObject({ recorded: true })
        await expect(as(role, `select dq.check_history('grant_probe') as h`)).resolves.toEqual([
          { h: [] },
        ])
      })
    })
  })

  describe('through the API (PostgREST-compatible endpoint)', () => {
    const post = (fn: string, body: unknown, headers: Record<string, string>) =>
      fetch(`${api.url}/rest/v1/rpc/${fn}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json', 'Content-Profile': 'dq', ...headers },
        body: JSON.stringify(body),
      })
    const withKey = (key: string, bearer: string | null = key): Record<string, string> => ({
      apikey: key,
      ...(bearer === null ? {} : { Authorization: `Bearer ${bearer}` }),
    })

    it('the anon key: 403 with PostgREST error JSON, for checks and for history writes', async () => {
      for (const [fn, body] of [
        ['run_check', { spec: probe }],
        ['record_run', { run: run('http') }],
      ] as const) {
        const response = await post(fn, body, withKey(api.anonKey))
        expect(response.status, fn).toBe(403)
        const error = (await response.json()) as Record<string, unknown>
        expect(Object.keys(error).sort()).toEqual(['code', 'details', 'hint', 'message'])
        expect(error).toMatchObject({
          code: '42501',
          message: expect.stringContaining('permission denied'),
        })
      }
    })

    it('an authenticated user JWT: 403', async () => {
      const user = await api.sign({ role: 'authenticated', sub: crypto.randomUUID() })
      const response = await post('run_check', { spec: probe }, withKey(api.anonKey, user))
      expect(response.status).toBe(403)
      expect(await response.json()).toMatchObject({ code: '42501' })
    })

    it('no JWT at all (the anonymous role): 401 with WWW-Authenticate', async () => {
      const response = await post('run_check', { spec: probe }, withKey(api.anonKey, null))
      expect(response.status).toBe(401)
      expect(response.headers.get('www-authenticate')).toBe('Bearer')
      expect(await response.json()).toMatchObject({ code: '42501' })
    })

    it('a JWT not signed with the project secret: 401 PGRST301', async () => {
      const forged = `${(await api.sign({ role: 'service_role' })).slice(0, -4)}AAAA`
      const response = await post('run_check', { spec: probe }, withKey(api.anonKey, forged))
      expect(response.status).toBe(401)
      expect(await response.json()).toMatchObject({ code: 'PGRST301' })
    })

    it('the service_role key: 200 with the measurement', async () => {
      const response = await post('run_check', { spec: probe }, withKey(api.serviceKey))
      expect(response.status).toBe(200)
      expect(await response.json()).toMatchObject({ value: 0, details: { rows: 2 } })
    })
  })
})
