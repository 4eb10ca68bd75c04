-- =============================================================================
-- supabase/seed.sql: demo incidents for dq-monitor
-- =============================================================================
--
-- WARNING: this file DESTROYS and recreates the schemas core, extracted,
-- breezeway and jobs (drop schema ... cascade), and drops and recreates the
-- tables raw.companyenrich_payloads, reference.enrichment_runs and
-- reference.enrichment_workflow_registry. Never run it on a production
-- database. It does not touch schema dq. It creates, or replaces,
-- public.set_updated_at().
--
-- It builds a small database (about 80k rows in 31 tables) that reproduces the
-- ten incidents of SCENARIOS.md sections 1-10, scaled down. Everything is
-- deterministic: generate_series, integer arithmetic and md5() of counters, no
-- random(). So every run reports the same figures. The only clock-dependent
-- values are the timestamps of sections 5 and 8-10 (raw and enriched jobs,
-- payloads and updated_at, enrichment runs, daily volume), which are relative
-- to now() so that the windows, freshness and stuck-run checks work whenever
-- the seed is run. Plain SQL: it runs with
-- `psql -v ON_ERROR_STOP=1 -f seed.sql` (PostgreSQL 15+) and with PGlite
-- `db.exec(sql)`. It can be run again on the same database.
--
-- Trigger discovery (incident 2). In the schemas core and extracted, these are
-- EXACTLY the tables that have an updated_at column and no enabled
-- (tgenabled 'O' or 'A') BEFORE UPDATE user trigger:
--     core.person_profile              (BEFORE UPDATE trigger exists but is DISABLED, 'D')
--     extracted.companyenrich_company  (no trigger at all)
--     extracted.linkedin_profile       (only BEFORE UPDATE trigger is REPLICA, 'R')
--     extracted.person_experience      (no BEFORE UPDATE trigger; its AFTER sync trigger is disabled)
-- Tables that have updated_at AND an enabled BEFORE UPDATE trigger (not reported):
--     core.person_work_history         (ORIGIN/enabled, 'O')
--     core.company_canonical           (ORIGIN/enabled, 'O')
--     core.company_funding             (ALWAYS, 'A': counts as enabled)
--     extracted.linkedin_company       (ORIGIN/enabled, 'O')
-- Tables in core/extracted without updated_at (do not matter):
--     extracted.company_discovery
-- Out of scope (other schema): breezeway.tasks has updated_at and no trigger.
-- The only foreign key (core.company_funding.domain -> core.company_canonical)
-- creates internal RI triggers (tgisinternal); they never count.
-- Every user BEFORE UPDATE trigger here is FOR EACH ROW and executes
-- public.set_updated_at().
-- =============================================================================

begin;

drop schema if exists core, extracted, breezeway, jobs cascade;

create schema core;
create schema extracted;
create schema breezeway;
create schema jobs;

-- Shared trigger function (lives in public, so it survives the drops above).
-- Not dropped here: a cascade drop would also remove triggers in other schemas.
create or replace function public.set_updated_at() returns trigger
language plpgsql as $$
begin
  new.updated_at = now();
  return new;
end
$$;

-- -----------------------------------------------------------------------------
-- Session-local helpers (pg_temp) used to generate readable, deterministic data.
-- -----------------------------------------------------------------------------

-- A person's LinkedIn URL. Person 1243 is the real-looking one from the incident.
create or replace function pg_temp.demo_person_url(p int) returns text
language sql immutable as $$
  select case when p = 1243 then 'linkedin.com/in/naitikpanchal'
    else 'linkedin.com/in/'
      || (array['ava','liam','noah','emma','olivia','mia','lucas','amara','ravi','priya',
                'chen','yuki','sofia','mateo','zara','omar','leila','ivan','nina','kofi',
                'aisha','diego','hana','arjun','elena','felix','grace','hugo','ines','jonas',
                'kira','leo'])[1 + p % 32]
      || '-'
      || (array['smith','garcia','patel','kim','nguyen','mueller','rossi','silva','okafor','tanaka',
                'cohen','dubois','novak','larsen','ahmed','kowalski','moreau','santos','ivanova','berg',
                'fischer','haddad','mensah','ortiz','quinn','reyes','sato','walsh','yilmaz'])[1 + (p * 7) % 29]
      || '-' || lpad(p::text, 4, '0')
  end
$$;

-- Company pool used by work history (200 companies, index 0..199).
create or replace function pg_temp.demo_pool_prefix(i int) returns text
language sql immutable as $$
  select (array['acme','northwind','globex','initech','umbrella','hooli','vandelay','soylent',
                'tyrell','cyberdyne','wonka','stark','wayne','aperture','blackmesa','oscorp',
                'gringotts','monarch','piedpiper','massive'])[1 + (i % 200) % 20]
$$;
create or replace function pg_temp.demo_pool_suffix(i int) returns text
language sql immutable as $$
  select (array['labs','systems','health','analytics','cloud','robotics','capital','foods',
                'logistics','media'])[1 + (i % 200) / 20]
$$;
create or replace function pg_temp.demo_pool_domain(i int) returns text
language sql immutable as $$
  select pg_temp.demo_pool_prefix(i) || pg_temp.demo_pool_suffix(i) || '.com'
$$;
create or replace function pg_temp.demo_pool_name(i int) returns text
language sql immutable as $$
  select initcap(pg_temp.demo_pool_prefix(i)) || ' ' || initcap(pg_temp.demo_pool_suffix(i))
$$;

create or replace function pg_temp.demo_title(i int) returns text
language sql immutable as $$
  select (array['Software Engineer','Senior Software Engineer','Data Scientist','Product Manager',
                'Engineering Manager','Sales Director','Account Executive','Marketing Manager',
                'Head of Growth','Chief Technology Officer','Founder','Co-Founder','Data Engineer',
                'Product Designer','Customer Success Manager'])[1 + i % 15]
$$;

-- Discovery company domains: 40 x 40 x 4 = 6400 distinct domains for i in 0..6399
-- (i 0..4999 have a funding range, i 5000..5399 do not).
create or replace function pg_temp.demo_disc_word1(i int) returns text
language sql immutable as $$
  select (array['blue','red','green','silver','golden','quantum','rapid','bright','clear','deep',
                'swift','bold','prime','true','open','smart','wild','nova','zen','peak',
                'iron','cedar','maple','river','stone','cloud','solar','lunar','pixel','vector',
                'atlas','orbit','delta','sigma','echo','harbor','summit','forge','spark','pulse'])[1 + i % 40]
$$;
create or replace function pg_temp.demo_disc_word2(i int) returns text
language sql immutable as $$
  select (array['fin','pay','med','bio','ware','stack','grid','bot','mind','works',
                'base','flow','hub','lab','ly','io','net','scale','shift','sense',
                'loop','path','mark','gate','cast','dock','form','kit','line','mint',
                'nest','point','quest','root','sync','tide','verse','wave','yard','zone'])[1 + (i / 40) % 40]
$$;
create or replace function pg_temp.demo_disc_domain(i int) returns text
language sql immutable as $$
  select pg_temp.demo_disc_word1(i) || pg_temp.demo_disc_word2(i)
      || (array['.com','.io','.ai','.co'])[1 + (i / 1600) % 4]
$$;
create or replace function pg_temp.demo_disc_name(i int) returns text
language sql immutable as $$
  select initcap(pg_temp.demo_disc_word1(i)) || initcap(pg_temp.demo_disc_word2(i))
$$;

-- =============================================================================
-- Incident 2 tables first (core.company_canonical is referenced by incident 4).
-- =============================================================================

-- core.company_canonical: updated_at + enabled BEFORE UPDATE trigger ('O') -> pass.
create table core.company_canonical (
  id         bigint primary key,
  domain     text not null unique,
  name       text,
  created_at timestamptz not null,
  updated_at timestamptz not null
);
create trigger trg_company_canonical_updated_at
  before update on core.company_canonical
  for each row execute function public.set_updated_at();

-- core.person_profile: updated_at, its BEFORE UPDATE trigger was DISABLED ('D').
create table core.person_profile (
  id           bigint primary key,
  linkedin_url text not null unique,
  full_name    text,
  headline     text,
  created_at   timestamptz not null,
  updated_at   timestamptz not null
);
create trigger trg_person_profile_updated_at
  before update on core.person_profile
  for each row execute function public.set_updated_at();
alter table core.person_profile disable trigger trg_person_profile_updated_at;

-- extracted.companyenrich_company: has updated_at, NO trigger at all -> missing.
create table extracted.companyenrich_company (
  id         bigint primary key,
  domain     text not null unique,
  name       text,
  payload    jsonb,
  created_at timestamptz not null,
  updated_at timestamptz not null
);

-- extracted.linkedin_profile: updated_at, only BEFORE UPDATE trigger is REPLICA ('R').
create table extracted.linkedin_profile (
  id           bigint primary key,
  linkedin_url text not null,
  full_name    text,
  headline     text,
  payload      jsonb,
  created_at   timestamptz not null,
  updated_at   timestamptz not null
);
create trigger trg_linkedin_profile_updated_at
  before update on extracted.linkedin_profile
  for each row execute function public.set_updated_at();
alter table extracted.linkedin_profile enable replica trigger trg_linkedin_profile_updated_at;

-- extracted.linkedin_company: updated_at + enabled BEFORE UPDATE trigger ('O').
create table extracted.linkedin_company (
  id           bigint primary key,
  domain       text,
  linkedin_url text,
  name         text,
  created_at   timestamptz not null,
  updated_at   timestamptz not null
);
create trigger trg_linkedin_company_updated_at
  before update on extracted.linkedin_company
  for each row execute function public.set_updated_at();

-- =============================================================================
-- Incident 4 (part 1): extracted.company_discovery -> core.company_funding
--   rows where total_funding_amount_range_usd is not null: 5000 (unique domains),
--   plus 400 rows with a null range.
--   coverage_gap company_discovery.domain -> core.company_funding.domain:
--   missing 960 of 5000, ratio 0.192 (the 960 most recently discovered funded
--   companies were never synced to core).
-- =============================================================================

create table extracted.company_discovery (
  id                             bigint primary key,
  domain                         text,
  name                           text,
  total_funding_amount_range_usd text,
  created_at                     timestamptz not null
);

insert into extracted.company_discovery (id, domain, name, total_funding_amount_range_usd, created_at)
select row_number() over (order by md5('discovery:' || i)) as id,
       pg_temp.demo_disc_domain(i),
       pg_temp.demo_disc_name(i),
       case when i < 5000 then
         (array['$0 to $1M','$1M to $10M','$10M to $50M','$50M to $100M','$100M to $500M',
                '$500M to $1B','$1B to $10B'])[1 + (i * 3 + i / 7) % 7]
       end,
       timestamptz '2024-01-01 00:00:00+00'
         + (row_number() over (order by md5('discovery:' || i))) * interval '53 minutes'
from generate_series(0, 5399) as i;

-- core.company_canonical: the 4040 synced funded companies, the work-history pool
-- (200 companies) and womennovators.com.
insert into core.company_canonical (id, domain, name, created_at, updated_at)
select row_number() over (order by domain), domain, name,
       timestamptz '2023-06-01 00:00:00+00',
       timestamptz '2024-03-01 00:00:00+00' + (row_number() over (order by domain)) * interval '3 minutes'
from (
  select domain, name
  from (select d.*, row_number() over (order by d.id) as rk
        from extracted.company_discovery d
        where d.total_funding_amount_range_usd is not null) f
  where f.rk <= 4040
  union
  select pg_temp.demo_pool_domain(i), pg_temp.demo_pool_name(i) from generate_series(0, 199) i
  union
  select 'womennovators.com', 'WomenNovators'
) c;

-- core.company_funding: updated_at + BEFORE UPDATE trigger in state ALWAYS ('A').
create table core.company_funding (
  id           bigint primary key,
  domain       text not null references core.company_canonical (domain),
  amount_range text,
  updated_at   timestamptz not null
);
create trigger trg_company_funding_updated_at
  before update on core.company_funding
  for each row execute function public.set_updated_at();
alter table core.company_funding enable always trigger trg_company_funding_updated_at;

insert into core.company_funding (id, domain, amount_range, updated_at)
select f.rk, f.domain, f.total_funding_amount_range_usd,
       timestamptz '2024-03-01 00:00:00+00' + f.rk * interval '5 minutes'
from (select d.*, row_number() over (order by d.id) as rk
      from extracted.company_discovery d
      where d.total_funding_amount_range_usd is not null) f
where f.rk <= 4040;

-- Small amounts of data for the other incident 2 tables.
insert into extracted.companyenrich_company (id, domain, name, payload, created_at, updated_at)
select row_number() over (order by c.id), c.domain, c.name,
       jsonb_build_object('employees', 10 + (c.id * 37) % 5000,
                          'industry', (array['Software','Fintech','Healthcare','Retail','Logistics'])[1 + c.id % 5],
                          'founded', 1990 + c.id % 34),
       timestamptz '2024-02-01 00:00:00+00' + c.id * interval '7 minutes',
       timestamptz '2024-02-01 00:00:00+00' + c.id * interval '7 minutes'
from core.company_canonical c
where c.id % 7 = 0;

insert into extracted.linkedin_company (id, domain, linkedin_url, name, created_at, updated_at)
select row_number() over (order by c.id), c.domain,
       'linkedin.com/company/' || split_part(c.domain, '.', 1), c.name,
       timestamptz '2024-02-01 00:00:00+00' + c.id * interval '11 minutes',
       timestamptz '2024-02-15 00:00:00+00' + c.id * interval '11 minutes'
from core.company_canonical c
where c.id % 11 = 0;

insert into core.person_profile (id, linkedin_url, full_name, headline, created_at, updated_at)
select p, pg_temp.demo_person_url(p),
       initcap(split_part(split_part(pg_temp.demo_person_url(p), '/', 3), '-', 1)) || ' '
         || initcap(split_part(split_part(pg_temp.demo_person_url(p), '/', 3), '-', 2)),
       pg_temp.demo_title(p),
       timestamptz '2023-01-01 00:00:00+00' + p * interval '1 hour',
       timestamptz '2023-06-01 00:00:00+00' + p * interval '1 hour'
from generate_series(1, 400) p;

insert into extracted.linkedin_profile (id, linkedin_url, full_name, headline, payload, created_at, updated_at)
select p, pg_temp.demo_person_url(p), null, pg_temp.demo_title(p + 3),
       jsonb_build_object('connections', (p * 53) % 500, 'source', 'demo'),
       timestamptz '2024-01-01 00:00:00+00' + p * interval '1 hour',
       timestamptz '2024-01-01 00:00:00+00' + p * interval '1 hour'
from generate_series(1, 300) p;

-- =============================================================================
-- Incident 1: core.person_work_history (10000 rows)
--   a) stale_keys on experience_key vs the canonical formula F:
--      rows 10000, mismatched 8000, unexpected 346 (company_domain null, key set),
--      missing 0, value 8346, ratio 0.8346. Stale keys come from the old formula
--      md5(linkedin_url|company_name|raw title|start_date), unique under the index.
--      Only the 1654 newest non-duplicate rows with a domain carry F.
--   b) duplicates on (linkedin_url, company_domain, lower(trim(title)), start_date)
--      where company_domain is not null: groups 180, extra_rows 220, no unique
--      index on those columns. Groups: 150 of size 2 (including
--      linkedin.com/in/naitikpanchal / womennovators.com / 'Mentor', two rows
--      with different experience_keys), 25 of size 3, 5 of size 5. Titles vary
--      in case and whitespace inside groups ('X', 'x', ' X ', 'X' upper, 'X  ').
--      All 400 rows in these groups are non-current and carry stale keys.
--   c) duplicates on (linkedin_url) where is_current, maxPerKey 1:
--      groups 970, extra_rows 3071, largest group 80 current rows.
--        918 people with 2-5 current rows   (230 x 2, 230 x 3, 229 x 4, 229 x 5)
--         47 people with 6-20 current rows  (6..20 three times each, plus 6 and 7)
--          5 people with > 20 current rows  (24, 32, 40, 56, 80)
--        273 people with exactly 1 current row (including naitikpanchal)
--      4314 current rows in all; every other row has is_current = false.
--   source_id: see incident 4 (part 2).
-- =============================================================================

create table core.person_work_history (
  id             bigint primary key,
  linkedin_url   text,
  company_domain text,
  company_name   text,
  title          text,
  start_date     date,
  is_current     boolean not null default false,
  created_at     timestamptz not null,
  updated_at     timestamptz not null,
  source_id      bigint,
  experience_key text
);

insert into core.person_work_history
  (id, linkedin_url, company_domain, company_name, title, start_date, is_current,
   created_at, updated_at, source_id, experience_key)
with
sizes as (
  select p,
         case when p <= 918 then 2 + (p - 1) % 4
              when p <= 965 then 6 + (p - 919) % 15
              when p <= 970 then (array[24, 32, 40, 56, 80])[p - 965]
              else 1 end as n
  from generate_series(1, 1243) as p
),
spec as (
  -- current positions: person p has n current rows
  select 'cur'::text as kind, s.p, k as m, 0 as g
  from sizes s cross join lateral generate_series(1, s.n) as k
  union all
  -- past positions with a company domain
  select 'past', 1 + (i * 7919) % 2000, i, 0 from generate_series(1, 4940) as i
  union all
  -- past positions without a domain (stealth / freelance)
  select 'nodomain', 1 + (i * 131) % 2000, i, 0 from generate_series(1, 346) as i
  union all
  -- 179 duplicate groups: 5 of size 5, 25 of size 3, 149 of size 2
  select 'dup', 1 + (g * 37) % 2000, k, g
  from generate_series(1, 179) as g
  cross join lateral generate_series(1, case when g <= 5 then 5 when g <= 30 then 3 else 2 end) as k
  union all
  -- the incident's named group: two 'Mentor' rows for naitikpanchal
  select 'mentor', 1243, k, 0 from generate_series(1, 2) as k
),
numbered as (
  select spec.*,
         row_number() over (order by md5(kind || ':' || p || ':' || m || ':' || g)) as id
  from spec
),
shaped as (
  select id, kind,
         pg_temp.demo_person_url(p) as linkedin_url,
         case kind
           when 'nodomain' then null
           when 'mentor' then 'womennovators.com'
           when 'dup' then pg_temp.demo_pool_domain(g * 3)
           else pg_temp.demo_pool_domain(p * 13 + m * 7)
         end as company_domain,
         case kind
           when 'nodomain' then (array['Stealth Startup','Self-employed','Freelance',
                                       'Confidential','Independent Consultant'])[1 + m % 5]
           when 'mentor' then (array['WomenNovators','Women Novators'])[m]
           when 'dup' then pg_temp.demo_pool_name(g * 3)
           else pg_temp.demo_pool_name(p * 13 + m * 7)
         end as company_name,
         case kind
           when 'mentor' then 'Mentor'
           when 'dup' then
             case m when 1 then pg_temp.demo_title(g)
                    when 2 then lower(pg_temp.demo_title(g))
                    when 3 then ' ' || pg_temp.demo_title(g) || ' '
                    when 4 then upper(pg_temp.demo_title(g))
                    else pg_temp.demo_title(g) || '  ' end
           else pg_temp.demo_title(p + m)
         end as title,
         case kind
           when 'mentor' then date '2021-09-01'
           when 'dup' then date '2022-06-01' + g * 3
           -- every non-duplicate row gets its own start date (1996-01-02 .. 2022-04-13)
           else date '1996-01-01'
                + (row_number() over (partition by kind in ('cur','past','nodomain') order by id))::int
         end as start_date,
         kind = 'cur' as is_current,
         -- newest 1654 non-duplicate rows with a domain were keyed with the right formula
         kind in ('cur','past')
           and row_number() over (partition by kind in ('cur','past') order by id desc) <= 1654 as fresh_key,
         -- 2850 rows with a domain, and all 346 without, came from extracted.person_experience
         kind = 'nodomain'
           or (kind <> 'nodomain'
               and row_number() over (partition by kind = 'nodomain' order by md5('src:' || id)) <= 2850)
           as synced
  from numbered
),
sourced as (
  select shaped.*,
         case when synced then row_number() over (partition by synced order by md5('pe:' || id)) end as source_id
  from shaped
)
select id, linkedin_url, company_domain, company_name, title, start_date, is_current,
       timestamptz '2023-01-01 00:00:00+00' + id * interval '47 minutes',
       timestamptz '2023-01-01 00:00:00+00' + id * interval '47 minutes' + (id % 90) * interval '1 day',
       source_id,
       case when fresh_key then
              md5(coalesce(linkedin_url,'') || '::' || company_domain || '::'
                  || coalesce(lower(trim(title)),'') || '::' || coalesce(start_date::text,''))
            else
              -- the old formula: company name instead of domain, raw title, '|' separator
              md5(coalesce(linkedin_url,'') || '|' || coalesce(company_name,'') || '|'
                  || coalesce(title,'') || '|' || coalesce(start_date::text,''))
       end
from sourced;

create unique index person_work_history_experience_key_uidx
  on core.person_work_history (experience_key);
create index person_work_history_source_id_idx on core.person_work_history (source_id);

create trigger trg_person_work_history_updated_at
  before update on core.person_work_history
  for each row execute function public.set_updated_at();

-- =============================================================================
-- Incident 4 (part 2): extracted.person_experience -> core.person_work_history.source_id
--   rows where company_domain is not null: 3000 (plus 346 with a null domain).
--   coverage_gap person_experience.id -> person_work_history.source_id:
--   missing 150 of 3000, ratio 0.05 (ids 3197..3346, enriched after the sync
--   stopped). Ids 1..3196 are the source_id of exactly one work-history row each
--   (2850 with a domain, 346 without); the other 6804 work-history rows have a
--   null source_id (legacy imports).
-- Incident 2: trg_sync_person_experience (AFTER INSERT OR UPDATE) exists and is
--   DISABLED ('D'); there is no BEFORE UPDATE trigger on this table.
-- =============================================================================

create table extracted.person_experience (
  id             bigint primary key,
  linkedin_url   text,
  company_domain text,
  title          text,
  start_date     date,
  created_at     timestamptz not null,
  updated_at     timestamptz not null
);

create or replace function extracted.sync_person_experience() returns trigger
language plpgsql as $$
begin
  -- The real function upserted into core.person_work_history; the demo keeps a no-op.
  return null;
end
$$;

create trigger trg_sync_person_experience
  after insert or update on extracted.person_experience
  for each row execute function extracted.sync_person_experience();
alter table extracted.person_experience disable trigger trg_sync_person_experience;

insert into extracted.person_experience (id, linkedin_url, company_domain, title, start_date, created_at, updated_at)
select source_id, linkedin_url, company_domain, title, start_date,
       created_at - interval '2 hours', created_at - interval '2 hours'
from core.person_work_history
where source_id is not null;

insert into extracted.person_experience (id, linkedin_url, company_domain, title, start_date, created_at, updated_at)
select 3196 + i,
       pg_temp.demo_person_url(2000 + i),
       pg_temp.demo_pool_domain(i * 11),
       pg_temp.demo_title(i),
       date '2024-01-01' + i * 2,
       timestamptz '2024-06-01 00:00:00+00' + i * interval '3 hours',
       timestamptz '2024-06-01 00:00:00+00' + i * interval '3 hours'
from generate_series(1, 150) as i;

-- =============================================================================
-- Incident 3: breezeway child tables without a unique natural key
--   task_comments (task_pk, comment_id): 14664 rows, 470 distinct keys, all 470
--     duplicated, extra_rows 14194, no unique index. Group sizes vary from 16 to
--     636 (older comments were re-inserted by more ETL runs).
--   task_photos (property_pk, photo_id): 7153 rows, 260 distinct keys, all 260
--     duplicated, extra_rows 6893, no unique index. Group sizes 14 to 414.
--   task_tags (task_pk, tag_pk): 400 rows, UNIQUE constraint, 0 duplicates.
--   breezeway.tasks has updated_at and no trigger, but is outside the trigger
--   check's schemas (core, extracted).
-- =============================================================================

create table breezeway.tasks (
  id          bigint primary key,
  property_pk bigint,
  name        text,
  created_at  timestamptz not null,
  updated_at  timestamptz not null
);

insert into breezeway.tasks (id, property_pk, name, created_at, updated_at)
select t, 200 + (t - 1000) % 26,
       (array['Turnover clean','Inspection','Maintenance','Linen restock','Pool service'])[1 + t % 5]
         || ' #' || t,
       timestamptz '2024-01-01 00:00:00+00' + (t - 1000) * interval '6 hours',
       timestamptz '2024-01-01 00:00:00+00' + (t - 1000) * interval '6 hours'
from generate_series(1000, 1159) as t;

create table breezeway.task_comments (
  id         bigint primary key,
  task_pk    bigint,
  comment_id bigint,
  body       text,
  created_at timestamptz
);

-- Rows 0..939 give every comment two copies; rows 940..14663 are spread over the
-- 470 comments with a quadratic mapping (integer arithmetic), older comments first.
insert into breezeway.task_comments (id, task_pk, comment_id, body, created_at)
select r + 1, 1000 + k / 3, 900000 + k,
       (array['Guest left early, please check the fridge.','Broken lamp in bedroom 2.',
              'Extra towels delivered.','Hot tub chemicals low.','All good, photos attached.',
              'Key box code changed.'])[1 + k % 6] || ' (#' || k || ')',
       timestamptz '2024-01-01 00:00:00+00' + k * interval '90 minutes'
from (
  select r,
         case when r < 940 then r % 470
              else ((470::bigint * (r - 940) * (r - 940)) / (13724::bigint * 13724))::int
         end as k
  from generate_series(0, 14663) as r
) x;

create table breezeway.task_photos (
  id          bigint primary key,
  property_pk bigint,
  photo_id    bigint,
  url         text
);

insert into breezeway.task_photos (id, property_pk, photo_id, url)
select r + 1, 200 + k / 10, 700000 + k * 3,
       'https://photos.example.com/properties/' || (200 + k / 10) || '/' || (700000 + k * 3) || '.jpg'
from (
  select r,
         case when r < 520 then r % 260
              else ((260::bigint * (r - 520) * (r - 520)) / (6633::bigint * 6633))::int
         end as k
  from generate_series(0, 7152) as r
) x;

create table breezeway.task_tags (
  id      bigint primary key,
  task_pk bigint,
  tag_pk  bigint,
  constraint task_tags_task_pk_tag_pk_key unique (task_pk, tag_pk)
);

insert into breezeway.task_tags (id, task_pk, tag_pk)
select i + 1, 1000 + i / 3, 1 + ((i / 3) * 7 + (i % 3) * 3) % 12
from generate_series(0, 399) as i;

-- =============================================================================
-- Incident 5: jobs.raw_jobs -> jobs.enriched_jobs on job_hash
--   job_hash = md5(company || '|' || title || '|' || city).
--   Window: scraped_at >= now() - 24 hours and < now() - 1 hour (grace 1 hour).
--   Run 42 (now() - 3 hours, spread over 48 minutes):
--     raw_rows 409, distinct_keys 197, null_key_rows 0, collapsed 212,
--     matched_keys 79 (carrying 291 raw rows), lost_keys 118, lost_rows 118.
--   Outside the window and not counted:
--     run 41 (now() - 3 days): 160 raw rows, 140 keys (40 shared with run 42's
--       matched jobs, 100 of its own), all enriched;
--     run 43 (now() - 10 minutes, inside the grace period): 12 raw rows, 5
--       enriched, 7 not enriched yet.
--   Job u (0..2736) is (company[u % 23], title[(u / 23) % 17], city[(u / 391) % 7]).
-- =============================================================================

create or replace function pg_temp.demo_job_company(u int) returns text
language sql immutable as $$
  select (array['Acme Corp','Northwind','Globex','Initech','Umbrella','Hooli','Vandelay Industries',
                'Soylent','Tyrell','Cyberdyne','Wonka','Stark Industries','Wayne Enterprises',
                'Aperture Science','Black Mesa','Oscorp','Gringotts','Monarch','Pied Piper',
                'Massive Dynamic','Dunder Mifflin','Prestige Worldwide','Bluth Company'])[1 + u % 23]
$$;
create or replace function pg_temp.demo_job_title(u int) returns text
language sql immutable as $$
  select (array['Backend Engineer','Frontend Engineer','Data Analyst','Data Engineer','DevOps Engineer',
                'Product Manager','UX Designer','Sales Representative','Account Manager',
                'Customer Support Specialist','Marketing Coordinator','Recruiter','Office Manager',
                'Financial Analyst','QA Engineer','Machine Learning Engineer','Warehouse Associate'])[1 + (u / 23) % 17]
$$;
create or replace function pg_temp.demo_job_city(u int) returns text
language sql immutable as $$
  select (array['Berlin','London','New York','Austin','Toronto','Lisbon','Singapore'])[1 + (u / 391) % 7]
$$;

create table jobs.raw_jobs (
  id         bigint primary key,
  run_id     int not null,
  company    text,
  title      text,
  city       text,
  job_hash   text,
  scraped_at timestamptz not null
);

create table jobs.enriched_jobs (
  id          bigint primary key,
  job_hash    text not null unique,
  company     text,
  title       text,
  city        text,
  category    text,
  enriched_at timestamptz not null
);

insert into jobs.raw_jobs (id, run_id, company, title, city, job_hash, scraped_at)
with
runs as (
  -- run 41, three days ago: jobs 0..39 and 300..399, jobs 300..319 scraped twice
  select 41 as run_id, u, u as ord from generate_series(0, 39) as u
  union all
  select 41, u, u from generate_series(300, 399) as u
  union all
  select 41, u, u + 1000 from generate_series(300, 319) as u
  union all
  -- run 42, the incident: 291 rows on matched jobs 0..78 ...
  select 42,
         case when r < 79 then r
              else (79 * (r - 79) * (r - 79)) / (212 * 212) end,
         r
  from generate_series(0, 290) as r
  union all
  -- ... and one row each for the 118 lost jobs 79..196
  select 42, u, u + 1000 from generate_series(79, 196) as u
  union all
  -- run 43, ten minutes ago (inside the grace period): jobs 500..511
  select 43, u, u from generate_series(500, 511) as u
),
numbered as (
  select run_id, u,
         row_number() over (partition by run_id order by md5(run_id || ':' || u || ':' || ord)) as seq,
         row_number() over (order by run_id, md5(run_id || ':' || u || ':' || ord)) as id
  from runs
)
select id, run_id,
       pg_temp.demo_job_company(u), pg_temp.demo_job_title(u), pg_temp.demo_job_city(u),
       md5(pg_temp.demo_job_company(u) || '|' || pg_temp.demo_job_title(u) || '|' || pg_temp.demo_job_city(u)),
       case run_id
         when 41 then now() - interval '3 days' - seq * interval '7 seconds'
         when 42 then now() - interval '3 hours' - seq * interval '7 seconds'
         else now() - interval '10 minutes' + seq * interval '10 seconds'
       end
from numbered;

insert into jobs.enriched_jobs (id, job_hash, company, title, city, category, enriched_at)
select row_number() over (order by u), md5(company || '|' || title || '|' || city),
       company, title, city,
       (array['Engineering','Data','Product','Design','Sales','Support','Operations'])[1 + u % 7],
       case when u < 79 then now() - interval '2 hours 45 minutes' + u * interval '5 seconds'
            when u < 500 then now() - interval '3 days' + interval '1 hour' + u * interval '5 seconds'
            else now() - interval '5 minutes' + (u - 500) * interval '5 seconds'
       end
from (
  select u, pg_temp.demo_job_company(u) as company, pg_temp.demo_job_title(u) as title,
         pg_temp.demo_job_city(u) as city
  from (select generate_series(0, 78) as u
        union all select generate_series(300, 399)
        union all select generate_series(500, 504)) s
) j;

create index raw_jobs_scraped_at_idx on jobs.raw_jobs (scraped_at);
create index raw_jobs_job_hash_idx on jobs.raw_jobs (job_hash);

-- -----------------------------------------------------------------------------
-- Clean up the session-local helpers.
-- -----------------------------------------------------------------------------
drop function pg_temp.demo_person_url(int);
drop function pg_temp.demo_pool_domain(int);
drop function pg_temp.demo_pool_name(int);
drop function pg_temp.demo_pool_prefix(int);
drop function pg_temp.demo_pool_suffix(int);
drop function pg_temp.demo_title(int);
drop function pg_temp.demo_disc_domain(int);
drop function pg_temp.demo_disc_name(int);
drop function pg_temp.demo_disc_word1(int);
drop function pg_temp.demo_disc_word2(int);
drop function pg_temp.demo_job_company(int);
drop function pg_temp.demo_job_title(int);
drop function pg_temp.demo_job_city(int);

analyze core.person_work_history, extracted.person_experience, extracted.company_discovery,
        core.company_funding, breezeway.task_comments, breezeway.task_photos, jobs.raw_jobs,
        jobs.enriched_jobs;

-- =============================================================================
-- Sections 7-9 of SCENARIOS.md: required fields, freshness, stuck runs.
-- New tables have no updated_at column, so trigger discovery (incident 2)
-- keeps its figures. now() is the transaction's start: one instant for the
-- whole seed, so every relative time below is exact against it.
--
-- 7. core.lead_profiles: ids 1..10000, every field filled except
--      company_name          NULL when id % 40 = 1 (250), '  ' when id % 200 = 3 (50)
--      company_country       NULL when id % 10 = 2 (1000)
--      person_country        NULL when id % 25 = 4 (400)
--      matched_job_function  NULL when id % 8 = 5 (1250)
--      matched_seniority     NULL when id % 16 = 5 (625)
--    required_fields (blank counts): missing_any 2900 of 10000; blank not
--    counted: 2850 (company_name 250).
-- 8. raw.companyenrich_payloads: 200 payloads, all received now() - 30 minutes,
--    for the 200 lowest ids of extracted.companyenrich_company (existing
--    table, no trigger: the UPDATE below sets updated_at as written). Payload
--    p is behind when (p * 37) % 200 < 148: its company's updated_at is
--    now() - 5 days (148 rows); the other 52 companies moved 10 minutes ago.
--    Pairwise freshness, grace 15 minutes: source_rows 200, behind 148,
--    missing_target 0, ratio 0.74, max_lag_seconds 430200 (5 days - 30 min).
--    extracted.linkedin_profile (existing; only a REPLICA trigger, which does
--    not fire here): newest updated_at exactly now() - 3 days (72.0 hours).
-- 9. reference.enrichment_runs: 1000 runs. 37 'running' since more than 6
--    hours (id % 27 = 0, started 8 h 05 min to 80 h 05 min ago), 5 'running'
--    since 10 minutes (id % 200 = 13); the rest 'completed' or 'failed'.
-- =============================================================================

create schema if not exists raw;
create schema if not exists reference;

create table core.lead_profiles (
  id                   int primary key,
  linkedin_url         text,
  company_name         text,
  company_country      text,
  person_country       text,
  matched_job_function text,
  matched_seniority    text
);

insert into core.lead_profiles
select id,
       'linkedin.com/in/lead-' || lpad(id::text, 5, '0'),
       case when id % 40 = 1 then null
            when id % 200 = 3 then '  '
            else (array['Acme Corp','Northwind','Globex','Initech','Hooli','Stark Industries',
                        'Wayne Enterprises','Pied Piper','Aperture Science','Tyrell'])[1 + id % 10] end,
       case when id % 10 = 2 then null
            else (array['US','DE','GB','FR','IN','BR','CA','ES','NL','SE','JP'])[1 + id % 11] end,
       case when id % 25 = 4 then null
            else (array['US','DE','GB','FR','IN','BR','CA','ES','NL'])[1 + id % 9] end,
       case when id % 8 = 5 then null
            else (array['Engineering','Sales','Marketing','Operations','Finance','Product','Design'])[1 + id % 7] end,
       case when id % 16 = 5 then null
            else (array['Entry','Senior','Manager','Director','VP','C-Level'])[1 + id % 6] end
from generate_series(1, 10000) as id;

drop table if exists raw.companyenrich_payloads;
create table raw.companyenrich_payloads (
  id          bigint primary key,
  domain      text not null,
  received_at timestamptz not null
);

insert into raw.companyenrich_payloads (id, domain, received_at)
select row_number() over (order by c.id), c.domain, now() - interval '30 minutes'
from (select id, domain from extracted.companyenrich_company order by id limit 200) c;

update extracted.companyenrich_company c
set updated_at = case when (p.id * 37) % 200 < 148 then now() - interval '5 days'
                      else now() - interval '10 minutes' end
from raw.companyenrich_payloads p
where p.domain = c.domain;

update extracted.linkedin_profile
set updated_at = now() - interval '3 days' - (300 - id) * interval '1 hour';

drop table if exists reference.enrichment_runs;
create table reference.enrichment_runs (
  id            bigint primary key,
  workflow_name text not null,
  entity_key    text not null,
  entity_type   text not null,
  status        text not null,
  started_at    timestamptz not null,
  completed_at  timestamptz
);

insert into reference.enrichment_runs (id, workflow_name, entity_key, entity_type, status, started_at, completed_at)
select i, w.workflow_name,
       case when w.entity_type = 'person' then 'linkedin.com/in/lead-' || lpad((i * 7 % 10000 + 1)::text, 5, '0')
            else (array['acme','northwind','globex','initech','hooli','stark','wayne','piedpiper'])[1 + i % 8]
                 || i || '.com' end,
       w.entity_type, r.status, r.started_at,
       case when r.status = 'running' then null
            else r.started_at + (1 + i % 17) * interval '1 minute' end
from generate_series(1, 1000) as i
cross join lateral (
  select (array['person_profile','person_discovery','company_headcount','company_technographics',
                'job_postings','company_news'])[1 + i % 6] as workflow_name,
         case when i % 6 in (0, 1) then 'person' else 'company' end as entity_type
) w
cross join lateral (
  select case when i % 27 = 0 or i % 200 = 13 then 'running'
              when i % 10 = 7 then 'failed'
              else 'completed' end as status,
         case when i % 27 = 0 then now() - interval '6 hours 5 minutes' - (i / 27) * interval '2 hours'
              when i % 200 = 13 then now() - interval '10 minutes'
              else now() - interval '1 hour' - i * interval '7 minutes' end as started_at
) r;

analyze core.lead_profiles, raw.companyenrich_payloads, extracted.companyenrich_company,
        extracted.linkedin_profile, reference.enrichment_runs;

-- =============================================================================
-- Section 6 of SCENARIOS.md: the enrichment registry lags the pipelines.
-- reference.enrichment_workflow_registry lists 8 of the 13 extracted tables;
-- the demo catalog generates one coverage_gap check per row that coalesces to
-- core and is active (6 checks), and checks the registry is complete.
--
--   workflow                extracted (rows)   core holds
--   person_profile          2,000              1,880 in core.people (i % 50 < 3 missing: 120)
--   person_discovery        1,500              all, in core.people
--   company_headcount         800              all, in core.company_headcount
--   company_technographics  1,000              990 in core.company_technographics (i % 100 = 0 missing)
--   job_postings              600              none: core.job_postings exists, empty
--   company_news              300              core.company_news does not exist: that check errors
--   person_contact            400              inactive: no check
--   company_customers         250              does not coalesce: no check
-- core.people also holds 500 keys no extracted table has. The new tables have
-- no updated_at column: trigger discovery (incident 2) keeps its figures.
-- Registry completeness: 13 tables in schema extracted, 5 not registered
-- (companyenrich_company, linkedin_profile, linkedin_company, company_discovery,
-- person_experience).
-- =============================================================================

create schema if not exists reference;

create table extracted.person_profile (linkedin_url text primary key, full_name text);
insert into extracted.person_profile
select 'linkedin.com/in/profile-' || lpad(i::text, 5, '0'), 'Profile ' || i from generate_series(1, 2000) i;

create table extracted.person_discovery (linkedin_url text primary key, headline text);
insert into extracted.person_discovery
select 'linkedin.com/in/discovery-' || lpad(i::text, 5, '0'), 'Discovered ' || i from generate_series(1, 1500) i;

create table extracted.company_headcount (domain text primary key, headcount int);
insert into extracted.company_headcount
select 'headcount-' || lpad(i::text, 4, '0') || '.com', 10 + i % 500 from generate_series(1, 800) i;

create table extracted.company_technographics (domain text primary key, technologies text[]);
insert into extracted.company_technographics
select 'techno-' || lpad(i::text, 4, '0') || '.com', array['postgres', 'redis'] from generate_series(1, 1000) i;

create table extracted.job_postings (posting_url text primary key, title text);
insert into extracted.job_postings
select 'https://jobs.example.com/' || i, 'Role ' || i from generate_series(1, 600) i;

create table extracted.company_news (domain text, headline text);
insert into extracted.company_news
select 'news-' || lpad((1 + i % 150)::text, 3, '0') || '.com', 'Headline ' || i from generate_series(1, 300) i;

create table extracted.person_contact (linkedin_url text primary key, email text);
insert into extracted.person_contact
select 'linkedin.com/in/contact-' || lpad(i::text, 5, '0'), 'person' || i || '@example.com' from generate_series(1, 400) i;

create table extracted.company_customers (domain text, customer text);
insert into extracted.company_customers
select 'customers-' || lpad(i::text, 3, '0') || '.com', 'Customer ' || i from generate_series(1, 250) i;

create table core.people (id int generated always as identity primary key, linkedin_url text not null);
insert into core.people (linkedin_url)
select 'linkedin.com/in/profile-' || lpad(i::text, 5, '0') from generate_series(1, 2000) i where i % 50 >= 3
union all
select 'linkedin.com/in/discovery-' || lpad(i::text, 5, '0') from generate_series(1, 1500) i
union all
select 'linkedin.com/in/other-' || lpad(i::text, 5, '0') from generate_series(1, 500) i;
create index people_linkedin_url_idx on core.people (linkedin_url);

create table core.company_headcount (domain text primary key, headcount int);
insert into core.company_headcount select domain, headcount from extracted.company_headcount;

create table core.company_technographics (domain text primary key, technologies text[]);
insert into core.company_technographics
select domain, technologies from extracted.company_technographics
where substring(domain from 'techno-(\d+)')::int % 100 <> 0;

create table core.job_postings (posting_url text primary key, title text);

drop table if exists reference.enrichment_workflow_registry;
create table reference.enrichment_workflow_registry (
  workflow_name     text primary key,
  raw_table         text,
  extracted_table   text,
  core_table        text,
  key_column        text,
  key_type          text,
  coalesces_to_core boolean not null default false,
  is_active         boolean not null default true
);
insert into reference.enrichment_workflow_registry values
  ('person_profile', 'raw.person_profile_payloads', 'extracted.person_profile', 'core.people', 'linkedin_url', 'text', true, true),
  ('person_discovery', 'raw.person_discovery_payloads', 'extracted.person_discovery', 'core.people', 'linkedin_url', 'text', true, true),
  ('company_headcount', 'raw.company_headcount_payloads', 'extracted.company_headcount', 'core.company_headcount', 'domain', 'text', true, true),
  ('company_technographics', 'raw.company_technographics_payloads', 'extracted.company_technographics', 'core.company_technographics', 'domain', 'text', true, true),
  ('job_postings', 'raw.job_postings_payloads', 'extracted.job_postings', 'core.job_postings', 'posting_url', 'text', true, true),
  ('company_news', 'raw.company_news_payloads', 'extracted.company_news', 'core.company_news', 'domain', 'text', true, true),
  ('person_contact', 'raw.person_contact_payloads', 'extracted.person_contact', 'core.people', 'linkedin_url', 'text', true, false),
  ('company_customers', 'raw.company_customers_payloads', 'extracted.company_customers', null, 'domain', 'text', false, true);

analyze extracted.person_profile, extracted.person_discovery, extracted.company_headcount,
        extracted.company_technographics, extracted.job_postings, extracted.company_news,
        core.people, core.company_headcount, core.company_technographics,
        reference.enrichment_workflow_registry;

-- =============================================================================
-- >>> Section 10: enrichment volume collapsed (anomaly) >>>
--   Buckets are rolling days ending one hour (the grace) before the check runs:
--   bucket 0 is (now - 25 h, now - 1 h], bucket k the day before that.
--   Bucket 0 holds section 5's run 42 (79 enriched jobs). Bucket k = 1..28 holds
--   exactly 170 + ((k * 37) mod 21) rows: mean 180.0, stddev 5.98 (sample), so
--   79 is z -16.89 against an expected 162.1-197.9. Section 5's run 41 (100
--   enriched jobs, now - 71 h) counts towards bucket 2; run 43 (now - 5 min) is
--   inside the grace. The rows added here sit 10 to 13 hours inside their
--   bucket (the check runs seconds after the seed) and use job hashes no raw
--   row has, so section 5's figures do not move.
-- =============================================================================

insert into jobs.enriched_jobs (id, job_hash, company, title, city, category, enriched_at)
select 100000 + k * 1000 + i, md5('volume-demo:' || k || ':' || i),
       'Volume Demo ' || i % 13, 'Title ' || i % 17, 'Berlin', 'Engineering',
       now() - interval '1 hour' - k * interval '1 day' - interval '10 hours' - i * interval '1 minute'
from generate_series(1, 28) as k,
     lateral generate_series(1, 170 + (k * 37) % 21 - case when k = 2 then 100 else 0 end) as i;

create index enriched_jobs_enriched_at_idx on jobs.enriched_jobs (enriched_at);
analyze jobs.enriched_jobs;

-- <<< Section 10 <<<

-- -----------------------------------------------------------------------------
-- The grants the README asks for: checks run as dq_monitor (created by the dq
-- migration; created here too, so the seed also runs first), which reads and
-- nothing more. Supabase's service_role gets the same, for the API.
-- -----------------------------------------------------------------------------
do $$
declare
  role_name text;
begin
  if to_regrole('dq_monitor') is null then
    create role dq_monitor nologin;
  end if;
  foreach role_name in array array['dq_monitor', 'service_role'] loop
    if to_regrole(role_name) is not null then
      execute format('grant usage on schema core, extracted, breezeway, jobs, raw, reference to %I', role_name);
      execute format('grant select on all tables in schema core, extracted, breezeway, jobs, raw, reference to %I', role_name);
    end if;
  end loop;
end
$$;

commit;
