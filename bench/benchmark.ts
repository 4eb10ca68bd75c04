/**
 * Runs the benchmark: generates the data (or reuses it), applies the dq
 * migrations, then times every contender of every case in interleaved rounds
 * (round r runs each contender once), so that load from anything else on the
 * machine falls on all of them alike. Our checks go through the real runner
 * (`runCheck`) and the postgres.js adapter: a READ ONLY transaction, the
 * timeouts, dq.run_check. Peers' SQL goes through a plain connection.
 *
 * @example
 * ```ts
 * const report = await runBenchmark({ databaseUrl: 'postgres://localhost/dq_bench', scale: 0.01, runs: 3, warmup: 1 })
 * console.log(renderMarkdown(report))
 * ```
 */
import { cpus, totalmem } from 'node:os'
import postgres, { type Sql } from 'postgres'
import { z } from 'zod'
import { parseCatalog, type ResolvedCheck } from '../checks/catalog.ts'
import type { CheckResult } from '../checks/result.ts'
import { runCheck, runChecks } from '../checks/run-checks.ts'
import { PgDatabase } from '../db/node-postgres.ts'
import { DqError } from '../kernel/errors.ts'
import { type BenchCase, benchCases, type Contender, type Target } from './cases.ts'
import { CHANGED_SINCE, generate } from './generate.ts'
import { summarise, type Timing, TimingSchema } from './measure.ts'

const BenchOptionsSchema = z.object({
  /** A database of the benchmark's own: its name must start with "dq_bench". */
  databaseUrl: z.string().min(1),
  scale: z.number().positive().max(10),
  runs: z.number().int().min(1).max(100),
  warmup: z.number().int().min(0).max(10),
  regenerate: z.boolean().default(false),
  /** Case ids to run (all when empty). */
  only: z.array(z.string()).default([]),
})
export type BenchOptions = z.input<typeof BenchOptionsSchema>

const ROLES = ['dq', 'floor', 'compute', 'peer'] as const

export const BenchReportSchema = z.object({
  generated_at: z.string(),
  scale: z.number(),
  runs: z.number(),
  warmup: z.number(),
  environment: z.object({
    postgres: z.string(),
    cpus: z.number(),
    memory_gb: z.number(),
    node: z.string(),
    settings: z.record(z.string(), z.string()),
  }),
  row_counts: z.record(z.string(), z.number()),
  cases: z.array(
    z.object({
      id: z.string(),
      kind: z.string(),
      title: z.string(),
      contenders: z.array(
        z.object({
          label: z.string(),
          role: z.enum(ROLES),
          answer: z.string(),
          timing: TimingSchema,
          /** This contender's median over the case's first dq contender's median. */
          vs_dq: z.number().nullable(),
        }),
      ),
      targets: z.array(
        z.object({
          description: z.string(),
          /** From medians (what `met` judges), and from minimums (less disturbed by other load). */
          value: z.number().nullable(),
          value_from_min: z.number().nullable(),
          met: z.boolean(),
        }),
      ),
    }),
  ),
})
export type BenchReport = z.infer<typeof BenchReportSchema>
type CaseReport = BenchReport['cases'][number]

const SETTINGS = [
  'max_parallel_workers_per_gather',
  'max_parallel_workers',
  'max_worker_processes',
  'work_mem',
  'hash_mem_multiplier',
  'shared_buffers',
  'effective_cache_size',
  'random_page_cost',
  'jit',
  'server_version',
]

const TABLES = [
  'core.person_work_history',
  'breezeway.task_comments',
  'extracted.person_experience',
  'jobs.raw_jobs',
  'jobs.enriched_jobs',
  'core.lead_profiles',
]

/** Runs every case (or `only` those) and returns the report; `log` gets progress lines. */
export async function runBenchmark(
  input: BenchOptions,
  log: (line: string) => void = () => {},
): Promise<BenchReport> {
  const options = BenchOptionsSchema.parse(input)
  await ensureBenchDatabase(options.databaseUrl, log)
  const sql = postgres(options.databaseUrl, { max: 1, onnotice: () => {} })
  const db = PgDatabase.connect(options.databaseUrl)
  try {
    const { sizes } = await generate(sql, options.scale, { force: options.regenerate, log })
    await db.migrate()
    // Checks run as dq_monitor (README "Safety"): it reads what they read, as a user grants it.
    await sql.unsafe(`
      grant usage on schema core, extracted, breezeway, jobs, bench_triggers to dq_monitor;
      grant select on all tables in schema core, extracted, breezeway, jobs, bench_triggers to dq_monitor;`)
    const environment = await describeEnvironment(sql)
    const rowCounts: Record<string, number> = {}
    for (const table of TABLES) {
      const [row] = await sql.unsafe<{ n: string }[]>(`select count(*) as n from ${table}`)
      rowCounts[table] = Number(row?.n ?? 0)
    }
    const [tables] = await sql.unsafe<{ n: string }[]>(
      "select count(*) as n from pg_tables where schemaname = 'bench_triggers'",
    )
    rowCounts['bench_triggers (tables)'] = Number(tables?.n ?? 0)

    const cases: CaseReport[] = []
    for (const benchCase of benchCases(sizes)) {
      if (options.only.length > 0 && !options.only.includes(benchCase.id)) continue
      log(`${benchCase.id}: ${benchCase.contenders.length} contenders`)
      cases.push(await runCase(benchCase, { sql, db, runs: options.runs, warmup: options.warmup }))
    }
    return {
      generated_at: new Date().toISOString(),
      scale: options.scale,
      runs: options.runs,
      warmup: options.warmup,
      environment,
      row_counts: rowCounts,
      cases,
    }
  } finally {
    await db.close()
    await sql.end({ timeout: 5 })
  }
}

type Context = { sql: Sql; db: PgDatabase; runs: number; warmup: number }

/** What one run of a contender found: its answer, and a dq result's details. */
type Outcome = { answer: string; details?: Record<string, unknown> }

async function runCase(benchCase: BenchCase, context: Context): Promise<CaseReport> {
  for (const statement of benchCase.setup ?? []) await context.sql.unsafe(statement)
  const runners: (() => Promise<Outcome>)[] = []
  for (const contender of benchCase.contenders) {
    runners.push(await prepare(contender, context))
  }
  const outcomes: Outcome[] = []
  for (const run of runners) {
    for (let i = 0; i < context.warmup; i++) await run()
  }
  const times: number[][] = runners.map(() => [])
  for (let round = 0; round < context.runs; round++) {
    // Each round starts one contender later, so that none always follows the
    // one that evicts the caches (count(distinct) spills to disk).
    for (let step = 0; step < runners.length; step++) {
      const index = (round + step) % runners.length
      const run = runners[index]
      if (!run) continue
      const started = performance.now()
      outcomes[index] = await run()
      times[index]?.push(Math.round((performance.now() - started) * 10) / 10)
    }
  }
  const timings = times.map(summarise)
  const dqIndex = benchCase.contenders.findIndex((c) => c.role === 'dq')
  const dqMedian = timings[dqIndex]?.median_ms ?? 0
  const contenders = benchCase.contenders.map((contender, index) => {
    const timing = timings[index] ?? summarise([])
    return {
      label: contender.label,
      role: contender.role,
      answer: outcomes[index]?.answer ?? '',
      timing,
      vs_dq: dqMedian > 0 ? round(timing.median_ms / dqMedian, 3) : null,
    }
  })
  const find = (label: string) => {
    const index = benchCase.contenders.findIndex((c) => c.label === label)
    if (index < 0) throw new Error(`bench case ${benchCase.id}: no contender "${label}"`)
    return { timing: timings[index] ?? summarise([]), outcome: outcomes[index] }
  }
  return {
    id: benchCase.id,
    kind: benchCase.kind,
    title: benchCase.title,
    contenders,
    targets: benchCase.targets.map((target) => evaluate(target, find)),
  }
}

function evaluate(
  target: Target,
  find: (label: string) => { timing: Timing; outcome?: Outcome },
): CaseReport['targets'][number] {
  const { description } = target
  if ('maxMs' in target) {
    const { median_ms: value, min_ms } = find(target.of).timing
    return { description, value, value_from_min: min_ms, met: value <= target.maxMs }
  }
  if ('detail' in target) {
    const of = Number(find(target.of).outcome?.details?.[target.detail])
    const over = Number(find(target.over).outcome?.details?.[target.detail])
    const value =
      Number.isFinite(of) && Number.isFinite(over) ? round(Math.abs(of - over), 6) : null
    return {
      description,
      value,
      value_from_min: null,
      met: value !== null && value <= target.maxDiff,
    }
  }
  const of = find(target.of).timing
  const over = find(target.over).timing
  const ratio = (a: number, b: number) => (b > 0 ? round(a / b, 3) : null)
  const value = ratio(of.median_ms, over.median_ms)
  const met =
    value !== null &&
    (target.max === undefined || value <= target.max) &&
    (target.min === undefined || value >= target.min)
  return { description, value, value_from_min: ratio(of.min_ms, over.min_ms), met }
}

/** A function that runs the contender once, after any setup it needs. */
async function prepare(contender: Contender, context: Context): Promise<() => Promise<Outcome>> {
  if (contender.role !== 'dq') {
    // Several queries (one per column, as dbt runs its tests) run one after another.
    const queries = typeof contender.sql === 'string' ? [contender.sql] : contender.sql
    return async () => {
      const firsts: unknown[] = []
      for (const query of queries) {
        const [row] = await context.sql.unsafe(query)
        firsts.push(row ? Object.values(row)[0] : null)
      }
      return { answer: `${contender.answer} ${firsts.map(formatValue).join(', ')}` }
    }
  }
  const [check] = parseCatalog(
    { checks: [contender.check] },
    `bench contender "${contender.label}"`,
  ).checks
  if (!check) throw new Error(`bench contender "${contender.label}": no check`)
  if (contender.fromWatermark) await startFromWatermark(context, check)
  return async () => {
    const result = await runCheck(context.db, check)
    return { answer: describeResult(result, contender.answer), details: result.details }
  }
}

/**
 * History as if the check's last run came just before an hour of writes: a
 * recorded full run, whose watermark is then set back to CHANGED_SINCE. Each
 * timed run (not recorded) starts from there.
 */
async function startFromWatermark(context: Context, check: ResolvedCheck): Promise<void> {
  await context.sql`delete from dq.results where check_name = ${check.name}`
  const run = await runChecks(context.db, [check], { trigger: 'cli' })
  const [result] = run.results
  if (!result || result.status === 'error' || !run.recorded) {
    throw new DqError(
      'database',
      `bench: the first (full) run of ${check.name} failed: ${result?.error ?? run.recordError}`,
    )
  }
  await context.sql`
    update dq.results
    set details = jsonb_set(details, '{watermark}', to_jsonb(${CHANGED_SINCE}::timestamptz))
    where check_name = ${check.name}`
}

function describeResult(result: CheckResult, keys: string[]): string {
  if (result.status === 'error') {
    throw new DqError('database', `bench: ${result.check} errored: ${result.error}`)
  }
  // "anomaly.training": a detail inside a detail
  const detail = (key: string) =>
    key
      .split('.')
      .reduce<unknown>(
        (value, part) => (value as Record<string, unknown> | null)?.[part],
        result.details,
      )
  return keys.map((key) => `${key} ${formatValue(detail(key))}`).join(', ')
}

function formatValue(value: unknown): string {
  if (typeof value === 'number') return value.toLocaleString('en-US')
  if (typeof value === 'string' && /^\d+$/.test(value)) return Number(value).toLocaleString('en-US')
  return String(value)
}

async function describeEnvironment(sql: Sql): Promise<BenchReport['environment']> {
  const [version] = await sql<{ version: string }[]>`select version()`
  const rows = await sql<{ name: string; setting: string }[]>`
    select name, current_setting(name) as setting from pg_settings where name = any(${SETTINGS})`
  return {
    postgres: version?.version ?? 'unknown',
    cpus: cpus().length,
    memory_gb: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    settings: Object.fromEntries(rows.map((r) => [r.name, r.setting])),
  }
}

/**
 * The generator drops and recreates schemas: refuse any database that is not
 * the benchmark's own (named dq_bench…), and create it when it is missing.
 */
export async function ensureBenchDatabase(url: string, log: (line: string) => void): Promise<void> {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new DqError('config', 'DQ_BENCH_DATABASE_URL is not a postgres:// URL')
  }
  const name = decodeURIComponent(parsed.pathname.replace(/^\//, ''))
  if (!/^dq_bench[a-z0-9_]*$/.test(name)) {
    throw new DqError(
      'config',
      `the benchmark drops and recreates schemas (core, extracted, breezeway, jobs), so it only runs on a database of its own named dq_bench…; got "${name || '(none)'}"`,
    )
  }
  const maintenance = new URL(url)
  maintenance.pathname = '/postgres'
  const admin = postgres(maintenance.toString(), { max: 1, onnotice: () => {} })
  try {
    const [exists] = await admin`select 1 from pg_database where datname = ${name}`
    if (!exists) {
      log(`creating database ${name}`)
      await admin.unsafe(`create database ${name}`)
    }
  } finally {
    await admin.end({ timeout: 5 })
  }
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}
