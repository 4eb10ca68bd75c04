-- dq-monitor: the entry points. dq.run_check(spec) measures one check and
-- returns { value, details, sample }; the caller turns the value into pass /
-- warn / fail. It dispatches on spec->>'kind' to dq.kind_<kind>(spec), one
-- function per kind in 30_kind_<kind>.sql: adding a kind adds a function, and
-- nothing here changes.
--
-- Callers run each check in its own READ ONLY transaction with a
-- statement_timeout, so even an expression that calls a writing function
-- cannot change user data.
--
-- The SET clauses are for the Supabase API (PostgREST 12.2+), where a request
-- cannot choose its own statement_timeout but a function's own setting is
-- applied to its call: 55 s, under the API's 60 s request limit, so a slow
-- check ends with PostgreSQL's "canceling statement due to statement timeout"
-- rather than a gateway error. Change it for your project with
--   alter function dq.run_check(jsonb) set statement_timeout = '20s';
-- Direct connections keep each check's own timeoutSeconds: they set
-- statement_timeout before the call, and a function's SET does not re-arm the
-- timer of the statement already running. lock_timeout is checked at every
-- lock wait, so its SET applies on every path (LOCK_TIMEOUT_MS in kernel/port.ts).

-- The function of a spec's kind, dq.kind_<kind><suffix>(jsonb), as SQL text
-- to call; null when that function does not exist (an error for the kind's
-- own function: the kind is unknown).
create or replace function dq.resolve_kind(spec jsonb, suffix text default '')
returns text
language plpgsql
stable
set search_path = pg_catalog
as $$
declare
  kind text := spec ->> 'kind';
  found regprocedure;
begin
  if kind ~ '^[a-z][a-z0-9_]*$' then
    found := to_regprocedure(format('dq.%I(jsonb)', 'kind_' || kind || suffix));
  end if;
  if found is not null then
    return format('dq.%I', 'kind_' || kind || suffix);
  end if;
  if suffix = '' then
    raise exception using errcode = '22023',
      message = format('unknown check kind "%s" (this database has: %s; after upgrading dq-monitor, run "dq migrate")',
        left(coalesce(kind, 'null'), 100),
        (select string_agg(substr(p.proname, 6), ', ' order by p.proname)
         from pg_proc p
         where p.pronamespace = 'dq'::regnamespace and p.proname ~ '^kind_[a-z0-9_]+$'
           and p.proname !~ '_indexes$'));
  end if;
  return null;
end
$$;

create or replace function dq.run_check(spec jsonb)
returns jsonb
language plpgsql
stable
set statement_timeout = '55s'
set lock_timeout = '5s'
as $$
declare
  measure text;
  result jsonb;
begin
  if spec is null or jsonb_typeof(spec) <> 'object' then
    raise exception using errcode = '22023', message = 'check spec must be a JSON object';
  end if;
  measure := dq.resolve_kind(spec);
  -- Single flight: two runs of one check never overlap (HTTP answers 409).
  -- A transaction-scoped advisory lock works through every adapter,
  -- PostgREST included, and is released when the check's transaction ends.
  -- Incremental runs rely on it too: two overlapping runs would read the same
  -- watermark.
  if spec ? 'name' and dq.scan_guard() = 'true'
     and not pg_try_advisory_xact_lock(hashtext('dq-monitor'), hashtext(spec ->> 'name')) then
    raise exception using errcode = 'DQ409',
      message = format('check "%s" is already running (another run holds it); try again when it finishes', spec ->> 'name');
  end if;
  execute format('select %s($1)', measure) into result using spec;
  return result;
end
$$;

-- Plans a check without reading user rows: what `dq validate --db` calls.
-- VOLATILE because it sets a transaction-local setting.
create or replace function dq.validate_check(spec jsonb)
returns jsonb
language plpgsql
volatile
set statement_timeout = '55s'
set lock_timeout = '5s'
as $$
declare
  result jsonb;
begin
  perform set_config('dq.validate_only', 'on', true);
  result := dq.run_check(spec);
  perform set_config('dq.validate_only', 'off', true);
  return jsonb_build_object('valid', true);
end
$$;

-- The indexes an incremental check needs to cost a fraction of a full run,
-- as a measurement: value = how many are missing, details.indexes = each one
-- ({ table, columns, purpose, present, create }), sample = the CREATE INDEX
-- statements to run. A kind lists what it needs in dq.kind_<kind>_indexes(spec)
-- (as [{ table, columns, purpose }]); a kind without it, or a check without
-- `incremental`, needs none. Reads no rows.
create or replace function dq.index_advice(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  needs_function text;
  needs jsonb := '[]'::jsonb;
  need jsonb;
  rel regclass;
  relkind "char";
  indexes jsonb := '[]'::jsonb;
  present boolean;
  create_sql text;
begin
  if spec is null or spec -> 'incremental' is null or jsonb_typeof(spec -> 'incremental') = 'null' then
    return jsonb_build_object('value', 0, 'details', jsonb_build_object('indexes', '[]'::jsonb), 'sample', '[]'::jsonb);
  end if;
  perform dq.resolve_kind(spec);
  needs_function := dq.resolve_kind(spec, '_indexes');
  if needs_function is not null then
    -- The kind checks every field on its own first (a single expression that
    -- resolves in its table, named in the error), before any of it reaches SQL text.
    execute format('select %s($1)', needs_function) into needs using spec;
  end if;

  for need in select n from jsonb_array_elements(needs) n loop
    perform dq.relation_sql(need ->> 'table', 'table');
    rel := (need ->> 'table')::regclass;
    select c.relkind into relkind from pg_class c where c.oid = rel;
    create_sql := format('create index concurrently on %s (%s);', rel::text,
      (select string_agg(case when btrim(c) ~ '^([A-Za-z_][A-Za-z0-9_$]*|"([^"]|"")+")$' then btrim(c)
                              else format('(%s)', c) end, ', ')
       from jsonb_array_elements_text(need -> 'columns') c));
    -- A view has no indexes of its own: the tables under it need them.
    present := case when relkind in ('r', 'p', 'm') then dq.has_leading_index(rel,
                 array(select jsonb_array_elements_text(need -> 'columns'))) end;
    indexes := indexes || jsonb_build_array(need || jsonb_build_object(
      'present', present, 'create', case when relkind in ('r', 'p', 'm') then create_sql end));
  end loop;

  return jsonb_build_object(
    'value', (select count(*) from jsonb_array_elements(indexes) i where i -> 'present' = 'false'::jsonb),
    'details', jsonb_build_object('indexes', indexes),
    'sample', coalesce((select jsonb_agg(i -> 'create') from jsonb_array_elements(indexes) i
                        where i -> 'present' = 'false'::jsonb), '[]'::jsonb));
end
$$;
