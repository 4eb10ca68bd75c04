/**
 * A comparable picture of everything in schema dq: each function's full
 * definition (SET clauses included) and grants, each aggregate and type, each
 * table's columns, constraints, indexes, comments and grants, the schema's
 * grants and default privileges. Two databases built differently (from
 * supabase/schemas, from supabase/migrations, upgraded from an old version)
 * must give the same picture.
 *
 * @example
 * ```ts
 * expect(await snapshot(a)).toEqual(await snapshot(b))
 * ```
 */
export const SCHEMA_SNAPSHOT_SQL = `
with fn as (
  select p.oid, p.proname, pg_get_function_identity_arguments(p.oid) as args, p.prokind, p.proacl
  from pg_proc p where p.pronamespace = 'dq'::regnamespace
)
select jsonb_build_object(
  'functions', (
    select jsonb_object_agg(proname || '(' || args || ')', jsonb_build_object(
      'definition', case when prokind = 'a' then
        (select jsonb_build_object('transfn', a.aggtransfn::text, 'finalfn', a.aggfinalfn::text,
                                   'stype', format_type(a.aggtranstype, null), 'init', a.agginitval,
                                   'parallel', (select proparallel from pg_proc where oid = fn.oid))
         from pg_aggregate a where a.aggfnoid = fn.oid)::text
        else pg_get_functiondef(fn.oid) end,
      'acl', (select array_agg(x::text order by x::text) from unnest(proacl) x)))
    from fn),
  'types', (
    select jsonb_object_agg(t.typname, (
      select jsonb_agg(jsonb_build_array(a.attname, format_type(a.atttypid, a.atttypmod)) order by a.attnum)
      from pg_attribute a where a.attrelid = t.typrelid and a.attnum > 0))
    from pg_type t where t.typnamespace = 'dq'::regnamespace and t.typtype = 'c'
      and not exists (select 1 from pg_class c where c.oid = t.typrelid and c.relkind <> 'c')),
  'tables', (
    select jsonb_object_agg(c.relname, jsonb_build_object(
      'kind', c.relkind,
      'columns', (select jsonb_agg(jsonb_build_array(a.attname, format_type(a.atttypid, a.atttypmod),
                    a.attnotnull, pg_get_expr(d.adbin, d.adrelid), a.attidentity,
                    col_description(c.oid, a.attnum)) order by a.attname)
                  from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum
                  where a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped),
      'constraints', (select jsonb_object_agg(k.conname, pg_get_constraintdef(k.oid))
                      from pg_constraint k where k.conrelid = c.oid),
      'indexes', (select jsonb_object_agg(i.relname, pg_get_indexdef(i.oid))
                  from pg_index x join pg_class i on i.oid = x.indexrelid where x.indrelid = c.oid),
      'comment', obj_description(c.oid, 'pg_class'),
      'acl', (select array_agg(x::text order by x::text) from unnest(c.relacl) x)))
    from pg_class c where c.relnamespace = 'dq'::regnamespace and c.relkind in ('r', 'p', 'v', 'm', 'S')),
  'schema', (select jsonb_build_object('acl', (select array_agg(x::text order by x::text) from unnest(n.nspacl) x),
                                       'comment', obj_description(n.oid, 'pg_namespace'))
             from pg_namespace n where n.nspname = 'dq'),
  'default_privileges', (select jsonb_agg(d.defaclacl::text order by d.defaclobjtype)
                         from pg_default_acl d where d.defaclnamespace = 'dq'::regnamespace)
) as snapshot`
