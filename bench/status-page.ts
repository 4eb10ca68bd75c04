/**
 * The status page's benchmark: 200 checks with 30 days of hourly history
 * (144,000 results, 720 runs), on PostgreSQL, and the pages rendered by the
 * real app (functions/app.ts) in this process: from the request to the last
 * byte of the HTML, the database call included. Ten of the checks come from
 * a generator over a registry table, as the demo's coverage checks do, so
 * each page's one call expands it too (the calls per page are reported).
 * Target: the overview in under 100 ms. The data lives in a database of its own (DQ_BENCH_DATABASE_URL's
 * name + "_status"), generated once and reused.
 *
 * @example
 * ```ts
 * const report = await runStatusPageBenchmark({ databaseUrl: 'postgres://localhost/dq_bench', runs: 10 })
 * console.log(renderStatusMarkdown(report))
 * ```
 */
import { cpus } from 'node:os'
import postgres from 'postgres'
import { z } from 'zod'
import { type CatalogInput, parseCatalog } from '../checks/catalog.ts'
import { PgDatabase } from '../db/node-postgres.ts'
import { createApp } from '../functions/app.ts'
import type { DatabasePort } from '../kernel/port.ts'
import { OverviewPage } from '../status/pages/overview.tsx'
import type { Viewer } from '../status/session.ts'
import { expandedWith, overviewData } from '../status/store.ts'
import { ensureBenchDatabase } from './benchmark.ts'
import { measure, TimingSchema } from './measure.ts'

const StatusBenchOptionsSchema = z.object({
  /** The benchmark's database URL (dq_bench…); the status data goes to `<name>_status`. */
  databaseUrl: z.string().min(1),
  checks: z.number().int().min(1).max(2000).default(200),
  days: z.number().int().min(1).max(90).default(30),
  runs: z.number().int().min(1).max(100).default(10),
  warmup: z.number().int().min(0).max(10).default(2),
  regenerate: z.boolean().default(false),
})
export type StatusBenchOptions = z.input<typeof StatusBenchOptionsSchema>

export const StatusBenchReportSchema = z.object({
  generated_at: z.string(),
  postgres: z.string(),
  cpus: z.number(),
  node: z.string(),
  checks: z.number(),
  /** Of them, made by the catalog's generator. */
  generated: z.number(),
  days: z.number(),
  results: z.number(),
  buckets: z.number(),
  runs: z.number(),
  warmup: z.number(),
  pages: z.array(
    z.object({
      id: z.string(),
      label: z.string(),
      bytes: z.number(),
      /** dq.* calls one request (or one measured step) makes. */
      calls: z.number(),
      timing: TimingSchema,
    }),
  ),
  target: z.object({ description: z.string(), median_ms: z.number(), met: z.boolean() }),
})
export type StatusBenchReport = z.infer<typeof StatusBenchReportSchema>

const TOKEN = 'status-bench-token-0123456789'
const OWNERS = ['@data-oncall', '@integrations', '@jobs-pipeline', '@growth', '@finance']
const TAGS = ['people', 'companies', 'jobs', 'sync', 'keys', 'duplicates', 'triggers', 'billing']
const KINDS = ['duplicates', 'coverage_gap', 'stale_keys'] as const

const number = (i: number) => String(i).padStart(3, '0')
const name = (i: number) => `status_bench_${number(i)}`

/** The coverage_gap checks among the last 30 (ten of 200) come from the registry's generator. */
const isGenerated = (i: number, checks: number) => i % 3 === 1 && i > checks - 30
const generatedOf = (checks: number) =>
  Array.from({ length: checks }, (_, k) => k + 1).filter((i) => isGenerated(i, checks))

/**
 * Checks of three kinds, five owners, eight tags; a tenth of them failing
 * lately; and a generator over bench.status_registry making some of them.
 */
function benchCatalog(checks: number) {
  const generator = {
    generate: {
      name: 'status_bench_{n}',
      from: 'bench.status_registry',
      check: {
        kind: 'coverage_gap',
        description: 'benchmark check (coverage_gap, generated from bench.status_registry)',
        owner: '@data-oncall',
        tags: ['sync', 'registry'],
        source: { table: 'bench.source', key: 'id' },
        target: { table: 'bench.target', key: 'id' },
        threshold: { warn: 0.01, fail: 0.05, metric: 'ratio' },
      },
    },
  }
  const entries = Array.from({ length: checks }, (_, k) => {
    const i = k + 1
    if (isGenerated(i, checks)) return undefined
    const kind = KINDS[i % 3] as (typeof KINDS)[number]
    const common = {
      name: name(i),
      description: `benchmark check ${i} (${kind})`,
      owner: OWNERS[i % OWNERS.length],
      tags: [TAGS[i % TAGS.length] as string, TAGS[(i * 3 + 1) % TAGS.length] as string],
    }
    if (kind === 'coverage_gap') {
      return {
        ...common,
        kind,
        source: { table: 'bench.source', key: 'id' },
        target: { table: 'bench.target', key: 'id' },
        threshold: { warn: 0.01, fail: 0.05, metric: 'ratio' as const },
      }
    }
    if (kind === 'stale_keys') {
      return {
        ...common,
        kind,
        table: 'bench.keys',
        key: 'k',
        formula: 'md5(id::text)',
        threshold: { warn: 0, fail: 100, metric: 'count' as const },
      }
    }
    return { ...common, kind, table: 'bench.rows', columns: ['k'] }
  })
  return parseCatalog({
    checks: [...entries.filter((entry) => entry !== undefined), generator],
  } as CatalogInput)
}

/** The registry the generator reads: one row per generated check, readable by dq_monitor. */
async function registry(sql: postgres.Sql, checks: number) {
  await sql.unsafe(`
    create schema if not exists bench;
    create table if not exists bench.status_registry (n text primary key);
    grant usage on schema bench to dq_monitor;
    grant select on bench.status_registry to dq_monitor;
    delete from bench.status_registry;`)
  const rows = generatedOf(checks).map((i) => ({ n: number(i) }))
  if (rows.length > 0) await sql`insert into bench.status_registry ${sql(rows)}`
}

/** The port, counting its calls. */
function counting(port: DatabasePort): DatabasePort & { calls: number } {
  const counted = {
    calls: 0,
    label: port.label,
    migrate: () => port.migrate(),
    close: () => port.close(),
    call: (...args: Parameters<DatabasePort['call']>) => {
      counted.calls++
      return port.call(...args)
    },
  }
  return counted
}

/**
 * One run per hour over `days`, each with a result per check, as the runner
 * records them (the rollup triggers fire as they would); the checks with i % 10
 * = 0 fail for the last three days, and have an open incident.
 */
async function generate(sql: postgres.Sql, options: { checks: number; days: number }) {
  const hours = options.days * 24
  const expected = hours * options.checks
  const [present] = await sql<{ n: number }[]>`
    select count(*)::int as n from dq.results where check_name like 'status_bench_%'`
  if (present?.n === expected) return
  await sql`delete from dq.runs where id in (
    select run_id from dq.results where check_name like 'status_bench_%')`
  await sql`delete from dq.alert_state where check_name like 'status_bench_%'`
  await sql.unsafe(`
    with runs as (
      insert into dq.runs (id, trigger, started_at, duration_ms, counts)
      select gen_random_uuid(), 'cron', date_trunc('hour', now()) - make_interval(hours => h), 900, '{}'
      from generate_series(0, ${hours - 1}) h
      returning id, started_at
    ),
    measured as (
      select r.id as run_id, r.started_at, c,
             (array['duplicates', 'coverage_gap', 'stale_keys'])[c % 3 + 1] as kind,
             extract(epoch from now() - r.started_at) / 3600 as age_hours,
             (c % 10 = 0 and r.started_at > now() - interval '3 days') as failing
      from runs r cross join generate_series(1, ${options.checks}) c
    )
    insert into dq.results (run_id, check_name, kind, status, value, threshold, details, sample,
                            duration_ms, trigger, started_at, severity, owner)
    select m.run_id, 'status_bench_' || lpad(m.c::text, 3, '0'), m.kind,
           case when m.failing then 'fail' when (m.c + m.age_hours::int) % 97 = 0 then 'warn' else 'pass' end,
           case when m.failing then 500 + (m.c * 7 + m.age_hours::int) % 300
                when (m.c + m.age_hours::int) % 97 = 0 then 3 else 0 end,
           case m.kind when 'coverage_gap' then '{"warn": 0.01, "fail": 0.05, "metric": "ratio"}'::jsonb
                       when 'stale_keys' then '{"warn": 0, "fail": 100, "metric": "count"}'::jsonb
                       else '{"fail": 0, "metric": "count"}'::jsonb end,
           case m.kind
             when 'coverage_gap' then jsonb_build_object('source_rows', 10000,
               'missing', case when m.failing then 800 else 0 end,
               'ratio', case when m.failing then 0.08 else 0 end)
             when 'stale_keys' then jsonb_build_object('rows', 10000,
               'mismatched', case when m.failing then 600 else 0 end, 'missing', 0, 'unexpected', 0,
               'ratio', case when m.failing then 0.06 else 0 end)
             else jsonb_build_object('rows', 10000, 'keys', 9800,
               'groups', case when m.failing then 150 else 0 end,
               'extra_rows', case when m.failing then 500 else 0 end, 'largest_group', 3,
               'max_per_key', 1, 'unique_index', false) end,
           case when m.failing then (select jsonb_agg(jsonb_build_object('id', m.c * 1000 + s, 'k', md5(s::text)))
                                     from generate_series(1, 5) s)
                else '[]'::jsonb end,
           40, 'cron', m.started_at, 'warning', null
    from measured m`)
  await sql.unsafe(`
    insert into dq.alert_state (dedup_key, check_name, alert_kind, status, opened_at, last_notified_at, observed_at)
    select 'status_bench_' || lpad(c::text, 3, '0') || '/threshold', 'status_bench_' || lpad(c::text, 3, '0'),
           'threshold', 'fail', now() - interval '3 days', now() - interval '1 day', now()
    from generate_series(10, ${options.checks}, 10) c
    on conflict (dedup_key) do nothing`)
  await sql`analyze dq.results`
  await sql`analyze dq.result_buckets`
}

export async function runStatusPageBenchmark(
  input: StatusBenchOptions,
  log: (line: string) => void = () => {},
): Promise<StatusBenchReport> {
  const options = StatusBenchOptionsSchema.parse(input)
  const url = new URL(options.databaseUrl)
  url.pathname = `${url.pathname.replace(/\/$/, '')}_status`
  await ensureBenchDatabase(url.toString(), log)
  const sql = postgres(url.toString(), { max: 1, onnotice: () => {} })
  const port = counting(PgDatabase.connect(url.toString()))
  try {
    await port.migrate()
    if (options.regenerate) await sql`delete from dq.runs`
    log(`status page: ${options.checks} checks × ${options.days} days of hourly results`)
    await generate(sql, options)
    await registry(sql, options.checks)
    const [counts] = await sql<{ results: number; buckets: number; version: string }[]>`
      select (select count(*)::int from dq.results where check_name like 'status_bench_%') as results,
             (select count(*)::int from dq.result_buckets where check_name like 'status_bench_%') as buckets,
             version() as version`
    const catalog = benchCatalog(options.checks)
    const app = createApp(() => ({ catalog, token: TOKEN, withDatabase: (use) => use(port) }))
    const origin = 'http://dq.bench'
    const login = await app.request(`${origin}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', origin },
      body: new URLSearchParams({ token: TOKEN }).toString(),
    })
    const cookie = login.headers.get('set-cookie')?.split(';')[0] ?? ''
    const get = async (path: string) => {
      const response = await app.request(`${origin}${path}`, { headers: { cookie } })
      if (response.status !== 200) throw new Error(`GET ${path} answered ${response.status}`)
      return (await response.text()).length
    }
    const names = catalog.checks.map((check) => check.name)
    const viewer: Viewer = { via: 'token', name: 'bench', csrf: 'x' }
    const data = await overviewData(port, names, catalog.generators)
    const { checks } = await expandedWith(catalog, data.generated)
    const generated = checks.filter((check) => check.generated).length
    if (checks.length !== options.checks || generated !== generatedOf(options.checks).length) {
      throw new Error(
        `the catalog expanded to ${checks.length} checks, ${generated} generated: expected ${options.checks}, ${generatedOf(options.checks).length}`,
      )
    }
    const pages: StatusBenchReport['pages'] = []
    const timed = async (id: string, label: string, run: () => Promise<number>) => {
      log(`status page: ${label}`)
      const { timing, last } = await measure(run, options)
      // One more, counted: the dq.* calls it makes.
      port.calls = 0
      await run()
      pages.push({ id, label, bytes: last, calls: port.calls, timing })
    }
    const failing = Math.floor(options.checks / 10)
    const coverage = checks.filter((check) => check.kind === 'coverage_gap').length
    await timed(
      'overview',
      `GET / (overview, ${options.checks} checks): request to last byte`,
      () => get('/'),
    )
    await timed(
      'overview_sql',
      'of which dq.status_overview (one call, the generator expanded in it, parsed)',
      async () => JSON.stringify(await overviewData(port, names, catalog.generators)).length,
    )
    await timed(
      'overview_render',
      'of which rendering the HTML (data in hand)',
      async () => String(await OverviewPage({ checks, data, filters: {}, viewer })).length,
    )
    await timed('overview_filtered', `GET /?status=fail (${failing} checks shown)`, () =>
      get('/?status=fail'),
    )
    await timed('check', "GET /check/status_bench_010 (a check's page)", () =>
      get('/check/status_bench_010'),
    )
    await timed('coverage', `GET /coverage (${coverage} coverage checks)`, () => get('/coverage'))
    const overview = pages[0]?.timing.median_ms ?? Number.POSITIVE_INFINITY
    return {
      generated_at: new Date().toISOString(),
      postgres: (counts?.version ?? '').split(',')[0] ?? '',
      cpus: cpus().length,
      node: process.version,
      checks: options.checks,
      generated,
      days: options.days,
      results: counts?.results ?? 0,
      buckets: counts?.buckets ?? 0,
      runs: options.runs,
      warmup: options.warmup,
      pages,
      target: {
        description: `overview of ${options.checks} checks × ${options.days} days of hourly history < 100 ms server time`,
        median_ms: overview,
        met: overview < 100,
      },
    }
  } finally {
    await port.close()
    await sql.end({ timeout: 5 })
  }
}

export function renderStatusMarkdown(report: StatusBenchReport): string {
  return [
    '# dq-monitor benchmark: the status page',
    '',
    `${report.postgres}; ${report.cpus} CPUs; Node ${report.node}. Generated ${report.generated_at}.`,
    '',
    `${report.checks} checks (${report.generated} of them made by a generator over a registry table) × ${report.days} days of hourly history: ${report.results.toLocaleString('en-US')} results, ` +
      `rolled up into ${report.buckets.toLocaleString('en-US')} 6-hour buckets. Each page: ${report.warmup} warm-up ` +
      `request(s), then ${report.runs}; time from the request to the last byte of the HTML, in the ` +
      'same process as the app (functions/app.ts), the database call included; dq calls: how many ' +
      "one request makes (the generator is expanded inside the page's call).",
    '',
    '| page | HTML | dq calls | min ms | median ms |',
    '| --- | ---: | ---: | ---: | ---: |',
    ...report.pages.map(
      (p) =>
        `| ${p.label} | ${p.id === 'overview_sql' ? '' : `${Math.round(p.bytes / 1024)} KB`} | ${p.calls} | ${p.timing.min_ms} | ${p.timing.median_ms} |`,
    ),
    '',
    `Target: ${report.target.description}: median ${report.target.median_ms} ms, ${report.target.met ? 'met' : '**not met**'}.`,
    '',
  ].join('\n')
}
