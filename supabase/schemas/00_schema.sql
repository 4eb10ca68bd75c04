-- dq-monitor: schema dq.
--
-- supabase/schemas holds the one current definition of every dq object,
-- applied in lexical order: the schema, retired objects, history, shared
-- helpers, the check entry points, one file per check kind, alerts, grants.
-- Every file is idempotent (create ... if not exists, create or replace), so
-- a migration may carry a whole file. supabase/migrations is generated from
-- these files (npm run migration -- new NAME FILE...); test/schemas.test.ts
-- proves that both build the same database.

create schema if not exists dq;
comment on schema dq is 'dq-monitor: data-quality checks, their run history and alert state';
