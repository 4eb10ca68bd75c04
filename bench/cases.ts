/**
 * What the benchmark measures: for each check kind, our check through the
 * real runner beside the floors (count(*), the formula's compute) and the
 * query shapes other tools run for the same question, on the same data; and
 * the targets of issue 6 as ratios between them.
 *
 * Peers, as they generate SQL (dbt-core's test wrapper, dbt-utils, Soda
 * Core), with our tables and columns filled in. Soda fetches its frequencies
 * to the client; here the count is taken in the database so that only the
 * query shape is compared.
 *
 * @example
 * ```ts
 * const { sizes } = await generate(sql, 1) // bench/generate.ts
 * for (const c of benchCases(sizes)) console.log(c.id, c.contenders.map((x) => x.label))
 * ```
 */
import type { CheckInput } from '../checks/catalog.ts'
import type { Sizes } from './generate.ts'

export type Role = 'dq' | 'floor' | 'compute' | 'peer'

export type Contender =
  | {
      label: string
      role: 'dq'
      check: CheckInput
      /** Detail keys shown as the contender's answer. */
      answer: string[]
      /** Incremental: start from a watermark of CHANGED_SINCE, as if the last run came before an hour of writes. */
      fromWatermark?: boolean
    }
  | {
      label: string
      role: Exclude<Role, 'dq'>
      /** One query, or several run one after another (timed together). */
      sql: string | string[]
      answer: string
    }

/** contender A's median / contender B's median, at most `max` (or at least `min`). */
export type RatioTarget = {
  description: string
  of: string
  over: string
  max?: number
  min?: number
}
/** A contender's median in milliseconds, at most `maxMs`. */
export type TimeTarget = { description: string; of: string; maxMs: number }
/** A detail of one contender's result within `maxDiff` of the same detail of another's. */
export type AccuracyTarget = {
  description: string
  of: string
  over: string
  detail: string
  maxDiff: number
}
export type Target = RatioTarget | TimeTarget | AccuracyTarget

export type BenchCase = {
  id: string
  kind: string
  title: string
  /** SQL run once before the case, one statement each (VACUUM may be one), on a plain connection. */
  setup?: string[]
  contenders: Contender[]
  targets: Target[]
}

const FORMULA =
  "case when company_domain is not null then md5(coalesce(linkedin_url,'') || '::' || company_domain || '::' || coalesce(lower(trim(title)),'') || '::' || coalesce(start_date::text,'')) end"
const NATURAL_KEY = ['linkedin_url', 'company_domain', 'lower(trim(title))', 'start_date']
const HAS_COMPANY = 'company_domain is not null'
const WATERMARK = { column: 'updated_at', fullEvery: '24 hours' }

/** dbt-core wraps every test's SQL like this and reads the failure count. */
const dbtTest = (sql: string) =>
  `select count(*) as failures, count(*) <> 0 as should_warn, count(*) <> 0 as should_error from (${sql}) dbt_internal_test`

/** dbt-utils unique_combination_of_columns (its `where` config wraps the model). */
const dbtUniqueCombination = (model: string, columns: string[]) =>
  dbtTest(`with validation_errors as (
    select ${columns.join(', ')} from ${model} group by ${columns.join(', ')} having count(*) > 1
  ) select * from validation_errors`)

/** Soda Core duplicate_count, counted in the database instead of on the client. */
const sodaDuplicateCount = (table: string, columns: string[], where?: string) =>
  `with frequencies as (
    select ${columns.join(', ')}, count(*) as frequency from ${table}
    where ${[...columns.map((c) => `${c} is not null`), ...(where ? [where] : [])].join(' and ')}
    group by ${columns.join(', ')}
  ) select count(*) from frequencies where frequency > 1`

/** dbt-core not_null: one query per column. */
const dbtNotNull = (model: string, column: string) =>
  dbtTest(`select ${column} from ${model} where ${column} is null`)

/** dbt source freshness (dbt-postgres): the newest loaded_at and the time it was taken. */
const dbtSourceFreshness = (source: string, loadedAt: string) =>
  `select max(${loadedAt}) as max_loaded_at, now() as snapshotted_at from ${source}`

/** The API-required fields of core.lead_profiles (SCENARIOS.md section 7). */
const LEAD_FIELDS = [
  'company_name',
  'company_country',
  'person_country',
  'matched_job_function',
  'matched_seniority',
]
/**
 * A field missing as required_fields counts it, in the SQL it builds: NULL,
 * or (blank: true) text that is empty or only spaces, trimmed only when it
 * starts with a space. `naive` spells the blank test as people do.
 */
const missing = (field: string, blank: 'prefix' | 'naive' | false) => {
  const text = `((${field})::text collate "C")`
  if (blank === 'prefix') {
    return `((${field}) is null or ${text} = '' or (${text} like ' %' and btrim(${text}) = ''))`
  }
  return blank === 'naive' ? `(${field} is null or btrim(${field}) = '')` : `((${field}) is null)`
}
/** One count(*) pass with the given predicates: each field, and any. */
const countPass = (table: string, blank: 'prefix' | 'naive' | false) =>
  `select count(*) filter (where ${LEAD_FIELDS.map((f) => missing(f, blank)).join(' or ')}) as missing_any,
          ${LEAD_FIELDS.map((f) => `count(*) filter (where ${missing(f, blank)})`).join(', ')},
          count(*) as rows
   from ${table}`

/** dbt-core relationships: child rows whose value has no parent row. */
const dbtRelationships = (child: string, from: string, parent: string, to: string) =>
  dbtTest(`with child as (select ${from} as from_field from ${child} where ${from} is not null),
    parent as (select ${to} as to_field from ${parent})
    select from_field from child left join parent on child.from_field = parent.to_field
    where parent.to_field is null`)

export function benchCases(sizes: Sizes): BenchCase[] {
  const n = (value: number) => value.toLocaleString('en-US')
  const pwh = 'core.person_work_history'
  const pwhWithCompany = `(select * from ${pwh} where ${HAS_COMPANY}) dbt_subquery`
  return [
    {
      id: 'duplicates_breezeway',
      kind: 'duplicates',
      title: `duplicates: breezeway.task_comments (task_pk, comment_id), ${n(sizes.taskComments)} rows over ${n(sizes.taskCommentKeys)} keys`,
      contenders: [
        {
          label: 'dq duplicates',
          role: 'dq',
          answer: ['extra_rows', 'groups'],
          check: {
            name: 'bench_task_comments_duplicates',
            kind: 'duplicates',
            table: 'breezeway.task_comments',
            columns: ['task_pk', 'comment_id'],
          },
        },
        {
          label: 'count(*)',
          role: 'floor',
          answer: 'rows',
          sql: 'select count(*) from breezeway.task_comments',
        },
        {
          label: 'dbt-utils unique_combination_of_columns',
          role: 'peer',
          answer: 'groups',
          sql: dbtUniqueCombination('breezeway.task_comments', ['task_pk', 'comment_id']),
        },
        {
          label: 'Soda duplicate_count',
          role: 'peer',
          answer: 'groups',
          sql: sodaDuplicateCount('breezeway.task_comments', ['task_pk', 'comment_id']),
        },
        {
          label: 'count(*) - count(distinct (…))',
          role: 'peer',
          answer: 'extra_rows',
          sql: 'select count(*) - count(distinct (task_pk, comment_id)) from breezeway.task_comments',
        },
      ],
      targets: [
        {
          description: 'dq duplicates ≤ 1.05 × dbt-utils unique_combination_of_columns',
          of: 'dq duplicates',
          over: 'dbt-utils unique_combination_of_columns',
          max: 1.05,
        },
        {
          description: 'count(*) - count(distinct (…)) ≥ 20 × dq duplicates',
          of: 'count(*) - count(distinct (…))',
          over: 'dq duplicates',
          min: 20,
        },
      ],
    },
    {
      id: 'duplicates_work_history',
      kind: 'duplicates',
      title: `duplicates: ${pwh} natural key (4 columns, one an expression) where company_domain is not null, ${n(sizes.workHistory)} rows`,
      contenders: [
        {
          label: 'dq duplicates',
          role: 'dq',
          answer: ['extra_rows', 'groups'],
          check: {
            name: 'bench_work_history_duplicates',
            kind: 'duplicates',
            table: pwh,
            columns: NATURAL_KEY,
            where: HAS_COMPANY,
          },
        },
        {
          label: 'dq duplicates with ids',
          role: 'dq',
          answer: ['extra_rows', 'groups'],
          check: {
            name: 'bench_work_history_duplicates_ids',
            kind: 'duplicates',
            table: pwh,
            columns: NATURAL_KEY,
            where: HAS_COMPANY,
            id: 'id',
          },
        },
        { label: 'count(*)', role: 'floor', answer: 'rows', sql: `select count(*) from ${pwh}` },
        {
          label: 'dbt-utils unique_combination_of_columns',
          role: 'peer',
          answer: 'groups',
          sql: dbtUniqueCombination(pwhWithCompany, NATURAL_KEY),
        },
        {
          label: 'Soda duplicate_count',
          role: 'peer',
          answer: 'groups',
          sql: sodaDuplicateCount(pwh, NATURAL_KEY),
        },
        {
          label: 'count(*) - count(distinct (…))',
          role: 'peer',
          answer: 'extra_rows',
          sql: `select count(*) - count(distinct (${NATURAL_KEY.join(', ')})) from ${pwh} where ${HAS_COMPANY}`,
        },
      ],
      targets: [
        {
          description: 'dq duplicates ≤ 1.05 × dbt-utils unique_combination_of_columns',
          of: 'dq duplicates',
          over: 'dbt-utils unique_combination_of_columns',
          max: 1.05,
        },
      ],
    },
    {
      id: 'duplicates_current_job',
      kind: 'duplicates',
      title: `duplicates: one current job per person, ${pwh} (linkedin_url) where is_current`,
      contenders: [
        {
          label: 'dq duplicates',
          role: 'dq',
          answer: ['extra_rows', 'groups'],
          check: {
            name: 'bench_current_job_duplicates',
            kind: 'duplicates',
            table: pwh,
            columns: ['linkedin_url'],
            where: 'is_current',
          },
        },
        { label: 'count(*)', role: 'floor', answer: 'rows', sql: `select count(*) from ${pwh}` },
        {
          label: 'dbt unique',
          role: 'peer',
          answer: 'groups',
          sql: dbtTest(`select linkedin_url as unique_field, count(*) as n_records
            from (select * from ${pwh} where is_current) dbt_subquery
            where linkedin_url is not null group by linkedin_url having count(*) > 1`),
        },
      ],
      targets: [
        {
          description: 'dq duplicates ≤ 1.05 × dbt unique',
          of: 'dq duplicates',
          over: 'dbt unique',
          max: 1.05,
        },
      ],
    },
    {
      id: 'stale_keys',
      kind: 'stale_keys',
      title: `stale_keys: ${pwh}.experience_key vs its md5 formula, ${n(sizes.workHistory)} rows`,
      contenders: [
        {
          label: 'dq stale_keys',
          role: 'dq',
          answer: ['mismatched', 'missing', 'unexpected'],
          check: {
            name: 'bench_experience_key_stale',
            kind: 'stale_keys',
            table: pwh,
            key: 'experience_key',
            formula: FORMULA,
          },
        },
        {
          label: 'dq stale_keys, 1 % sample',
          role: 'dq',
          answer: ['ratio', 'ratio_error'],
          check: {
            name: 'bench_experience_key_stale_sample',
            kind: 'stale_keys',
            table: pwh,
            key: 'experience_key',
            formula: FORMULA,
            sample: { percent: 1 },
          },
        },
        { label: 'count(*)', role: 'floor', answer: 'rows', sql: `select count(*) from ${pwh}` },
        {
          label: 'count(formula)',
          role: 'compute',
          answer: 'non-null keys',
          sql: `select count(${FORMULA}) from ${pwh}`,
        },
        {
          label: 'naive split (formula per FILTER)',
          role: 'peer',
          answer: 'mismatched',
          sql: `select count(*) filter (where experience_key <> (${FORMULA})) as mismatched,
                       count(*) filter (where experience_key is null and (${FORMULA}) is not null) as missing,
                       count(*) filter (where experience_key is not null and (${FORMULA}) is null) as unexpected
                from ${pwh}`,
        },
        {
          label: 'dbt-utils expression_is_true',
          role: 'peer',
          answer: 'stale rows',
          sql: dbtTest(
            `select * from ${pwh} where not (experience_key is not distinct from (${FORMULA}))`,
          ),
        },
      ],
      targets: [
        {
          description: 'dq stale_keys (full split + sample) ≤ 1.1 × count(formula)',
          of: 'dq stale_keys',
          over: 'count(formula)',
          max: 1.1,
        },
        {
          description: 'dq stale_keys, 1 % sample ≤ 0.02 × dq stale_keys',
          of: 'dq stale_keys, 1 % sample',
          over: 'dq stale_keys',
          max: 0.02,
        },
        {
          description: '1 % sample ratio within 0.1 point (0.001) of the true ratio',
          of: 'dq stale_keys, 1 % sample',
          over: 'dq stale_keys',
          detail: 'ratio',
          maxDiff: 0.001,
        },
      ],
    },
    {
      id: 'coverage_gap',
      kind: 'coverage_gap',
      title: `coverage_gap: extracted.person_experience (${n(sizes.personExperience)} rows) → ${pwh}.source_id`,
      contenders: [
        {
          label: 'dq coverage_gap',
          role: 'dq',
          answer: ['missing', 'source_rows'],
          check: {
            name: 'bench_person_experience_gap',
            kind: 'coverage_gap',
            source: { table: 'extracted.person_experience', key: 'id', where: HAS_COMPANY },
            target: { table: pwh, key: 'source_id' },
          },
        },
        {
          label: 'count(*) of source',
          role: 'floor',
          answer: 'rows',
          sql: 'select count(*) from extracted.person_experience',
        },
        {
          label: 'NOT EXISTS anti-join',
          role: 'compute',
          answer: 'missing',
          sql: `select count(*) from extracted.person_experience s
                where ${HAS_COMPANY} and not exists (select 1 from ${pwh} t where t.source_id = s.id)`,
        },
        {
          label: 'dbt relationships (LEFT JOIN … IS NULL)',
          role: 'peer',
          answer: 'missing',
          sql: dbtRelationships(
            `(select * from extracted.person_experience where ${HAS_COMPANY}) dbt_subquery`,
            'id',
            pwh,
            'source_id',
          ),
        },
      ],
      targets: [
        {
          description: 'dq coverage_gap ≤ 1.1 × NOT EXISTS anti-join',
          of: 'dq coverage_gap',
          over: 'NOT EXISTS anti-join',
          max: 1.1,
        },
      ],
    },
    {
      id: 'coverage_gap_unique_target',
      kind: 'coverage_gap',
      title: `coverage_gap, target key unique: jobs.raw_jobs.job_hash (${n(sizes.rawJobs)} rows) → jobs.enriched_jobs.job_hash (UNIQUE)`,
      contenders: [
        {
          label: 'dq coverage_gap',
          role: 'dq',
          answer: ['missing', 'source_rows'],
          check: {
            name: 'bench_raw_jobs_gap',
            kind: 'coverage_gap',
            source: { table: 'jobs.raw_jobs', key: 'job_hash' },
            target: { table: 'jobs.enriched_jobs', key: 'job_hash' },
          },
        },
        {
          label: 'count(*) of source',
          role: 'floor',
          answer: 'rows',
          sql: 'select count(*) from jobs.raw_jobs',
        },
        {
          label: 'NOT EXISTS anti-join',
          role: 'compute',
          answer: 'missing',
          sql: `select count(*) from jobs.raw_jobs s
                where not exists (select 1 from jobs.enriched_jobs t where t.job_hash = s.job_hash)`,
        },
        {
          label: 'dbt relationships (LEFT JOIN … IS NULL)',
          role: 'peer',
          answer: 'missing (NULL keys not counted)',
          sql: dbtRelationships('jobs.raw_jobs', 'job_hash', 'jobs.enriched_jobs', 'job_hash'),
        },
      ],
      targets: [
        {
          description: 'dq coverage_gap ≤ 1.1 × NOT EXISTS anti-join',
          of: 'dq coverage_gap',
          over: 'NOT EXISTS anti-join',
          max: 1.1,
        },
      ],
    },
    {
      id: 'raw_vs_enriched',
      kind: 'raw_vs_enriched',
      title: `raw_vs_enriched: jobs.raw_jobs (${n(sizes.rawJobs)} rows, ${n(sizes.rawJobKeys)} hashes) → jobs.enriched_jobs`,
      contenders: [
        {
          label: 'dq raw_vs_enriched',
          role: 'dq',
          answer: ['lost_rows', 'lost_keys'],
          check: {
            name: 'bench_jobs_raw_vs_enriched',
            kind: 'raw_vs_enriched',
            raw: { table: 'jobs.raw_jobs', key: 'job_hash' },
            enriched: { table: 'jobs.enriched_jobs', key: 'job_hash' },
          },
        },
        {
          label: 'count(*) of raw',
          role: 'floor',
          answer: 'rows',
          sql: 'select count(*) from jobs.raw_jobs',
        },
        {
          label: 'one grouping pass + one anti-join',
          role: 'compute',
          answer: 'lost rows',
          sql: `select coalesce(sum(n), 0) from (select job_hash, count(*) as n from jobs.raw_jobs group by 1) r
                where job_hash is null
                   or not exists (select 1 from jobs.enriched_jobs e where e.job_hash = r.job_hash)`,
        },
        {
          label: 'dbt relationships (LEFT JOIN … IS NULL)',
          role: 'peer',
          answer: 'lost rows (NULL keys not counted)',
          sql: dbtRelationships('jobs.raw_jobs', 'job_hash', 'jobs.enriched_jobs', 'job_hash'),
        },
      ],
      targets: [
        {
          description: 'dq raw_vs_enriched ≤ 1.1 × one grouping pass + one anti-join',
          of: 'dq raw_vs_enriched',
          over: 'one grouping pass + one anti-join',
          max: 1.1,
        },
      ],
    },
    {
      id: 'trigger',
      kind: 'trigger',
      title: `trigger: discovery over ${n(sizes.triggerTables)} tables with updated_at (schema bench_triggers)`,
      contenders: [
        {
          label: 'dq trigger',
          role: 'dq',
          answer: ['tables_checked'],
          check: {
            name: 'bench_updated_at_triggers',
            kind: 'trigger',
            schemas: ['bench_triggers'],
            column: 'updated_at',
            events: ['UPDATE'],
            timing: 'BEFORE',
          },
        },
        {
          label: 'information_schema query',
          role: 'peer',
          answer: 'tables missing a trigger',
          sql: `select count(*) from information_schema.columns c
                where c.table_schema = 'bench_triggers' and c.column_name = 'updated_at'
                  and not exists (
                    select 1 from information_schema.triggers t
                    where t.event_object_schema = c.table_schema and t.event_object_table = c.table_name
                      and t.action_timing = 'BEFORE' and t.event_manipulation = 'UPDATE')`,
        },
      ],
      targets: [{ description: 'dq trigger < 100 ms', of: 'dq trigger', maxMs: 100 }],
    },
    {
      id: 'required_fields',
      kind: 'required_fields',
      title: `required_fields: core.lead_profiles, 5 text fields, ${n(sizes.leadProfiles)} rows (29 % missing one)`,
      contenders: [
        {
          label: 'dq required_fields',
          role: 'dq',
          answer: ['missing_any', 'rows'],
          check: {
            name: 'bench_lead_profiles_required_fields',
            kind: 'required_fields',
            table: 'core.lead_profiles',
            fields: LEAD_FIELDS,
          },
        },
        {
          label: 'dq required_fields, blank: false',
          role: 'dq',
          answer: ['missing_any', 'rows'],
          check: {
            name: 'bench_lead_profiles_required_fields_nulls',
            kind: 'required_fields',
            table: 'core.lead_profiles',
            fields: LEAD_FIELDS,
            blank: false,
          },
        },
        {
          label: 'count(*)',
          role: 'floor',
          answer: 'rows',
          sql: 'select count(*) from core.lead_profiles',
        },
        {
          label: 'one count(*) pass, same predicates',
          role: 'floor',
          answer: 'missing_any',
          sql: countPass('core.lead_profiles', 'prefix'),
        },
        {
          label: 'one count(*) pass, same predicates, blank: false',
          role: 'floor',
          answer: 'missing_any',
          sql: countPass('core.lead_profiles', false),
        },
        {
          label: "one count(*) pass, blank as btrim(x) = ''",
          role: 'compute',
          answer: 'missing_any',
          sql: countPass('core.lead_profiles', 'naive'),
        },
        {
          label: 'dbt not_null × 5 (one query per column)',
          role: 'peer',
          answer: 'failures',
          sql: LEAD_FIELDS.map((field) => dbtNotNull('core.lead_profiles', field)),
        },
      ],
      targets: [
        {
          description: 'dq required_fields, blank: false ≤ 0.3 × dbt not_null × 5',
          of: 'dq required_fields, blank: false',
          over: 'dbt not_null × 5 (one query per column)',
          max: 0.3,
        },
        {
          description: 'dq required_fields ≤ 1.2 × one count(*) pass with the same predicates',
          of: 'dq required_fields',
          over: 'one count(*) pass, same predicates',
          max: 1.2,
        },
        {
          description:
            'dq required_fields, blank: false ≤ 1.2 × one count(*) pass, same predicates',
          of: 'dq required_fields, blank: false',
          over: 'one count(*) pass, same predicates, blank: false',
          max: 1.2,
        },
      ],
    },
    freshnessTableCase(
      'freshness_table',
      `table freshness: ${pwh}.created_at, no index, ${n(sizes.workHistory)} rows`,
      'created_at',
    ),
    freshnessTableCase(
      'freshness_table_indexed',
      `table freshness: ${pwh}.updated_at, B-tree index, ${n(sizes.workHistory)} rows`,
      'updated_at',
      { instantMs: 10 },
    ),
    {
      id: 'freshness_pairwise',
      kind: 'freshness',
      title: `pairwise freshness: jobs.raw_jobs.scraped_at (${n(sizes.rawJobs)} rows) against jobs.enriched_jobs.enriched_at (UNIQUE job_hash)`,
      contenders: [
        {
          label: 'dq freshness, pairwise',
          role: 'dq',
          answer: ['behind', 'missing_target', 'source_rows'],
          check: {
            name: 'bench_raw_jobs_enriched_since',
            kind: 'freshness',
            source: { table: 'jobs.raw_jobs', key: 'job_hash', time: 'scraped_at' },
            target: { table: 'jobs.enriched_jobs', key: 'job_hash', time: 'enriched_at' },
          },
        },
        {
          label: 'count(*) of source',
          role: 'floor',
          answer: 'rows',
          sql: 'select count(*) from jobs.raw_jobs',
        },
        {
          label: 'plain join, same shape',
          role: 'compute',
          answer: 'behind',
          sql: `select count(*) filter (where e.enriched_at < r.scraped_at)
                from jobs.raw_jobs r left join jobs.enriched_jobs e on e.job_hash = r.job_hash`,
        },
      ],
      targets: [
        {
          description: 'dq freshness, pairwise ≤ 1.2 × a plain join of the same shape',
          of: 'dq freshness, pairwise',
          over: 'plain join, same shape',
          max: 1.2,
        },
      ],
    },
    volumeCase(sizes, { indexed: false }),
    volumeCase(sizes, { indexed: true }),
    anomalyCase(),
    incrementalCase(
      'incremental_stale_keys',
      `incremental stale_keys: ${n(sizes.changedWorkHistory)} changed rows in ${n(sizes.workHistory)}`,
      {
        kind: 'stale_keys',
        table: pwh,
        key: 'experience_key',
        formula: FORMULA,
      },
      ['mismatched', 'missing', 'unexpected'],
    ),
    incrementalCase(
      'incremental_duplicates',
      `incremental duplicates: ${n(sizes.changedWorkHistory)} changed rows in ${n(sizes.workHistory)}, natural key`,
      { kind: 'duplicates', table: pwh, columns: NATURAL_KEY, where: HAS_COMPANY },
      ['extra_rows', 'groups'],
    ),
    incrementalCase(
      'incremental_coverage_gap',
      `incremental coverage_gap: ${n(sizes.changedPersonExperience)} changed rows in ${n(sizes.personExperience)}`,
      {
        kind: 'coverage_gap',
        source: { table: 'extracted.person_experience', key: 'id', where: HAS_COMPANY },
        target: { table: pwh, key: 'source_id' },
      },
      ['missing', 'source_rows'],
    ),
  ]
}

/**
 * Table freshness of one column of work history beside dbt source
 * freshness's max(); with an index, both must be instant (`instantMs`).
 */
function freshnessTableCase(
  id: string,
  title: string,
  column: string,
  options: { instantMs?: number } = {},
): BenchCase {
  const pwh = 'core.person_work_history'
  return {
    id,
    kind: 'freshness',
    title,
    contenders: [
      {
        label: 'dq freshness',
        role: 'dq',
        answer: ['age_hours'],
        check: {
          name: `bench_${id}`,
          kind: 'freshness',
          table: pwh,
          column,
          threshold: { warn: 24, fail: 48 },
        },
      },
      {
        label: 'dbt source freshness',
        role: 'peer',
        answer: 'max_loaded_at',
        sql: dbtSourceFreshness(pwh, column),
      },
    ],
    targets: [
      {
        description: 'dq freshness ≤ 1.1 × dbt source freshness',
        of: 'dq freshness',
        over: 'dbt source freshness',
        max: 1.1,
      },
      ...(options.instantMs === undefined
        ? []
        : [
            {
              description: `dq freshness < ${options.instantMs} ms (instant)`,
              of: 'dq freshness',
              maxMs: options.instantMs,
            },
          ]),
    ],
  }
}

/** A full run and an incremental run of the same check. */
function incrementalCase(
  id: string,
  title: string,
  check: Record<string, unknown>,
  answer: string[],
): BenchCase {
  const kind = String(check.kind)
  return {
    id,
    kind,
    title,
    contenders: [
      {
        label: `dq ${kind}, incremental`,
        role: 'dq',
        answer: [...answer, 'scope'],
        fromWatermark: true,
        check: { name: `bench_${id}`, ...check, incremental: WATERMARK } as CheckInput,
      },
      {
        label: `dq ${kind}, full`,
        role: 'dq',
        answer,
        check: { name: `bench_${id}_full`, ...check } as CheckInput,
      },
    ],
    targets: [
      {
        description: `incremental ≤ 0.05 × full`,
        of: `dq ${kind}, incremental`,
        over: `dq ${kind}, full`,
        max: 0.05,
      },
    ],
  }
}

/** Training days of the volume cases: a day's buckets are compared with the 28 before. */
const VOLUME_TRAINING_DAYS = 28

/**
 * volume on jobs.raw_jobs's rows, with or without an index on the time
 * column, beside the plain count(*) per bucket over the same range. The
 * generated scraped_at is a fixed past, and buckets end at now(): each run
 * copies the rows with scraped_at re-spread one every 30 s up to now (about a
 * year at scale 1), so the 29 days a check reads are 8 % of them. The plain
 * query is written as fast as dq's, so that the ratio is dq's own cost: the
 * bucket by date_part (extract's numeric costs more per row), and the window's
 * start computed once in a scalar subquery (now() - interval in a seq scan's
 * filter is timezone arithmetic on every row; dq binds it as a parameter).
 */
function volumeCase(sizes: Sizes, { indexed }: { indexed: boolean }): BenchCase {
  const table = indexed ? 'raw_jobs_indexed' : 'raw_jobs'
  const relation = `bench_volume.${table}`
  const days = VOLUME_TRAINING_DAYS + 1
  return {
    id: indexed ? 'volume_indexed' : 'volume',
    kind: 'volume',
    title: `volume: jobs.raw_jobs (${sizes.rawJobs.toLocaleString('en-US')} rows, one every 30 s up to now) by day, ${VOLUME_TRAINING_DAYS} training days, ${indexed ? 'with' : 'without'} an index on the time column`,
    setup: [
      'create schema if not exists bench_volume',
      `drop table if exists ${relation}`,
      `create table ${relation} as
         select id, job_hash, now() - ((select max(id) from jobs.raw_jobs) - id) * interval '30 seconds' as scraped_at
         from jobs.raw_jobs`,
      ...(indexed ? [`create index ${table}_scraped_at_idx on ${relation} (scraped_at)`] : []),
      `vacuum (analyze) ${relation}`,
      'grant usage on schema bench_volume to dq_monitor',
      `grant select on ${relation} to dq_monitor`,
    ],
    contenders: [
      {
        label: 'dq volume',
        role: 'dq',
        answer: ['count', 'training_buckets'],
        check: {
          name: `bench_${table}_volume`,
          kind: 'volume',
          table: relation,
          time: 'scraped_at',
          bucket: 'day',
          training: VOLUME_TRAINING_DAYS,
        },
      },
      { label: 'count(*)', role: 'floor', answer: 'rows', sql: `select count(*) from ${relation}` },
      {
        label: 'count(*) group by bucket',
        role: 'compute',
        answer: 'bucket 0 rows',
        sql: `select coalesce(sum(n) filter (where k = 0), 0) from (
                select floor(date_part('epoch', now() - scraped_at) / 86400)::int as k, count(*) as n
                from ${relation}
                where scraped_at > (select now() - interval '${days} days') and scraped_at <= now()
                group by 1) b`,
      },
    ],
    targets: [
      {
        description: 'dq volume ≤ 1.2 × count(*) group by bucket',
        of: 'dq volume',
        over: 'count(*) group by bucket',
        max: 1.2,
      },
    ],
  }
}

const ANOMALY_CHECK = 'bench_anomaly_trigger'

/**
 * The anomaly option on a check with 720 hourly results in history (30
 * days, all in its training period): the whole check with and without it,
 * and dq.anomaly alone.
 */
function anomalyCase(): BenchCase {
  const trigger = {
    kind: 'trigger' as const,
    table: 'bench_triggers.t0001',
    function: 'set_updated_at',
    events: ['UPDATE' as const],
    timing: 'BEFORE' as const,
  }
  const settings = { training: '30 days' }
  return {
    id: 'anomaly',
    kind: 'anomaly',
    title:
      'anomaly: a trigger check with 720 hourly results in history, all in its 30-day training period',
    setup: [
      `delete from dq.runs where id in (select run_id from dq.results where check_name = '${ANOMALY_CHECK}')`,
      `with runs as (
         insert into dq.runs (id, trigger, started_at, duration_ms)
         select gen_random_uuid(), 'cron', now() - h * interval '1 hour', 0 from generate_series(0, 719) h
         returning id, started_at)
       insert into dq.results (run_id, check_name, kind, status, value, threshold, details, duration_ms, trigger, started_at)
       select id, '${ANOMALY_CHECK}', 'trigger', 'pass', extract(hour from started_at)::int % 3, 'null', '{}', 0, 'cron', started_at
       from runs`,
      'analyze dq.results',
    ],
    contenders: [
      {
        label: 'dq trigger, with anomaly',
        role: 'dq',
        answer: ['tables_checked', 'anomaly.training'],
        check: { name: ANOMALY_CHECK, ...trigger, anomaly: settings },
      },
      {
        label: 'dq trigger, without',
        role: 'dq',
        answer: ['tables_checked'],
        check: { name: `${ANOMALY_CHECK}_plain`, ...trigger },
      },
      {
        label: 'dq.anomaly over 720 results',
        role: 'compute',
        answer: 'training results',
        sql: `select (dq.anomaly('${ANOMALY_CHECK}', '${JSON.stringify(settings)}', 0) ->> 'training')::int`,
      },
    ],
    targets: [
      {
        description: 'dq.anomaly over 720 hourly results < 20 ms',
        of: 'dq.anomaly over 720 results',
        maxMs: 20,
      },
    ],
  }
}
