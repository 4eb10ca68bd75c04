/**
 * The hourly tick's benchmark: 1,000 checks over 1,000 tables, 2 % of the
 * tables changed in the hour. A full run (every check scans) against a cron
 * tick (scan: 'changed': unchanged tables are answered from their last full
 * scan, supabase/schemas/27_unchanged.sql). Target: the tick costs at most 5 %
 * of the full run. Also the runner's own overhead per check: the runner's time
 * per unchanged check, less the same dq.run_check call made bare, beside a
 * bare `select 1` round trip. The data lives in a database of its own
 * (DQ_BENCH_DATABASE_URL's name + "_tick"), generated once and reused.
 *
 * @example
 * ```ts
 * const report = await runTickBenchmark({ databaseUrl: 'postgres://localhost/dq_bench' })
 * console.log(renderTickMarkdown(report))
 * ```
 */
import { cpus } from 'node:os'
import postgres from 'postgres'
import { z } from 'zod'
import { type CatalogInput, parseCatalog, type ResolvedCheck } from '../checks/catalog.ts'
import { type RunOutcome, runCheck, runChecks } from '../checks/run-checks.ts'
import { measurementSpec } from '../checks/store.ts'
import { PgDatabase } from '../db/node-postgres.ts'
import { ensureBenchDatabase } from './benchmark.ts'
import { measure, summarise, TimingSchema } from './measure.ts'

const TickBenchOptionsSchema = z.object({
  /** The benchmark's database URL (dq_bench…); the tick's data goes to `<name>_tick`. */
  databaseUrl: z.string().min(1),
  tables: z.number().int().min(1).max(5000).default(1000),
  rows: z.number().int().min(1).max(1_000_000).default(100_000),
  /** Percent of the tables written between the full run and the tick. */
  changedPercent: z.number().min(0).max(100).default(2),
  /** Hours simulated after the full run: 2 % of the tables written, then a tick; the median tick counts. */
  hours: z.number().int().min(1).max(24).default(3),
  /** Bare calls timed for the overhead rows. */
  samples: z.number().int().min(1).max(1000).default(200),
  regenerate: z.boolean().default(false),
})
export type TickBenchOptions = z.input<typeof TickBenchOptionsSchema>

export const TickBenchReportSchema = z.object({
  generated_at: z.string(),
  postgres: z.string(),
  cpus: z.number(),
  node: z.string(),
  tables: z.number(),
  rows_per_table: z.number(),
  checks: z.number(),
  changed_tables: z.number(),
  full: z.object({ ms: z.number(), scanned: z.number() }),
  /** The median tick of `hours` (runs_ms: each), and what the last one scanned. */
  tick: z.object({
    ms: z.number(),
    runs_ms: z.array(z.number()),
    scanned: z.number(),
    unchanged: z.number(),
  }),
  ratio: z.number(),
  per_check: z.object({
    /** An unchanged answer through the runner (runCheck: its transaction, parsing, judging). */
    unchanged: TimingSchema.omit({ runs_ms: true }),
    /** The same `select dq.run_check($1)` made bare: database time and one round trip. */
    bare_call: TimingSchema.omit({ runs_ms: true }),
    /** `select 1`: one round trip. */
    select_1: TimingSchema.omit({ runs_ms: true }),
    /** The runner's time per check beyond the bare call (its transaction, parsing, judging). */
    runner_overhead_ms: z.number(),
  }),
  target: z.object({ description: z.string(), ratio: z.number(), met: z.boolean() }),
})
export type TickBenchReport = z.infer<typeof TickBenchReportSchema>

const KINDS = ['rows', 'duplicates', 'stale_keys'] as const
const tableName = (i: number) => `tick.t${String(i).padStart(4, '0')}`
const checkName = (i: number) => `tick_${String(i).padStart(4, '0')}`

/** One check per table, three kinds in turn, each reading its whole table. */
function tickCatalog(tables: number): ResolvedCheck[] {
  const checks = Array.from({ length: tables }, (_, k) => {
    const i = k + 1
    const kind = KINDS[i % KINDS.length] as (typeof KINDS)[number]
    const common = { name: checkName(i), table: tableName(i) }
    if (kind === 'rows') return { ...common, kind, where: "status = 'stuck'" }
    if (kind === 'duplicates') return { ...common, kind, columns: ['email'] }
    return { ...common, kind, key: 'key', formula: "lower(email) || ':' || id" }
  })
  return parseCatalog({ checks } as CatalogInput).checks
}

/** The tables, each with `rows` rows (a few stuck, duplicated or stale), unless already there. */
async function generate(
  sql: postgres.Sql,
  options: { tables: number; rows: number },
  log: (line: string) => void,
) {
  const [present] = await sql<{ n: number }[]>`
    select count(*)::int as n from pg_class c join pg_namespace n on n.oid = c.relnamespace
    where n.nspname = 'tick' and c.relkind = 'r'`
  const [size] = present?.n
    ? await sql<{ n: number }[]>`select count(*)::int as n from tick.t0001`
    : [{ n: 0 }]
  if (present?.n === options.tables && size?.n === options.rows) return
  await sql`drop schema if exists tick cascade`
  await sql`create schema tick`
  for (let i = 1; i <= options.tables; i += 1) {
    if (i % 100 === 1) log(`tick: generating tables ${i}..${Math.min(i + 99, options.tables)}`)
    await sql.unsafe(`
      create table ${tableName(i)} (id int primary key, email text, key text, status text);
      insert into ${tableName(i)}
      select g, 'user' || (g % ${options.rows - 3}) || '@example.com',
             lower('user' || (g % ${options.rows - 3}) || '@example.com') || ':' || case when g % 997 = 0 then -g else g end,
             case when g % 499 = 0 then 'stuck' else 'done' end
      from generate_series(1, ${options.rows}) g;`)
  }
  await sql`grant usage on schema tick to dq_monitor`
  await sql`grant select on all tables in schema tick to dq_monitor`
  await sql.unsafe('vacuum analyze')
}

export async function runTickBenchmark(
  input: TickBenchOptions,
  log: (line: string) => void = () => {},
): Promise<TickBenchReport> {
  const options = TickBenchOptionsSchema.parse(input)
  const url = new URL(options.databaseUrl)
  url.pathname = `${url.pathname.replace(/\/$/, '')}_tick`
  await ensureBenchDatabase(url.toString(), log)
  const sql = postgres(url.toString(), { max: 1, onnotice: () => {} })
  const port = PgDatabase.connect(url.toString())
  try {
    await port.migrate()
    if (options.regenerate) await sql`drop schema if exists tick cascade`
    await generate(sql, options, log)
    await sql`delete from dq.runs where id in (
      select run_id from dq.results where check_name like 'tick_%')`
    // The generation's own counts published before the full run reads its evidence: counted
    // later, they would (rightly) make every check scan again.
    await sql`select pg_stat_force_next_flush()`
    const checks = tickCatalog(options.tables)
    /** A cron tick of the whole catalog, timed through the runner (recording included). */
    const timedTick = async (what: string) => {
      const started = performance.now()
      const run = await runChecks(port, checks, {
        trigger: 'cron',
        scan: 'changed',
        onResult: (_r, index, total) => {
          if ((index + 1) % 250 === 0 || index + 1 === total) {
            log(`tick: ${what} ${index + 1}/${total}`)
          }
        },
      })
      return { run, ms: performance.now() - started }
    }

    // A full run: the first tick, when no check has evidence yet; every check scans and leaves it.
    const { run: full, ms: fullMs } = await timedTick('full run')

    // Hours: in each, a row updated in 2 % of the tables (other ones each hour), spread over the
    // catalog and published as the writer goes idle (pg_stat_force_next_flush), then a tick.
    const changed = Math.round((options.tables * options.changedPercent) / 100)
    const step = changed > 0 ? options.tables / changed : 0
    const ticks: { run: RunOutcome; ms: number }[] = []
    for (let hour = 0; hour < options.hours; hour += 1) {
      for (let k = 0; k < changed; k += 1) {
        const i = ((Math.floor(k * step) + hour) % options.tables) + 1
        await sql.unsafe(`update ${tableName(i)} set status = 'stuck' where id = ${hour + 1}`)
      }
      await sql`select pg_stat_force_next_flush()`
      ticks.push(await timedTick(`tick ${hour + 1}/${options.hours}`))
    }
    const tickMs = summarise(ticks.map((t) => t.ms)).median_ms
    const tick = (ticks.at(-1) as { run: RunOutcome }).run
    const unchanged = tick.results.filter((r) => r.details.scope === 'unchanged')

    // The runner's own overhead, on an unchanged check: runCheck against the same call made
    // bare, and against a bare round trip.
    const first = unchanged[0]
    const check = checks.find((c) => c.name === first?.check) ?? (checks[0] as ResolvedCheck)
    const spec = {
      ...measurementSpec(check),
      scan: 'changed',
    }
    const calls = { runs: options.samples, warmup: 5 }
    const bare = await measure(() => sql`select dq.run_check(${sql.json(spec)})`, calls)
    const select1 = await measure(() => sql`select 1`, calls)
    const perCheck = (await measure(() => runCheck(port, check, { scan: 'changed' }), calls)).timing
    const ratio = fullMs > 0 ? tickMs / fullMs : 0
    const [{ version } = { version: '?' }] = await sql<{ version: string }[]>`select version()`
    return {
      generated_at: new Date().toISOString(),
      postgres: version.split(',')[0] ?? version,
      cpus: cpus().length,
      node: process.version,
      tables: options.tables,
      rows_per_table: options.rows,
      checks: checks.length,
      changed_tables: changed,
      full: {
        ms: Math.round(fullMs),
        scanned: full.results.filter((r) => r.details.scope !== 'unchanged').length,
      },
      tick: {
        ms: Math.round(tickMs),
        runs_ms: ticks.map((t) => Math.round(t.ms)),
        scanned: tick.results.length - unchanged.length,
        unchanged: unchanged.length,
      },
      ratio: Math.round(ratio * 1000) / 1000,
      per_check: {
        unchanged: { min_ms: perCheck.min_ms, median_ms: perCheck.median_ms },
        bare_call: { min_ms: bare.timing.min_ms, median_ms: bare.timing.median_ms },
        select_1: { min_ms: select1.timing.min_ms, median_ms: select1.timing.median_ms },
        runner_overhead_ms:
          Math.round(Math.max(0, perCheck.median_ms - bare.timing.median_ms) * 10) / 10,
      },
      target: {
        description: `a tick with ${options.changedPercent} % of the tables changed costs at most 5 % of a full run`,
        ratio: Math.round(ratio * 1000) / 1000,
        met: ratio <= 0.05,
      },
    }
  } finally {
    await port.close()
    await sql.end({ timeout: 5 })
  }
}

export function renderTickMarkdown(report: TickBenchReport): string {
  const pc = (ratio: number) => `${(ratio * 100).toFixed(1)} %`
  const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`
  const p = report.per_check
  return `# dq-monitor benchmark: the hourly tick

${report.postgres}; ${report.cpus} CPUs; Node ${report.node}. Generated ${report.generated_at}.

${report.checks.toLocaleString('en-US')} checks (rows, duplicates, stale_keys in turn) over ${report.tables.toLocaleString('en-US')} tables of ${report.rows_per_table.toLocaleString('en-US')} rows; then, ${report.tick.runs_ms.length} times over, one row was updated in ${report.changed_tables} of the tables (${pc(report.changed_tables / report.tables)}; other tables each time) and a tick ran: the median tick is shown (each: ${report.tick.runs_ms.map((ms) => s(ms)).join(', ')}). Wall time through the runner (checks/run-checks.ts, node-postgres, one connection), recording included.

| run | checks scanned | answered unchanged | time | of the full run |
| --- | ---: | ---: | ---: | ---: |
| full run (the first tick: every check scans) | ${report.full.scanned} | 0 | ${s(report.full.ms)} | 100 % |
| cron tick (scan: changed), median | ${report.tick.scanned} | ${report.tick.unchanged} | ${s(report.tick.ms)} | ${pc(report.ratio)} |

| per check | min ms | median ms |
| --- | ---: | ---: |
| an unchanged answer, through the runner (\`runCheck\`) | ${p.unchanged.min_ms} | ${p.unchanged.median_ms} |
| the same \`select dq.run_check($1)\`, bare (database time + one round trip) | ${p.bare_call.min_ms} | ${p.bare_call.median_ms} |
| \`select 1\` (one round trip) | ${p.select_1.min_ms} | ${p.select_1.median_ms} |

Runner overhead per check, beyond the bare call: ${p.runner_overhead_ms} ms (its READ ONLY transaction: BEGIN with its timeouts, then ROLLBACK, two more round trips; parsing and judging).

Target: ${report.target.description}: ${pc(report.target.ratio)}, ${report.target.met ? 'met' : 'not met'}.
`
}
