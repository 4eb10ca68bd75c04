-- dq-monitor migration "unchanged_doubts_spec_hash", generated from supabase/schemas by
-- scripts/migration.ts: edit the schema files, not this one.
-- Idempotent, like every file it carries: "dq migrate" applies every migration
-- on each call, "supabase db push" each one once.

-- ===== supabase/schemas/27_unchanged.sql =====

-- dq-monitor: unchanged tables cost nothing. A check whose tables have not
-- changed since its last full scan is answered from that scan's result
-- (details.scope = "unchanged") instead of reading them again.
--
-- The evidence is PostgreSQL's own, per relation and summed over partitions
-- and inheritance children: the write counters (n_tup_ins, n_tup_upd,
-- n_tup_del), the file node (TRUNCATE, VACUUM FULL, CLUSTER and rewriting
-- ALTERs give a new one), the file's size (a write that extends the table
-- shows at once, whatever the counters say), the pg_class row's version
-- (ALTER TABLE), the row-level security policies, the set of partitions
-- (ATTACH / DETACH), the database's stats reset time (pg_stat_reset() and
-- pg_stat_reset_single_table_counters() both set it) and the server's start.
--
-- How late the counters are (pgstat.c, the same in PostgreSQL 15 to 18): a
-- backend counts its writes in its own memory and flushes them to shared
-- memory only between statements, when it goes idle: at once if its last
-- flush was at least 1 s ago (PGSTAT_MIN_INTERVAL), else at the idle timer,
-- 10 s later (PGSTAT_IDLE_INTERVAL), and when lock contention defers a flush,
-- a forced one follows within 60 s (PGSTAT_MAX_INTERVAL). A backend that does
-- not go idle holds its counts until it does: a procedure that COMMITs inside
-- one CALL, or a long statement that follows a write on the same connection.
-- So, never missing a committed write:
--   * the evidence is read before the scan's snapshot is taken (dq.measure is
--     VOLATILE: its scan gets a snapshot of its own, after the evidence), so
--     every write the evidence counts is one the scan saw;
--   * an unchanged answer never moves the evidence forward: it compares with
--     the last full scan's. A write whose counts arrive late is therefore
--     scanned at the first tick after they arrive, never lost; until then it
--     is as if it had committed just after the tick;
--   * a running statement that has already committed inside itself
--     (pg_stat_activity.xact_start later than query_start: a procedure) means
--     a scan, and so does any doubt: a view, a foreign table, a replica,
--     track_counts off, a table with no statistics (nothing counted on it),
--     PGlite (single-user: it publishes no statistics), a
--     role that cannot see other sessions, an expression that reads more than
--     its row (a subquery, now(), a function that is not immutable), a kind
--     that does not declare what it reads (dq.kind_<kind>_reads).
-- And a full scan is forced every `fullEvery` (default 24 hours). Only runs
-- that ask for it (spec "scan": "changed": the Worker's cron ticks) are
-- answered unchanged, from a full scan of a run that asked too: a person
-- running a check ad hoc gets a scan, and the write they made a second ago.

-- What changes a measurement: the spec as the runner sends it. The runner
-- sends only what the kind's SQL reads (checks/store.ts measurementSpec:
-- name, kind, the kind's fields, fullEvery), so editing a threshold or an
-- owner keeps incremental watermarks and unchanged answers, and editing a
-- formula or a where clause forces a full scan. Left out, only what differs
-- from one run of the same definition to the next:
--   scan: 'changed' on cron ticks, absent on ad hoc runs; hashed, an ad hoc
--         incremental run would force the next tick's full run and back.
create or replace function dq.spec_hash(spec jsonb)
returns text
language sql
immutable
set search_path = pg_catalog
as $$
  select md5((spec - 'scan')::text)
$$;

-- The names an expression calls as functions ("name(" outside string
-- literals and quoted identifiers), lower case, each once.
create or replace function dq.called_functions(expr text)
returns text[]
language sql
immutable
set search_path = pg_catalog
as $$
  select coalesce(array_agg(distinct m[1]), '{}')
  from regexp_matches(
         lower(regexp_replace(regexp_replace(coalesce(expr, ''), '''(?:[^'']|'''')*''', ' ', 'g'),
                              '"(?:[^"]|"")*"', ' ', 'g')),
         '([a-z_][a-z0-9_$]*)\s*\(', 'g') m
$$;

-- Why an expression may give another answer on unchanged rows, or NULL when
-- it depends on its row alone: a subquery (another table), the clock or the
-- session (now(), current_date, 'today'), or a function that is not
-- immutable (one of PostgreSQL's own stable functions, which depend on
-- settings only, is fine; the clock's are not). Read from the text: when in
-- doubt, it answers a reason, and the check scans.
create or replace function dq.expression_doubt(expr text, field text)
returns text
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  bare text;
  literal text;
  fn text;
begin
  if expr is null then
    return null;
  end if;
  if expr ~ '\$[A-Za-z_0-9]*\$' then
    return format('%s uses dollar quoting', field);
  end if;
  for literal in select m[1] from regexp_matches(expr, '''((?:[^'']|'''')*)''', 'g') m loop
    if lower(literal) ~ '(now|today|tomorrow|yesterday)' then
      return format('%s depends on the clock (%L)', field, literal);
    end if;
  end loop;
  bare := regexp_replace(expr, '''(?:[^'']|'''')*''', ' ', 'g');
  if bare ~ '"\s*\(' then
    return format('%s calls a quoted function name', field);
  end if;
  bare := lower(regexp_replace(bare, '"(?:[^"]|"")*"', ' ', 'g'));
  if bare ~ '\m(select|table|values|with)\M' then
    return format('%s has a subquery: it may read another table', field);
  end if;
  fn := substring(bare from '\m(current_date|current_time|current_timestamp|localtime|localtimestamp|current_user|session_user|user|current_role|current_schema|current_catalog|system_user)\M');
  if fn is not null then
    return format('%s depends on the clock or the session (%s)', field, fn);
  end if;
  foreach fn in array dq.called_functions(expr) loop
    if fn in ('now', 'transaction_timestamp', 'statement_timestamp', 'clock_timestamp', 'timeofday', 'age')
       or exists (select 1 from pg_proc p
                  where p.proname = fn
                    and (p.provolatile = 'v'
                         or (p.provolatile = 's' and p.pronamespace <> 'pg_catalog'::regnamespace))) then
      return format('%s calls %s(), which is not immutable', field, fn);
    end if;
  end loop;
  return null;
end
$$;

-- What a kind's dq.kind_<kind>_reads(spec) returns, from the relations a
-- check reads and the expressions it evaluates on each:
--   sources: [{ "table": <quoted relation>, "fields": { "<field>": "<expression>", ... } }]
-- answers { "tables": [...], "functions": [names the expressions call] } when
-- every expression depends on its row alone (the functions' definitions are
-- part of the evidence: a function replaced is a change), else
-- { "doubt": "<why the check must scan>" }.
create or replace function dq.reads_of(sources jsonb)
returns jsonb
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  field record;
  doubt text;
  functions text[] := '{}';
begin
  for field in
    select f.key, f.value
    from jsonb_array_elements(sources) s, jsonb_each_text(s -> 'fields') f
    where f.value is not null
  loop
    doubt := dq.expression_doubt(field.value, field.key);
    if doubt is not null then
      return jsonb_build_object('doubt', doubt);
    end if;
    functions := functions || dq.called_functions(field.value);
  end loop;
  return jsonb_build_object(
    'tables', (select jsonb_agg(distinct s ->> 'table') from jsonb_array_elements(sources) s),
    'functions', to_jsonb(functions));
end
$$;

-- The reads of a kind over one table (spec.table): what most kinds' _reads are.
create or replace function dq.table_reads(spec jsonb, fields jsonb)
returns jsonb
language sql
stable
as $$
  select dq.reads_of(jsonb_build_array(jsonb_build_object(
    'table', dq.relation_sql(spec ->> 'table', 'table'), 'fields', fields)))
$$;

-- An array field's expressions, named as errors name them:
-- { "columns[0]": "...", "columns[1]": "..." }; {} when it is not an array.
create or replace function dq.array_fields(spec jsonb, field text)
returns jsonb
language sql
immutable
set search_path = pg_catalog
as $$
  select coalesce(jsonb_object_agg(format('%s[%s]', field, n - 1), e), '{}')
  from jsonb_array_elements_text(
         case when jsonb_typeof(spec -> field) = 'array' then spec -> field else '[]' end)
       with ordinality as t(e, n)
$$;

-- The evidence that relations did not change: { "fingerprint": md5 } or
-- { "doubt": "<why it cannot be trusted>" }. Reads statistics and the
-- catalog only, as the monitor role. Besides the relations' facts, the
-- versions of the catalog rows a check's meaning rests on: its columns
-- (pg_attribute: a dropped, renamed or retyped column, a column grant), its
-- schema (a revoked USAGE) and the functions it calls (CREATE OR REPLACE),
-- so that what a scan would now refuse or compute differently is scanned.
create or replace function dq.change_evidence(tables text[], functions text[] default '{}')
returns jsonb
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  rels oid[];
  odd record;
  facts text;
begin
  if version() like '%PGlite%' then
    return jsonb_build_object('doubt', 'PGlite keeps no table statistics (PostgreSQL in single-user mode): every run scans');
  end if;
  if pg_is_in_recovery() then
    return jsonb_build_object('doubt', 'a replica: its statistics do not count the primary''s writes');
  end if;
  if current_setting('track_counts') <> 'on' then
    return jsonb_build_object('doubt', 'track_counts is off: PostgreSQL counts no writes');
  end if;

  -- The relations and all under them (partitions, inheritance children): a
  -- scan of a parent reads them.
  -- A relation dropped since (its name kept in a scan's evidence) is no evidence at all.
  if exists (select 1 from unnest(tables) t where to_regclass(t) is null) then
    return jsonb_build_object('doubt', 'a relation it reads no longer exists');
  end if;
  with recursive tree(oid) as (
    select to_regclass(t)::oid from unnest(tables) t
    union
    select i.inhrelid from pg_inherits i join tree on i.inhparent = tree.oid
  )
  select array_agg(tree.oid order by tree.oid) into rels from tree;

  select c.oid::regclass as rel, c.relkind, n.nspname into odd
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
  where c.oid = any(rels)
    and (c.relkind not in ('r', 'p', 'm') or n.nspname in ('pg_catalog', 'information_schema'))
  limit 1;
  if found then
    return jsonb_build_object('doubt', format('%s is %s', odd.rel,
      case when odd.nspname in ('pg_catalog', 'information_schema') then 'a system catalog'
           when odd.relkind = 'v' then 'a view: its tables are not tracked'
           when odd.relkind = 'f' then 'a foreign table: its writes are not counted here'
           else format('a relation of kind %s', odd.relkind) end));
  end if;

  -- A table PostgreSQL has counted nothing on has no statistics entry (the
  -- pg_stat_user_tables row of zeros that stands for it is no reading): it was
  -- created or written with track_counts off, restored, or its statistics were
  -- lost (a crash) or reset and it was not touched since. Its counters say
  -- nothing yet; a scan reads it, and counts (its seq_scan), so that a later
  -- tick has evidence. Read from the counters, which any role may read
  -- (pg_stat_have_stats is the superuser's).
  select c.oid::regclass as rel into odd
  from pg_class c
  where c.oid = any(rels) and c.relkind in ('r', 'm')
    and pg_stat_get_numscans(c.oid) + pg_stat_get_blocks_fetched(c.oid)
        + pg_stat_get_tuples_inserted(c.oid) + pg_stat_get_tuples_updated(c.oid)
        + pg_stat_get_tuples_deleted(c.oid) + pg_stat_get_vacuum_count(c.oid)
        + pg_stat_get_autovacuum_count(c.oid) + pg_stat_get_analyze_count(c.oid)
        + pg_stat_get_autoanalyze_count(c.oid) = 0
  limit 1;
  if found then
    return jsonb_build_object('doubt', format('%s has no statistics: PostgreSQL has counted nothing on it (created or written with track_counts off, restored, or its statistics reset or lost since)', odd.rel));
  end if;

  select string_agg(concat_ws(':', c.oid, c.relkind, c.relfilenode, c.xmin,
           pg_stat_get_tuples_inserted(c.oid), pg_stat_get_tuples_updated(c.oid),
           pg_stat_get_tuples_deleted(c.oid),
           case when c.relkind in ('r', 'm') then pg_relation_size(c.oid) end,
           (select string_agg(p.oid || '.' || p.xmin, ',' order by p.oid) from pg_policy p where p.polrelid = c.oid),
           (select string_agg(a.attnum || '.' || a.xmin, ',' order by a.attnum) from pg_attribute a
            where a.attrelid = c.oid and a.attnum > 0),
           (select n.xmin from pg_namespace n where n.oid = c.relnamespace)),
         ';' order by c.oid)
    into facts
  from pg_class c
  where c.oid = any(rels);
  return jsonb_build_object('fingerprint', md5(concat_ws('|', facts,
    (select string_agg(p.oid || '.' || p.xmin, ',' order by p.oid) from pg_proc p
     where p.proname = any(functions) and p.pronamespace <> 'pg_catalog'::regnamespace),
    -- (the function, not the pg_stat_database view, which computes every database's statistics)
    pg_stat_get_db_stat_reset_time((select d.oid from pg_database d where d.datname = current_database())),
    pg_postmaster_start_time())));
end
$$;

-- Why another session may hold committed writes it has not counted yet, or
-- NULL: a running statement that has committed inside itself (a procedure's
-- COMMIT) keeps those counts until it ends. Asked only before an unchanged
-- answer. SECURITY DEFINER: its owner, the role that ran the migration, must
-- see every session (a superuser or a member of pg_read_all_stats, as
-- Supabase's postgres is); the monitor role cannot, and learns only a reason.
create or replace function dq.uncounted_writes()
returns text
language plpgsql
stable
security definer
set search_path = pg_catalog
as $$
declare
  busy integer;
begin
  if not (select r.rolsuper from pg_roles r where r.rolname = current_user)
     and not pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') then
    return format('%I, which owns dq.uncounted_writes, cannot see other sessions (grant pg_read_all_stats to %I)',
      current_user, current_user);
  end if;
  select a.pid into busy
  from pg_stat_get_activity(null) a
  -- in this database: a procedure elsewhere writes none of its tables
  where a.datid = (select d.oid from pg_database d where d.datname = current_database())
    and a.state = 'active' and a.xact_start > a.query_start and a.pid <> pg_backend_pid()
  limit 1;
  if busy is not null then
    return format('session %s is running a statement that has committed inside itself (a procedure): its writes are counted only when it ends', busy);
  end if;
  return null;
end
$$;

-- The last full scan's result, as this run's answer (details.scope =
-- "unchanged"), when the check's latest result is that scan or an answer
-- from it, with the same definition, `fullEvery` has not passed since the
-- scan, the evidence of the relations it read (kept with it: its tables and
-- the functions it calls) is what the scan saw, and no session holds writes
-- it has not counted; { "doubt": why } when only the last stood in the way;
-- else NULL. The check's expressions are not analysed again: the same
-- definition reads the same relations, and what could change their meaning
-- (columns, grants, functions) is part of the evidence. Reads statistics,
-- the catalog and dq.results only: dq.run_check asks it before any of the
-- check's SQL text runs.
create or replace function dq.unchanged_answer(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  previous record;
  evidence jsonb;
  full_every interval := coalesce(
    dq.interval_value(coalesce(spec ->> 'fullEvery', spec #>> '{incremental,fullEvery}'), 'fullEvery'),
    interval '24 hours');
  doubt text;
begin
  select r.status, r.value, r.details, r.sample into previous
  from dq.results r
  where r.check_name = spec ->> 'name'
  order by r.id desc -- recording order: a client clock running ahead cannot pin it
  limit 1;
  if not found or previous.status = 'error'
     or coalesce(previous.details ->> 'scope', 'full') not in ('full', 'unchanged') then
    return null;
  end if;
  evidence := previous.details -> 'change_evidence';
  if jsonb_typeof(evidence -> 'tables') is distinct from 'array'
     or evidence ->> 'spec_hash' is distinct from dq.spec_hash(spec)
     -- The same slack as incremental runs: an hourly tick a few seconds early
     -- does not put the daily full scan off by an hour.
     or now() >= (evidence ->> 'scanned_at')::timestamptz + full_every - least(full_every / 20, interval '10 minutes')
     or dq.change_evidence(array(select jsonb_array_elements_text(evidence -> 'tables')),
                           array(select jsonb_array_elements_text(coalesce(evidence -> 'functions', '[]'))))
          ->> 'fingerprint' is distinct from evidence ->> 'fingerprint' then
    return null;
  end if;
  doubt := dq.uncounted_writes();
  if doubt is not null then
    return jsonb_build_object('doubt', doubt);
  end if;
  return jsonb_build_object('value', previous.value,
    'details', previous.details || jsonb_build_object('scope', 'unchanged'),
    'sample', previous.sample);
end
$$;

-- Measures a check with its kind's function (`doubt`: why it was not
-- answered unchanged, to record). VOLATILE on purpose: in READ COMMITTED
-- each statement here takes a new snapshot, so the scan's snapshot comes
-- after the evidence was read (see the top of this file). A full scan with evidence records it in
-- details.change_evidence { fingerprint, spec_hash, scanned_at, tables,
-- functions }; a check that must always scan says why in
-- details.change_evidence { doubt }. Only runs that ask ("scan": "changed":
-- cron ticks) are answered unchanged, and only they keep evidence: an ad hoc
-- run scans, and its result is as before.
create or replace function dq.measure(spec jsonb, measure text, doubt text default null)
returns jsonb
language plpgsql
volatile
as $$
declare
  reads_function text;
  reads jsonb;
  evidence jsonb;
  result jsonb;
begin
  if dq.scan_guard() = 'false' or spec ->> 'scan' is distinct from 'changed' then
    -- dq validate --db plans the real queries; an ad hoc run scans, and keeps no evidence.
    execute format('select %s($1)', measure) into result using spec;
    return result;
  end if;

  -- What the scan reads, and the evidence of it, read before its snapshot.
  reads_function := dq.resolve_kind(spec, '_reads');
  if reads_function is null then
    evidence := jsonb_build_object('doubt', format('the %s kind reads more than its tables'' rows (the clock, history or the catalog)', spec ->> 'kind'));
  else
    execute format('select %s($1)', reads_function) into reads using spec;
    if reads ? 'doubt' then
      evidence := reads;
    else
      evidence := dq.change_evidence(array(select jsonb_array_elements_text(reads -> 'tables')),
                                     array(select jsonb_array_elements_text(reads -> 'functions')));
    end if;
  end if;

  execute format('select %s($1)', measure) into result using spec;

  if evidence ? 'fingerprint' and coalesce(result #>> '{details,scope}', 'full') = 'full' then
    -- The scan saw every write committed before it, counted or not: its evidence may count
    -- fewer, which only makes the next tick scan again.
    result := jsonb_set(result, '{details,change_evidence}', jsonb_strip_nulls(jsonb_build_object(
      'fingerprint', evidence ->> 'fingerprint', 'spec_hash', dq.spec_hash(spec), 'scanned_at', now(),
      'tables', reads -> 'tables', 'functions', reads -> 'functions', 'doubt', doubt)));
  elsif evidence ? 'doubt' then
    result := jsonb_set(result, '{details,change_evidence}', jsonb_build_object('doubt', evidence ->> 'doubt'));
  end if;
  return result;
end
$$;

-- ===== supabase/schemas/90_grants.sql =====

-- dq-monitor: grants. Nothing in dq is for PUBLIC, anon or authenticated;
-- service_role (Supabase) and dq_monitor (direct connections) may use it all.
-- One function, called last by every migration, after it created objects.
create or replace function dq.apply_grants()
returns void
language plpgsql
volatile
as $$
declare
  role_name text;
begin
  if not exists (select 1 from pg_roles where rolname = 'dq_monitor') then
    create role dq_monitor nologin;
  end if;

  revoke all on schema dq from public;
  revoke all on all tables in schema dq from public;
  revoke all on all sequences in schema dq from public;
  revoke all on all functions in schema dq from public;

  foreach role_name in array array['anon', 'authenticated'] loop
    if exists (select 1 from pg_roles where rolname = role_name) then
      execute format('revoke all on schema dq from %I', role_name);
      execute format('revoke all on all tables in schema dq from %I', role_name);
      execute format('revoke all on all sequences in schema dq from %I', role_name);
      execute format('revoke all on all functions in schema dq from %I', role_name);
    end if;
  end loop;

  foreach role_name in array array['service_role', 'dq_monitor'] loop
    if exists (select 1 from pg_roles where rolname = role_name) then
      execute format('grant usage on schema dq to %I', role_name);
      execute format('grant select, insert, update, delete on all tables in schema dq to %I', role_name);
      execute format('grant usage, select on all sequences in schema dq to %I', role_name);
      execute format('grant execute on all functions in schema dq to %I', role_name);
      -- Granting is the migration owner's business, not the monitor's.
      execute format('revoke execute on function dq.apply_grants() from %I', role_name);
      -- dq.as_monitor runs catalog SQL as its owner; only dq_monitor (its owner) calls it.
      if role_name <> 'dq_monitor' and to_regprocedure('dq.as_monitor(text,jsonb)') is not null then
        execute format('revoke execute on function dq.as_monitor(text, jsonb) from %I', role_name);
      end if;
    end if;
  end loop;

  -- dq.as_monitor is owned by dq_monitor, so that it runs as dq_monitor (SECURITY
  -- DEFINER). Giving it away needs membership in dq_monitor and, for the moment
  -- of the change, dq_monitor's CREATE on the schema.
  if to_regprocedure('dq.as_monitor(text,jsonb)') is not null
     and (select p.proowner from pg_proc p where p.oid = 'dq.as_monitor(text,jsonb)'::regprocedure)
         <> 'dq_monitor'::regrole then
    if not pg_has_role(current_user, 'dq_monitor', 'MEMBER') then
      begin
        execute format('grant dq_monitor to %I', current_user);
      exception when insufficient_privilege then
        raise exception using errcode = '42501',
          message = format('%I cannot give dq.as_monitor to dq_monitor: it is not a member of dq_monitor', current_user),
          hint = format('as a superuser: grant dq_monitor to %I; then run dq migrate again', current_user);
      end;
    end if;
    grant create on schema dq to dq_monitor;
    alter function dq.as_monitor(text, jsonb) owner to dq_monitor;
    revoke create on schema dq from dq_monitor;
  end if;
end
$$;

alter default privileges in schema dq revoke execute on functions from public;

select dq.apply_grants();
