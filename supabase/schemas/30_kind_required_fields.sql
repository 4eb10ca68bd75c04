-- dq-monitor: the required_fields kind (checks/kinds/required_fields).

-- required_fields: rows missing at least one of `fields`. A field is missing
-- when it is NULL or, with `blank` (the default), when it is text that is
-- empty after trim; other types are missing only when NULL.
-- One pass: every count (rows, each field, any field) is a FILTER of one
-- scan that keeps its parallel workers. The sample, a few rows with the
-- fields each one misses, stops at the 5th such row.
-- Incremental: only rows changed since the watermark are counted.
create or replace function dq.kind_required_fields(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  source text := dq.relation_sql(spec ->> 'table', 'table');
  predicate text := dq.expression_sql(source, spec ->> 'where', 'where', required => false, is_predicate => true)
                    || ' and ' || dq.scan_guard();
  id_expr text := dq.expression_sql(source, coalesce(spec ->> 'id', 'id'), 'id');
  blank boolean := true;
  plan jsonb;
  scope_filter text := 'true';
  labels text[] := '{}';
  tests text[] := '{}';
  field record;
  expr text;
  label text;
  base_type oid;
  any_missing text;
  stats record;
  per_field jsonb;
  sample jsonb := '[]'::jsonb;
  details jsonb;
begin
  if jsonb_typeof(spec -> 'fields') is distinct from 'array' or jsonb_array_length(spec -> 'fields') = 0 then
    raise exception using errcode = '22023',
      message = 'check field "fields" must be a non-empty array of column names or SQL expressions';
  end if;
  if spec ? 'blank' and jsonb_typeof(spec -> 'blank') <> 'null' then
    if jsonb_typeof(spec -> 'blank') <> 'boolean' then
      raise exception using errcode = '22023',
        message = format('check field "blank" must be true (a text that is empty after trim is missing) or false (only NULL is), got %s', spec -> 'blank');
    end if;
    blank := (spec ->> 'blank')::boolean;
  end if;

  for field in select f, n from jsonb_array_elements_text(spec -> 'fields') with ordinality as t(f, n) loop
    expr := dq.expression_sql(source, field.f, format('fields[%s]', field.n - 1));
    -- The label is the field as the catalog spells it: details.fields and the
    -- sample name it that way.
    label := btrim(field.f);
    if label = any(labels) then
      raise exception using errcode = '22023',
        message = format('check field "fields[%s]": %s is already fields[%s]; list each field once',
          field.n - 1, label, array_position(labels, label) - 1);
    end if;
    labels := labels || label;
    -- Text types (the string category, domains over them included) can be
    -- blank: empty, or spaces only. Only a value that starts with a space is
    -- trimmed, so btrim() (a copy of each value) runs on a few rows, not all;
    -- collate "C" keeps = and LIKE byte-wise whatever the column's collation.
    select coalesce(nullif(t.typbasetype, 0), t.oid) into base_type
    from pg_type t where t.oid = dq.expression_type(source, expr);
    if blank and (select t.typcategory = 'S' from pg_type t where t.oid = base_type) then
      tests := tests || format('((%1$s) is null or %2$s = %3$L or (%2$s like %4$L and btrim(%2$s) = %3$L))',
        expr, format('((%s)::text collate "C")', expr), '', ' %');
    else
      tests := tests || format('((%s) is null)', expr);
    end if;
  end loop;
  any_missing := array_to_string(tests, ' or ');

  plan := dq.incremental_plan(spec, source);
  if plan is not null then
    scope_filter := plan ->> 'filter';
  end if;

  execute format('select count(*) as rows, count(*) filter (where %s) as missing_any, array[%s]::bigint[] as per_field
                  from %s as dq_t where (%s) and (%s)',
    any_missing,
    (select string_agg(format('count(*) filter (where %s)', t), ', ' order by n) from unnest(tests) with ordinality as u(t, n)),
    source, predicate, scope_filter)
    into stats;

  select jsonb_object_agg(labels[n], stats.per_field[n]) into per_field
  from generate_series(1, cardinality(labels)) n;

  if stats.missing_any > 0 then
    -- Stops at the 5th incomplete row: a few rows when gaps are common.
    execute format($q$
      select coalesce(jsonb_agg(jsonb_build_object(%1$L, dq_id, 'missing', to_jsonb(dq_missing))), '[]')
      from (
        select (%2$s) as dq_id, array_remove(array[%3$s]::text[], null) as dq_missing
        from %4$s as dq_t
        where (%5$s) and (%6$s) and (%7$s)
        limit 5
      ) incomplete
    $q$, dq.column_label(id_expr), id_expr,
      (select string_agg(format('case when %s then %L end', t, labels[n]), ', ' order by n)
       from unnest(tests) with ordinality as u(t, n)),
      source, predicate, scope_filter, any_missing)
      into sample;
  end if;

  details := jsonb_build_object(
    'rows', stats.rows, 'missing_any', stats.missing_any, 'ratio', dq.ratio(stats.missing_any, stats.rows),
    'fields', per_field, 'blank', blank);
  if plan is not null then
    details := details || dq.incremental_details(plan, source, predicate);
  end if;
  return jsonb_build_object('value', stats.missing_any, 'details', details, 'sample', sample);
end
$$;

-- The index an incremental required_fields check needs (dq.index_advice).
create or replace function dq.kind_required_fields_indexes(spec jsonb)
returns jsonb
language sql
stable
as $$
  select dq.changed_rows_index(spec)
$$;

-- What a required_fields check reads (27_unchanged.sql): its table, through fields, where and id.
create or replace function dq.kind_required_fields_reads(spec jsonb)
returns jsonb
language sql
stable
as $$
  select dq.table_reads(spec, jsonb_build_object('where', spec ->> 'where', 'id', coalesce(spec ->> 'id', 'id'))
                        || dq.array_fields(spec, 'fields'))
$$;
