-- dq-monitor: the duplicates kind (checks/kinds/duplicates).

-- What dq.top_groups keeps of a group: its size and its key as text (the
-- order among equal sizes, and how the sample entry and the ids lookup get
-- the key back, cast to its own type).
do $$
begin
  if to_regtype('dq.top_group') is null then
    create type dq.top_group as (n bigint, ord text[]);
  end if;
  if to_regtype('dq.top_groups_state') is null then
    create type dq.top_groups_state as (min_n bigint, groups dq.top_group[]);
  end if;
end
$$;

-- The 5 largest groups seen so far, largest first. Called only for groups
-- over the limit (FILTER), and a group no larger than the 5th kept returns at
-- once (min_n sits outside the array so that test reads no array element):
-- about half a microsecond per duplicated key, where materialising every
-- group to sort them cost a pass over all of them. Among groups of equal size
-- the first ones grouped are kept: with a parallel plan that is key order.
create or replace function dq.top_groups_step(state dq.top_groups_state, n bigint, ord text[])
returns dq.top_groups_state
language plpgsql
immutable
parallel safe
as $$
declare
  kept dq.top_group[];
begin
  if n <= state.min_n then
    return state;
  end if;
  kept := array(
    select s from unnest(state.groups || row(n, ord)::dq.top_group) s
    order by s.n desc, s.ord
    limit 5);
  return row(case when cardinality(kept) = 5 then (kept[5]).n else 0 end, kept)::dq.top_groups_state;
end
$$;

create or replace function dq.top_groups_final(state dq.top_groups_state)
returns dq.top_group[]
language sql
immutable
parallel safe
as $$
  select coalesce(state.groups, '{}')
$$;

create or replace aggregate dq.top_groups(bigint, text[]) (
  sfunc = dq.top_groups_step,
  stype = dq.top_groups_state,
  finalfunc = dq.top_groups_final,
  initcond = '(0,{})',
  parallel = safe
);

-- duplicates: rows beyond `maxPerKey` per key. NULLs group together, as GROUP
-- BY does (a unique index would let them through).
-- One pass: the table is grouped once (in parallel), and a single aggregate
-- over the groups yields every figure and the 5 largest groups. With `id`,
-- one more scan collects the sampled groups' ids, all five at once.
-- Incremental: only keys that rows changed since the watermark carry are
-- counted, each over the whole table through an index on the key columns.
create or replace function dq.kind_duplicates(spec jsonb)
returns jsonb
language plpgsql
stable
-- Duplicate keys travel as text between the grouping and the sample ids:
-- shortest-exact float output keeps a float8 key equal to itself.
set extra_float_digits = 3
as $$
declare
  source text := dq.relation_sql(spec ->> 'table', 'table');
  predicate text := dq.expression_sql(source, spec ->> 'where', 'where', required => false, is_predicate => true) || ' and ' || dq.scan_guard();
  max_per_key bigint := coalesce((spec ->> 'maxPerKey')::bigint, 1);
  id_column text := dq.expression_sql(source, spec ->> 'id', 'id', required => false);
  plan jsonb;
  exprs text[];
  key_list text;
  group_list text;
  key_text text;
  key_types text[];
  groups_sql text;
  stats record;
  sample jsonb;
  details jsonb;
begin
  if jsonb_typeof(spec -> 'columns') is distinct from 'array' or jsonb_array_length(spec -> 'columns') = 0 then
    raise exception using errcode = '22023',
      message = 'check field "columns" must be a non-empty array of column names or SQL expressions';
  end if;
  if max_per_key < 1 then
    raise exception using errcode = '22023', message = 'check field "maxPerKey" must be at least 1';
  end if;
  select array_agg(dq.expression_sql(source, c, format('columns[%s]', n - 1)) order by n)
    into exprs
  from jsonb_array_elements_text(spec -> 'columns') with ordinality as t(c, n);
  plan := dq.incremental_plan(spec, source);

  select string_agg(format('(%s) as dq_k%s', e, n), ', ' order by n),
         string_agg(n::text, ', ' order by n),
         format('array[%s]::text[]', string_agg(format('dq_k%s::text', n), ', ' order by n))
    into key_list, group_list, key_text
  from unnest(exprs) with ordinality as t(e, n);

  if plan is null or plan ->> 'scope' = 'full' then
    groups_sql := format('select %s, count(*) as dq_n, null::bigint as dq_changed from %s as dq_t where (%s) group by %s',
      key_list, source, predicate, group_list);
  else
    groups_sql := dq.changed_key_groups_sql(source, predicate, plan ->> 'filter', exprs);
  end if;

  execute format($q$
    select count(*) as keys,
           coalesce(sum(dq_n), 0) as rows,
           count(*) filter (where dq_n > %2$s) as groups,
           coalesce(sum(dq_n - %2$s) filter (where dq_n > %2$s), 0) as extra_rows,
           coalesce(max(dq_n), 0) as largest_group,
           dq.top_groups(dq_n, %3$s) filter (where dq_n > %2$s) as top,
           sum(dq_changed) as changed_rows
    from (%1$s) g
  $q$, groups_sql, max_per_key, key_text)
  into stats;

  -- Each sampled key back in its own type, labelled as the catalog spells it.
  select array_agg(format_type(dq.expression_type(source, e), null) order by n) into key_types
  from unnest(exprs) with ordinality as t(e, n);
  execute format(
    'select coalesce(jsonb_agg(jsonb_build_object(%s, ''rows'', s.n) order by s.n desc, s.ord), ''[]'') from unnest($1) s',
    (select string_agg(format('%L, (s.ord[%s])::%s', dq.column_label(exprs[n]), n, key_types[n]), ', ' order by n)
     from generate_series(1, cardinality(exprs)) n))
    into sample using stats.top;
  if id_column is not null and cardinality(stats.top) > 0 then
    sample := dq.duplicate_group_ids(source, predicate, exprs, key_types, id_column, stats.top, sample);
  end if;

  details := jsonb_build_object(
    'rows', stats.rows, 'keys', stats.keys, 'groups', stats.groups, 'extra_rows', stats.extra_rows,
    'largest_group', stats.largest_group, 'max_per_key', max_per_key,
    'unique_index', dq.has_unique_index((spec ->> 'table')::regclass, exprs));
  if plan is not null then
    details := details || dq.incremental_details(plan, source, predicate);
    if plan ->> 'scope' = 'incremental' then
      details := details || jsonb_build_object('changed_rows', coalesce(stats.changed_rows, 0));
    end if;
  end if;
  return jsonb_build_object('value', stats.extra_rows, 'details', details, 'sample', sample);
end
$$;

-- The groups (dq_k1.., dq_n, dq_changed) of every key that a changed row
-- carries, each counted over the whole table (dq_changed: how many of its
-- rows changed). Equality lets the planner probe an index on the key columns
-- once per changed key; NULL never equals NULL, so each pattern of NULL key
-- parts gets its own arm with IS NULL in their place (B-tree indexes answer
-- IS NULL too). Up to 4 key parts every pattern gets an arm (an arm no
-- changed key fits costs a filter over the changed keys); with more, the
-- patterns present are read first.
create or replace function dq.changed_key_groups_sql(source text, predicate text, changed text, exprs text[])
returns text
language plpgsql
stable
as $$
declare
  parts int := cardinality(exprs);
  patterns jsonb;
  pattern jsonb;
  arms text[] := '{}';
begin
  if parts <= 4 then
    select jsonb_agg((select jsonb_agg(b & (1 << (k - 1)) <> 0 order by k) from generate_series(1, parts) k))
      into patterns
    from generate_series(0, (1 << parts) - 1) b;
  else
    execute format('select coalesce(jsonb_agg(distinct to_jsonb(array[%s])), ''[]'') from %s as dq_t where (%s) and (%s)',
      (select string_agg(format('(%s) is null', e), ', ' order by n) from unnest(exprs) with ordinality as t(e, n)),
      source, predicate, changed)
      into patterns;
  end if;
  for pattern in select p from jsonb_array_elements(patterns) p loop
    arms := arms || (
      select format(
        'select %s, c.dq_n, tk.dq_changed from dq_touched tk, lateral (select count(*) as dq_n from %s as dq_t where (%s) and %s) c where %s',
        string_agg(format('tk.dq_k%s', n), ', ' order by n), source, predicate,
        string_agg(case when (pattern ->> (n - 1)::int)::boolean then format('(%s) is null', exprs[n])
                        else format('(%s) = tk.dq_k%s', exprs[n], n) end, ' and ' order by n),
        string_agg(format('tk.dq_k%s is %snull', n,
                          case when (pattern ->> (n - 1)::int)::boolean then '' else 'not ' end), ' and ' order by n))
      from generate_series(1, parts) n);
  end loop;
  if cardinality(arms) = 0 then
    -- Nothing changed: no groups.
    return format('select %s, 0::bigint as dq_n, 0::bigint as dq_changed from %s as dq_t where false',
      (select string_agg(format('(%s) as dq_k%s', e, n), ', ' order by n) from unnest(exprs) with ordinality as t(e, n)),
      source);
  end if;
  return format('with dq_touched as materialized (select %s, count(*) as dq_changed from %s as dq_t where (%s) and (%s) group by %s) %s',
    (select string_agg(format('(%s) as dq_k%s', e, n), ', ' order by n) from unnest(exprs) with ordinality as t(e, n)),
    source, predicate, changed,
    (select string_agg(n::text, ', ') from generate_series(1, parts) n),
    array_to_string(arms, ' union all '));
end
$$;

-- Adds up to 5 row ids to each sampled duplicate group (`sample`, in the
-- order of `top`), in one scan for all the groups: each group is found again
-- by its key, cast back to the key's own type from the text the sample kept.
-- Equality and IS NULL (rather than IS NOT DISTINCT FROM) let an index on the
-- key columns answer it.
create or replace function dq.duplicate_group_ids(source text, predicate text, exprs text[], key_types text[],
                                                  id_column text, top dq.top_group[], sample jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  matches text[];
  ids jsonb;
begin
  select array_agg((
           select string_agg(case when g.ord[k] is null then format('(%s) is null', exprs[k])
                                  else format('(%s) = %L::%s', exprs[k], g.ord[k], key_types[k]) end,
                             ' and ' order by k)
           from generate_series(1, cardinality(exprs)) k) order by g.n desc, g.ord)
    into matches
  from unnest(top) g;

  execute format($q$
    select coalesce(jsonb_object_agg(dq_g, ids), '{}')
    from (
      select dq_g, jsonb_agg(dq_id order by dq_id) as ids
      from (
        select dq_g, dq_id, row_number() over (partition by dq_g order by dq_id) as dq_rank
        from (select case %1$s end as dq_g, (%2$s) as dq_id
              from %3$s as dq_t where (%4$s) and (%5$s)) m
      ) ranked
      where dq_rank <= 5
      group by dq_g
    ) per_group
  $q$,
    (select string_agg(format('when %s then %s', m, i - 1), ' ' order by i) from unnest(matches) with ordinality as t(m, i)),
    id_column, source, predicate,
    (select string_agg(format('(%s)', m), ' or ') from unnest(matches) m))
  into ids;

  return (select jsonb_agg(e.entry || jsonb_build_object('ids', coalesce(ids -> (e.i - 1)::text, '[]'::jsonb)) order by e.i)
          from jsonb_array_elements(sample) with ordinality as e(entry, i));
end
$$;

-- The indexes an incremental duplicates check needs (dq.index_advice).
create or replace function dq.kind_duplicates_indexes(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  source text := dq.relation_sql(spec ->> 'table', 'table');
  column_sql text := spec #>> '{incremental,column}';
  pos integer;
begin
  perform dq.expression_sql(source, column_sql, 'incremental.column');
  for pos in 0 .. coalesce(jsonb_array_length(spec -> 'columns'), 0) - 1 loop
    perform dq.expression_sql(source, spec -> 'columns' ->> pos, format('columns[%s]', pos));
  end loop;
  return jsonb_build_array(
    jsonb_build_object('table', spec ->> 'table', 'columns', jsonb_build_array(column_sql),
                       'purpose', 'find the rows changed since the last run'),
    jsonb_build_object('table', spec ->> 'table', 'columns', spec -> 'columns',
                       'purpose', 'count the rows of each changed key in the whole table'));
end
$$;

-- What a duplicates check reads (27_unchanged.sql): its table, through columns, where and id.
create or replace function dq.kind_duplicates_reads(spec jsonb)
returns jsonb
language sql
stable
as $$
  select dq.table_reads(spec, jsonb_build_object('where', spec ->> 'where', 'id', spec ->> 'id')
                        || dq.array_fields(spec, 'columns'))
$$;
