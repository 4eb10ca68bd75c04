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
