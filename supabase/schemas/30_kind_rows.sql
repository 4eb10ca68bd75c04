-- dq-monitor: the rows kind (checks/kinds/rows).

-- rows: rows in scope that match `where`, the violation ("no row may match
-- this"). A row for which `where` is NULL does not match, as in WHERE.
-- One pass counts the rows in scope and the matching ones; the sample, the
-- first 5 matching ids, stops at the 5th.
-- Incremental: only rows changed since the watermark are counted.
create or replace function dq.kind_rows(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  source text := dq.relation_sql(spec ->> 'table', 'table');
  violation text := dq.expression_sql(source, spec ->> 'where', 'where', required => true, is_predicate => true);
  scope text := dq.expression_sql(source, spec ->> 'scope', 'scope', required => false, is_predicate => true)
                || ' and ' || dq.scan_guard();
  id_expr text := dq.expression_sql(source, coalesce(spec ->> 'id', 'id'), 'id');
  plan jsonb := dq.incremental_plan(spec, source);
  scope_filter text := 'true';
  stats record;
  sample jsonb := '[]'::jsonb;
  details jsonb;
begin
  if plan is not null then
    scope_filter := plan ->> 'filter';
  end if;

  execute format('select count(*) as rows, count(*) filter (where %s) as matching from %s as dq_t where (%s) and (%s)',
    violation, source, scope, scope_filter)
    into stats;

  if stats.matching > 0 then
    execute format($q$
      select coalesce(jsonb_agg(jsonb_build_object(%1$L, dq_id)), '[]')
      from (select (%2$s) as dq_id from %3$s as dq_t where (%4$s) and (%5$s) and (%6$s) limit 5) matching
    $q$, dq.column_label(id_expr), id_expr, source, scope, scope_filter, violation)
      into sample;
  end if;

  details := jsonb_build_object('rows', stats.rows, 'matching', stats.matching,
                                'ratio', dq.ratio(stats.matching, stats.rows));
  if plan is not null then
    details := details || dq.incremental_details(plan, source, scope);
  end if;
  return jsonb_build_object('value', stats.matching, 'details', details, 'sample', sample);
end
$$;

-- The index an incremental rows check needs (dq.index_advice).
create or replace function dq.kind_rows_indexes(spec jsonb)
returns jsonb
language sql
stable
as $$
  select dq.changed_rows_index(spec)
$$;

-- What a rows check reads (27_unchanged.sql): its table, through where, scope and id.
create or replace function dq.kind_rows_reads(spec jsonb)
returns jsonb
language sql
stable
as $$
  select dq.table_reads(spec, jsonb_build_object('where', spec ->> 'where', 'scope', spec ->> 'scope',
                                         'id', coalesce(spec ->> 'id', 'id')))
$$;
