-- dq-monitor migration "catalog_sql_as_monitor", generated from supabase/schemas by
-- scripts/migration.ts: edit the schema files, not this one.
-- Idempotent, like every file it carries: "dq migrate" applies every migration
-- on each call, "supabase db push" each one once.

-- ===== supabase/schemas/25_entry_points.sql =====

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
  -- A kind's helpers (dq.kind_<kind>_indexes, _reads) are not kinds.
  if kind ~ '^[a-z][a-z0-9_]*$' and kind !~ '_(indexes|reads)$' then
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
           and p.proname !~ '_(indexes|reads)$'));
  end if;
  return null;
end
$$;

-- Who a check runs as: least privilege, whatever the login. A superuser, or
-- any login that may become dq_monitor, runs its checks as dq_monitor (for
-- the check's subtransaction only): superuser powers are gone, and the grants
-- the README asks of dq_monitor are exactly what checks need. A login that
-- cannot become dq_monitor runs as itself, unless it can do more than read
-- (read or write server files, run programs, signal other sessions): then
-- checks are refused, unless the caller opted in (dq.allow_privileged = on,
-- from DQ_ALLOW_PRIVILEGED_LOGIN=1). BYPASSRLS is not such a power: a monitor
-- that sees every row is what Supabase's service_role is for.
create or replace function dq.assume_monitor_role()
returns text
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  login text := current_user;
  may_become boolean := false;
  powers text[];
begin
  if login = 'dq_monitor' then
    return login;
  end if;
  if to_regrole('dq_monitor') is not null then
    if current_setting('server_version_num')::int >= 160000 then
      may_become := pg_has_role(login, 'dq_monitor', 'SET');
    else
      may_become := pg_has_role(login, 'dq_monitor', 'MEMBER');
    end if;
  end if;
  if may_become then
    perform set_config('role', 'dq_monitor', true);
    return 'dq_monitor';
  end if;
  select array_agg(p.power order by p.power) into powers
  from (
    select 'superuser' as power from pg_roles r where r.rolname = login and r.rolsuper
    union all
    select g.role || ' (' || g.what || ')'
    from (values ('pg_read_server_files', 'read server files'),
                 ('pg_write_server_files', 'write server files'),
                 ('pg_execute_server_program', 'run programs on the server'),
                 ('pg_signal_backend', 'terminate other sessions')) as g(role, what)
    where to_regrole(g.role) is not null and pg_has_role(login, g.role, 'MEMBER')
  ) p;
  if powers is not null and coalesce(current_setting('dq.allow_privileged', true), 'off') <> 'on' then
    raise exception using errcode = 'DQ403',
      message = format('checks would run as %I, which can do more than read: %s, and cannot become dq_monitor',
        login, array_to_string(powers, ', ')),
      hint = format('grant dq_monitor to %I (and grant dq_monitor usage and select on what checks read), or set DQ_ALLOW_PRIVILEGED_LOGIN=1 to run checks as %I anyway', login, login);
  end if;
  return login;
end
$$;

-- Runs one query of the catalog's SQL text as dq_monitor, with no way back:
-- owned by dq_monitor (dq.apply_grants) and SECURITY DEFINER, so inside it
-- PostgreSQL refuses set_config('role', ...) and 'session_authorization'.
-- After a plain SET ROLE an expression could switch back to a superuser login
-- (set_config('role', session_user, true)) and use its powers. Only dq_monitor
-- may execute it (callers become dq_monitor first), so it grants nothing a
-- caller does not have; no SET search_path, so catalog SQL resolves names as
-- the caller's session does. `query` returns one jsonb, with `arg` as $1.
create or replace function dq.as_monitor(query text, arg jsonb default null)
returns jsonb
language plpgsql
volatile
security definer
as $$
declare
  result jsonb;
begin
  execute query into result using arg;
  return result;
end
$$;

-- Runs a query carrying catalog SQL text as the role dq.assume_monitor_role
-- chose: through dq.as_monitor when that is dq_monitor, else (a login that
-- cannot become it, allowed to run as itself) directly.
create or replace function dq.run_catalog_sql(query text, arg jsonb default null)
returns jsonb
language plpgsql
volatile
as $$
declare
  result jsonb;
begin
  if current_user = 'dq_monitor' then
    return dq.as_monitor(query, arg);
  end if;
  execute query into result using arg;
  return result;
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
  wrote boolean;
  written_before xid8 := pg_current_xact_id_if_assigned();
  advisory_before bigint;
  advisory_after bigint;
  unchanged jsonb;
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
  -- The check runs in a subtransaction that is always rolled back: as the
  -- monitor role, and whatever it did (a large object, a setting) is undone.
  -- Only the measurement, a variable, survives.
  begin
    perform dq.assume_monitor_role();
    -- A cron tick's check whose tables did not change: its last full scan's
    -- answer (27_unchanged.sql). It runs none of the check's SQL text, so
    -- there is nothing to audit after it.
    if spec ->> 'scan' = 'changed' and dq.scan_guard() = 'true' then
      unchanged := dq.unchanged_answer(spec);
      if unchanged is not null and not unchanged ? 'doubt' then
        result := unchanged;
        raise exception using errcode = 'DQRBK';
      end if;
    end if;
    select count(*) into advisory_before
    from pg_locks where locktype = 'advisory' and pid = pg_backend_pid();
    -- The kind's measurement (as dq_monitor for good when the login may become it).
    result := dq.run_catalog_sql(format('select dq.measure($1, %L, %L)', measure, unchanged ->> 'doubt'), spec);
    wrote := written_before is null and pg_current_xact_id_if_assigned() is not null;
    raise exception using errcode = 'DQRBK';
  exception
    when sqlstate 'DQRBK' then
      null;
    when others then
      -- The check failed: its error stands, but a session lock it took must not.
      if (select count(*) from pg_locks where locktype = 'advisory' and pid = pg_backend_pid())
         > advisory_before then
        perform pg_advisory_unlock_all();
      end if;
      raise;
  end;
  if advisory_before is null then
    return result; -- answered unchanged
  end if;
  if wrote then
    raise exception using errcode = '25006',
      message = 'the check wrote to the database (a large object, a temporary table...): it was rolled back; a check may only read';
  end if;
  select count(*) into advisory_after
  from pg_locks where locktype = 'advisory' and pid = pg_backend_pid();
  if advisory_after > advisory_before then
    -- A session-level lock outlives the transaction on a pooled connection.
    perform pg_advisory_unlock_all();
    raise exception using errcode = '25006',
      message = 'the check took a session-level advisory lock (pg_advisory_lock): it was released; a check may only read';
  end if;
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

-- ===== supabase/schemas/26_generators.sql =====

-- dq-monitor: checks generated from a table (an enrichment registry, say).
-- A catalog entry { generate: { name, from, where?, check } } expands, at
-- every run, to one check per row of `from` matching `where`. Expansion reads
-- only, as dq_monitor, in a subtransaction that is rolled back, like a check.
--
-- A "{column}" placeholder is the whole value of a field, never part of an
-- expression: the row's value is read as an identifier (parse_ident: a
-- schema-qualified name for a `table` field, a single name elsewhere) and
-- written quoted (quote_ident), never as SQL text. A value that is not an
-- identifier, or a NULL, makes that one check an error; the others stand.
-- Names (the `name` template, where placeholders may sit inside text) are
-- normalised to ^[a-z][a-z0-9_]{0,62}$; two rows that normalise to one name
-- are both errors, each naming the other.

-- The template with the row's values, as quoted identifiers (see above).
create or replace function dq.fill_placeholders(template jsonb, source_row jsonb, path text)
returns jsonb
language plpgsql
immutable
set search_path = pg_catalog
as $$
declare
  placeholder text;
  value text;
  parts text[];
  result jsonb;
begin
  case jsonb_typeof(template)
    when 'object' then
      select coalesce(jsonb_object_agg(t.key, dq.fill_placeholders(t.value, source_row, path || '.' || t.key)), '{}'::jsonb)
        into result
      from jsonb_each(template) t;
      return result;
    when 'array' then
      select coalesce(jsonb_agg(dq.fill_placeholders(t.value, source_row, format('%s[%s]', path, t.n - 1)) order by t.n), '[]'::jsonb)
        into result
      from jsonb_array_elements(template) with ordinality as t(value, n);
      return result;
    when 'string' then
      placeholder := substring(template #>> '{}' from '^\{([A-Za-z_][A-Za-z0-9_]*)\}$');
      if placeholder is null then
        if template #>> '{}' ~ '\{[A-Za-z_][A-Za-z0-9_]*\}' then
          raise exception using errcode = '22023',
            message = format('%s: a placeholder must be the whole value of a field, not part of an expression (%s)', path, template #>> '{}');
        end if;
        return template;
      end if;
      if not source_row ? placeholder then
        raise exception using errcode = '42703',
          message = format('%s: generate.from has no column "%s"', path, placeholder);
      end if;
      value := source_row ->> placeholder;
      if value is null or btrim(value) = '' then
        raise exception using errcode = '22004',
          message = format('%s: {%s} is empty in this row', path, placeholder);
      end if;
      begin
        parts := parse_ident(value);
      exception when others then
        raise exception using errcode = '22023',
          message = format('%s: {%s} is %s, which is not a name (a value is read as an identifier, never as SQL)', path, placeholder, left(value, 200));
      end;
      if cardinality(parts) > (case when path ~ '\.table$' then 2 else 1 end) then
        raise exception using errcode = '22023',
          message = format('%s: {%s} is %s, which has too many parts for this field', path, placeholder, left(value, 200));
      end if;
      return to_jsonb((select string_agg(quote_ident(p), '.' order by n) from unnest(parts) with ordinality as u(p, n)));
    else
      return template;
  end case;
end
$$;

-- A generated check's name: the template with the row's values as text,
-- normalised to the catalog's name pattern.
create or replace function dq.generated_name(template text, source_row jsonb)
returns text
language plpgsql
immutable
set search_path = pg_catalog
as $$
declare
  name text := template;
  placeholder text;
begin
  for placeholder in select (regexp_matches(template, '\{([A-Za-z_][A-Za-z0-9_]*)\}', 'g'))[1] loop
    if not source_row ? placeholder then
      raise exception using errcode = '42703',
        message = format('generate.name: generate.from has no column "%s"', placeholder);
    end if;
    name := replace(name, '{' || placeholder || '}', coalesce(source_row ->> placeholder, ''));
  end loop;
  name := btrim(regexp_replace(regexp_replace(lower(name), '[^a-z0-9_]+', '_', 'g'), '_{2,}', '_', 'g'), '_');
  if name !~ '^[a-z]' then
    name := 'g_' || name;
  end if;
  return left(name, 63);
end
$$;

-- Expands one generator: [{ name, row, spec, error }], one per row, in a
-- stable order. `spec` is the check with the row's values (null on error).
create or replace function dq.expand_generator(generator jsonb)
returns jsonb
language plpgsql
stable
set statement_timeout = '55s'
set lock_timeout = '5s'
as $$
declare
  source text;
  predicate text;
  source_rows jsonb;
  source_row jsonb;
  entry jsonb;
  entries jsonb := '[]'::jsonb;
begin
  if jsonb_typeof(generator) is distinct from 'object' or jsonb_typeof(generator -> 'check') is distinct from 'object' then
    raise exception using errcode = '22023', message = 'generate must be an object { name, from, where?, check }';
  end if;
  begin
    perform dq.assume_monitor_role();
    source := dq.relation_sql(generator ->> 'from', 'generate.from');
    predicate := dq.expression_sql(source, generator ->> 'where', 'generate.where', required => false, is_predicate => true);
    source_rows := dq.run_catalog_sql(format(
      'select coalesce(jsonb_agg(dq_r.j order by dq_r.j::text), ''[]'') from (select to_jsonb(dq_t) as j from %s as dq_t where (%s) and %s limit 1001) dq_r',
      source, predicate, dq.scan_guard()));
    raise exception using errcode = 'DQRBK';
  exception when sqlstate 'DQRBK' then
    null;
  end;
  if jsonb_array_length(source_rows) > 1000 then
    raise exception using errcode = '54000',
      message = 'generate.from: more than 1000 rows match; a generator makes at most 1000 checks (narrow it with generate.where)';
  end if;

  for source_row in select r from jsonb_array_elements(source_rows) r loop
    entry := jsonb_build_object('row', source_row, 'name', dq.generated_name(generator ->> 'name', source_row));
    begin
      entry := entry || jsonb_build_object('spec', dq.fill_placeholders(generator -> 'check', source_row, 'generate.check'), 'error', null);
    exception when others then
      entry := entry || jsonb_build_object('spec', null, 'error', sqlerrm);
    end;
    entries := entries || jsonb_build_array(entry);
  end loop;

  -- Two rows, one name: both are errors, each naming the other.
  select coalesce(jsonb_agg(
           case when d.others is null then e.entry
                else e.entry || jsonb_build_object('spec', null, 'error',
                       format('generated name "%s" is also the name of %s: make generate.name tell them apart', e.entry ->> 'name', d.others))
           end order by e.n), '[]'::jsonb)
    into entries
  from jsonb_array_elements(entries) with ordinality as e(entry, n)
  left join lateral (
    select string_agg(format('row %s', o.entry -> 'row'), ', ') as others
    from jsonb_array_elements(entries) with ordinality as o(entry, m)
    where o.m <> e.n and o.entry ->> 'name' = e.entry ->> 'name'
  ) d on true;
  return entries;
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
