/**
 * The benchmark's data: the five incidents at their real scale (scale 1), built
 * deterministically inside PostgreSQL from generate_series and integer
 * arithmetic (no random()), so every run of every machine measures the same
 * rows and the checks report the same figures.
 *
 * | table | rows at scale 1 | shape |
 * | --- | --- | --- |
 * | core.person_work_history | 2.6 M | ~83 % stale experience_key, 1 % duplicate natural keys behind a unique index on the stale keys |
 * | breezeway.task_comments | 10 M | 30 k natural keys (task_pk, comment_id), no unique index |
 * | extracted.person_experience | 1.3 M | 5 % have no core row (coverage gap) |
 * | jobs.raw_jobs / jobs.enriched_jobs | 1 M / 200 k | 250 k job hashes, a fifth of them never enriched; three quarters of the raw rows scraped after their job was enriched (freshness) |
 * | core.lead_profiles | 1 M | five API-required text fields, 29 % of the rows missing one (NULL or blank), as in the seed |
 * | bench_triggers.* | 1,000 tables | every tenth lacks its updated_at trigger |
 *
 * "Changed" rows (updated_at after CHANGED_SINCE) stand for an hour of writes:
 * 10 k at scale 1 in work history and in person_experience; the incremental
 * runs start from that watermark.
 *
 * @example
 * ```ts
 * const sizes = await generate(sql, 0.01) // skips the work when that scale is already there
 * ```
 */
import type { Sql } from 'postgres'

/** Bump when the generated data changes, so existing bench databases are rebuilt. */
const GENERATOR_VERSION = 4

/** Every row changed "in the last hour" has updated_at after this; every other row is years older. */
export const CHANGED_SINCE = '2025-06-01T00:00:00Z'

export type Sizes = {
  workHistory: number
  taskComments: number
  taskCommentKeys: number
  personExperience: number
  rawJobs: number
  rawJobKeys: number
  triggerTables: number
  leadProfiles: number
  /** Rows with updated_at after CHANGED_SINCE, per table. */
  changedWorkHistory: number
  changedPersonExperience: number
}

/** Row counts for a scale (1 = the incidents' real scale). */
function sizesFor(scale: number): Sizes {
  const rows = (n: number, min: number) => Math.max(min, Math.round(n * scale))
  const workHistory = rows(2_600_000, 1_300)
  const personExperience = rows(1_300_000, 650)
  return {
    workHistory,
    taskComments: rows(10_000_000, 5_000),
    taskCommentKeys: rows(30_000, 15),
    personExperience,
    rawJobs: rows(1_000_000, 500),
    rawJobKeys: rows(250_000, 125),
    // Catalog lookups do not scale with rows: 1,000 tables unless the run is tiny.
    triggerTables: scale >= 0.01 ? 1_000 : 40,
    leadProfiles: rows(1_000_000, 500),
    changedWorkHistory: Math.floor(workHistory / 260),
    changedPersonExperience: Math.floor(personExperience / 130),
  }
}

/**
 * Builds (or keeps) the benchmark schemas for `scale`. Returns the sizes and
 * whether it generated anything. DESTROYS the schemas core, extracted,
 * breezeway, jobs and bench_triggers of that database: point it only at a
 * database of its own.
 */
export async function generate(
  sql: Sql,
  scale: number,
  options: { force?: boolean; log?: (line: string) => void } = {},
): Promise<{ sizes: Sizes; generated: boolean }> {
  const sizes = sizesFor(scale)
  const log = options.log ?? (() => {})
  await sql.unsafe('create schema if not exists bench')
  await sql.unsafe(
    'create table if not exists bench.meta (scale numeric not null, version int not null, generated_at timestamptz not null)',
  )
  const [meta] = await sql.unsafe<{ scale: string; version: number }[]>(
    'select scale::text, version from bench.meta',
  )
  if (
    !options.force &&
    meta &&
    Number(meta.scale) === scale &&
    meta.version === GENERATOR_VERSION
  ) {
    log(`data for scale ${scale} already generated; reusing it (--regenerate to rebuild)`)
    return { sizes, generated: false }
  }

  for (const [what, statement] of statements(sizes)) {
    const started = performance.now()
    await sql.unsafe(statement)
    log(`${what} (${((performance.now() - started) / 1000).toFixed(1)} s)`)
  }
  // VACUUM cannot run in a transaction block: one statement each. It sets the
  // visibility map, so index-only scans (the anti-joins' fast path) apply.
  for (const table of TABLES) {
    const started = performance.now()
    await sql.unsafe(`vacuum (analyze) ${table}`)
    log(`vacuum analyze ${table} (${((performance.now() - started) / 1000).toFixed(1)} s)`)
  }
  await sql.unsafe('truncate bench.meta')
  await sql.unsafe('insert into bench.meta values ($1, $2, now())', [scale, GENERATOR_VERSION])
  return { sizes, generated: true }
}

const TABLES = [
  'core.person_work_history',
  'extracted.person_experience',
  'breezeway.task_comments',
  'jobs.raw_jobs',
  'jobs.enriched_jobs',
  'core.lead_profiles',
]

/** The generation steps, each one SQL text. */
function statements(s: Sizes): [string, string][] {
  const changed = `timestamptz '${CHANGED_SINCE}'`
  return [
    [
      'schemas',
      `drop schema if exists core, extracted, breezeway, jobs, bench_triggers cascade;
       create schema core; create schema extracted; create schema breezeway; create schema jobs;
       create schema bench_triggers;
       create or replace function public.set_updated_at() returns trigger
       language plpgsql as $$ begin new.updated_at = now(); return new; end $$;`,
    ],
    [
      `core.person_work_history: ${s.workHistory} rows`,
      // b is the row whose natural key this row carries: every 100th row
      // repeats the previous row's key (a duplicate), with the title spelt
      // differently, so its stale key differs and the unique index holds.
      // One row in six (with a company) has the canonical key; the rest keep
      // the old formula's key: ~83 % stale. Rows with i % 260 = 100 changed
      // in the last hour (a fifth of those are duplicates).
      `create table core.person_work_history (
         id bigint primary key, linkedin_url text, company_domain text, company_name text,
         title text, start_date date, is_current boolean not null,
         created_at timestamptz not null, updated_at timestamptz not null,
         source_id bigint, experience_key text);
       insert into core.person_work_history
       select i, linkedin_url, company_domain, company_name, title, start_date, is_current,
              created_at, updated_at, source_id,
              case when i % 6 = 0 and company_domain is not null then
                     md5(coalesce(linkedin_url,'') || '::' || company_domain || '::'
                         || coalesce(lower(trim(title)),'') || '::' || coalesce(start_date::text,''))
                   when i % 6 = 0 then null
                   else md5(coalesce(linkedin_url,'') || '|' || coalesce(company_name,'') || '|'
                            || coalesce(title,'') || '|' || coalesce(start_date::text,''))
              end
       from (
         select i,
                'linkedin.com/in/person-' || (b / 3) as linkedin_url,
                case when b % 29 <> 0 then 'company' || (b * 7919) % 60000 || '.com' end as company_domain,
                'Company ' || (b * 7919) % 60000 as company_name,
                case when i <> b and i % 200 = 0 then upper(t)
                     when i <> b then ' ' || t || ' '
                     else t end as title,
                date '1990-01-01' + (b % 12000)::int as start_date,
                b % 3 = 0 as is_current,
                timestamptz '2020-01-01 00:00:00+00' + i * interval '20 seconds' as created_at,
                case when i % 260 = 100 then ${changed} + (i / 260) * interval '1 second'
                     else timestamptz '2020-01-01 00:00:00+00' + i * interval '25 seconds' end as updated_at,
                case when i % 2 = 0 and (i / 2) % 20 <> 7 and i / 2 <= ${s.personExperience} then i / 2 end
                  as source_id
         from (select i, case when i % 100 = 0 then i - 1 else i end as b
               from generate_series(1, ${s.workHistory}::bigint) i) n,
              lateral (select (array['Software Engineer','Senior Software Engineer','Data Scientist',
                         'Product Manager','Engineering Manager','Sales Director','Account Executive',
                         'Marketing Manager','Head of Growth','Chief Technology Officer','Founder',
                         'Co-Founder','Data Engineer','Product Designer','Customer Success Manager'])[1 + b % 15] as t) tt
       ) r;
       create unique index person_work_history_experience_key_uidx on core.person_work_history (experience_key);
       create index person_work_history_source_id_idx on core.person_work_history (source_id);
       create index person_work_history_updated_at_idx on core.person_work_history (updated_at);
       create index person_work_history_natural_key_idx on core.person_work_history
         (linkedin_url, company_domain, lower(trim(title)), start_date);`,
    ],
    [
      `extracted.person_experience: ${s.personExperience} rows`,
      // Ids with id % 20 = 7 never reached core (5 %); one in 31 has no
      // company (outside the check's where). id % 130 = 7 changed in the last
      // hour: half of those are in the gap.
      `create table extracted.person_experience (
         id bigint primary key, linkedin_url text, company_domain text, title text,
         start_date date, created_at timestamptz not null, updated_at timestamptz not null);
       insert into extracted.person_experience
       select i, 'linkedin.com/in/person-' || i / 2,
              case when i % 31 <> 0 then 'company' || (i * 7919) % 60000 || '.com' end,
              'Engineer', date '1990-01-01' + (i % 12000)::int,
              timestamptz '2020-01-01 00:00:00+00' + i * interval '40 seconds',
              case when i % 130 = 7 then ${changed} + (i / 130) * interval '1 second'
                   else timestamptz '2020-01-01 00:00:00+00' + i * interval '45 seconds' end
       from generate_series(1, ${s.personExperience}::bigint) i;
       create index person_experience_updated_at_idx on extracted.person_experience (updated_at);`,
    ],
    [
      `breezeway.task_comments: ${s.taskComments} rows over ${s.taskCommentKeys} keys`,
      `create table breezeway.task_comments (
         id bigint primary key, task_pk bigint, comment_id bigint, body text, created_at timestamptz);
       insert into breezeway.task_comments
       select i + 1, 1000 + k / 3, 900000 + k, 'Comment #' || k,
              timestamptz '2024-01-01 00:00:00+00' + k * interval '90 minutes'
       from (select i, i % ${s.taskCommentKeys} as k
             from generate_series(0, ${s.taskComments - 1}::bigint) i) x;`,
    ],
    [
      `jobs.raw_jobs: ${s.rawJobs} rows over ${s.rawJobKeys} hashes`,
      // One raw row in 1,000 has no hash (always lost); keys with k % 5 = 3
      // were never enriched (a fifth).
      `create table jobs.raw_jobs (
         id bigint primary key, company text, title text, job_hash text, scraped_at timestamptz not null);
       insert into jobs.raw_jobs
       select i, 'Company ' || k % 5000, 'Title ' || k % 97,
              case when i % 1000 <> 999 then md5('job:' || k) end,
              timestamptz '2025-01-01 00:00:00+00' + i * interval '1 second'
       from (select i, i % ${s.rawJobKeys} as k from generate_series(1, ${s.rawJobs}::bigint) i) x;
       create table jobs.enriched_jobs (
         id bigint primary key, job_hash text not null unique, category text, enriched_at timestamptz not null);
       insert into jobs.enriched_jobs
       select k + 1, md5('job:' || k), 'Category ' || k % 11,
              timestamptz '2025-01-01 00:00:00+00' + k * interval '1 second'
       from generate_series(0, ${s.rawJobKeys - 1}) k
       where k % 5 <> 3;`,
    ],
    [
      `core.lead_profiles: ${s.leadProfiles} rows`,
      // The seed's pattern (SCENARIOS.md section 7) at scale: company_name
      // NULL when id % 40 = 1 and blank when id % 200 = 3, the other fields
      // NULL on their own moduli; 29 % of the rows miss a field, 28.5 %
      // counting NULLs only.
      `create table core.lead_profiles (
         id bigint primary key, linkedin_url text, company_name text, company_country text,
         person_country text, matched_job_function text, matched_seniority text);
       insert into core.lead_profiles
       select id, 'linkedin.com/in/lead-' || id,
              case when id % 40 = 1 then null when id % 200 = 3 then '  ' else 'Company ' || id % 5000 end,
              case when id % 10 = 2 then null else 'C' || id % 11 end,
              case when id % 25 = 4 then null else 'P' || id % 9 end,
              case when id % 8 = 5 then null else 'Function ' || id % 7 end,
              case when id % 16 = 5 then null else 'Seniority ' || id % 6 end
       from generate_series(1, ${s.leadProfiles}::bigint) id;`,
    ],
    [
      `bench_triggers: ${s.triggerTables} tables`,
      `do $$
       begin
         for t in 1..${s.triggerTables} loop
           execute format('create table bench_triggers.%I (id int primary key, updated_at timestamptz)', 't' || lpad(t::text, 4, '0'));
           if t % 10 <> 0 then
             execute format('create trigger set_updated_at before update on bench_triggers.%I for each row execute function public.set_updated_at()', 't' || lpad(t::text, 4, '0'));
           end if;
         end loop;
       end $$;`,
    ],
  ]
}
