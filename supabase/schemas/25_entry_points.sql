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
