-- dq-monitor: the timeouts checks get through the Supabase API (PostgREST).
--
-- A request through PostgREST cannot choose its own statement_timeout: it runs
-- with the API role's (on Supabase, service_role inherits the authenticator's
-- 8 s), so a catalog's per-check `timeoutSeconds` cannot reach the database
-- that way. What PostgREST (12.2+) does apply is a function's own setting: it
-- reads `statement_timeout` from the function's SET clause (pg_proc.proconfig)
-- and sets it for the request's transaction before calling it ("hoisted
-- function settings", PostgREST's db-hoisted-tx-settings). So the check entry
-- points carry one: 55 s, under the Supabase API's 60 s request limit, so a
-- slow check ends with PostgreSQL's "canceling statement due to statement
-- timeout" (reported as a timeout) rather than a gateway error.
--
-- Change it for your project with, for example:
--   alter function dq.run_check(jsonb) set statement_timeout = '20s';
-- (Supabase reloads the API's schema cache on DDL; elsewhere run
--  `notify pgrst, 'reload schema'`.) Checks that need longer must run over a
-- direct connection (DQ_DATABASE_URL).
--
-- Direct connections (postgres.js, PGlite) keep the check's own timeoutSeconds:
-- they set statement_timeout before the call, and a function's SET does not
-- re-arm the timer of the statement already running.
--
-- lock_timeout, unlike statement_timeout, is checked at every lock wait, so a
-- function SET applies on every path: 5 s, as LOCK_TIMEOUT_MS in db/database.ts.
--
-- Idempotent (ALTER ... SET), and it comes after every migration that
-- (re)creates these functions: `create or replace function` without a SET
-- clause would drop the setting (test/grants.test.ts checks it is there).

alter function dq.run_check(jsonb) set statement_timeout = '55s';
alter function dq.run_check(jsonb) set lock_timeout = '5s';
alter function dq.validate_check(jsonb) set statement_timeout = '55s';
alter function dq.validate_check(jsonb) set lock_timeout = '5s';
