-- dq-monitor: checks at the compute floor, incremental runs, sampled estimates.
--
-- Replaces the duplicates, stale_keys and coverage_gap check functions of
-- 20261123000002 (which has landed on users' databases and is never edited)
-- with versions that read each row once and keep PostgreSQL's parallel
-- workers, and adds:
--   - incremental runs (`incremental: { column, fullEvery, lookback? }` on
--     duplicates, stale_keys and coverage_gap): between full runs, only the
--     rows whose `column` moved past the last successful run's watermark are
--     checked, joined against the whole table through its indexes. The
--     watermark lives in that result's details in dq.results, so history is
--     the only state.
--   - sampled stale_keys (`sample: { percent }`): an estimate from TABLESAMPLE
--     SYSTEM with a 95 % error bound.
--   - dq.index_advice(spec): the indexes an incremental check needs, and the
--     CREATE INDEX for each one that is missing (`dq validate --db` prints it).
--
-- Idempotent, like every migration. 20261123000006 re-applies the SET
-- clauses of dq.run_check after this file re-creates it.

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

-- The type of an expression over `source`, from the plan alone (no row read).
create or replace function dq.expression_type(source text, expr text)
returns regtype
language plpgsql
stable
as $$
declare
  found regtype;
begin
  execute format('select pg_typeof((select (%s) from %s as dq_t limit 0))', expr, source) into found;
  return found;
end
$$;

-- The incremental plan of a check, or NULL when it has no `incremental`.
-- Reads the check's latest successful result (by spec->>'name') in
-- dq.results: a full run happens when there is none, when it has no
-- watermark, when the check's definition changed since (spec_hash), or when
-- the last full run is `fullEvery` old; otherwise the run covers rows with
-- `column >= watermark - lookback`. The lookback (default 10 minutes)
-- re-reads rows written by transactions that were still open at the last run:
-- their updated_at is older than the watermark they commit after.
-- Returns { scope, filter (SQL predicate, 'true' on full runs), column, type,
-- since, full_at, spec_hash, previous_watermark }.
create or replace function dq.incremental_plan(spec jsonb, source text, field text default 'incremental')
returns jsonb
language plpgsql
stable
as $$
declare
  settings jsonb := spec -> 'incremental';
  column_sql text;
  column_type regtype;
  full_every interval;
  lookback interval;
  spec_hash text;
  previous jsonb;
  watermark jsonb;
  full_at timestamptz;
  since jsonb;
begin
  if settings is null or jsonb_typeof(settings) = 'null' then
    return null;
  end if;
  if jsonb_typeof(settings) <> 'object' then
    raise exception using errcode = '22023',
      message = format('check field "%s" must be an object { column, fullEvery?, lookback? }', field);
  end if;
  column_sql := dq.expression_sql(source, settings ->> 'column', field || '.column');
  column_type := dq.expression_type(source, column_sql);
  if column_type not in ('timestamp with time zone'::regtype, 'timestamp without time zone'::regtype, 'date'::regtype) then
    raise exception using errcode = '42804',
      message = format('check field "%s.column": %s is %s; incremental runs need a timestamp or date column that every write moves forward (e.g. updated_at)',
        field, column_sql, format_type(column_type, null));
  end if;
  full_every := coalesce(dq.interval_value(settings ->> 'fullEvery', field || '.fullEvery'), interval '24 hours');
  lookback := coalesce(dq.interval_value(settings ->> 'lookback', field || '.lookback'), interval '10 minutes');
  -- Only what changes the measurement: editing a threshold or an owner keeps
  -- the watermark, editing a formula or a where clause forces a full run.
  spec_hash := md5((spec - array['name', 'description', 'threshold', 'severity', 'owner', 'tags',
                                 'schedule', 'timeoutSeconds', 'enabled', 'repeatInterval'])::text);

  select r.details into previous
  from dq.results r
  where r.check_name = spec ->> 'name' and r.status <> 'error'
  order by r.id desc -- recording order: a client clock running ahead cannot pin it
  limit 1;

  watermark := previous -> 'watermark';
  full_at := (previous ->> 'full_at')::timestamptz;
  if previous is null or previous ->> 'spec_hash' is distinct from spec_hash
     or watermark is null or jsonb_typeof(watermark) = 'null' or full_at is null
     -- A little slack, so that an hourly schedule's daily full run does not
     -- slip by an hour because this tick came a few seconds early.
     or now() >= full_at + full_every - least(full_every / 20, interval '10 minutes') then
    return jsonb_build_object('scope', 'full', 'filter', 'true', 'column', column_sql,
      'type', format_type(column_type, null), 'since', null, 'full_at', to_jsonb(now()),
      'spec_hash', spec_hash, 'previous_watermark', watermark);
  end if;

  execute format('select to_jsonb((%L::%s - %L::interval)::%s)',
    watermark #>> '{}', column_type, lookback, column_type) into since;
  return jsonb_build_object('scope', 'incremental',
    'filter', format('(%s) >= %L::%s', column_sql, since #>> '{}', column_type),
    'column', column_sql, 'type', format_type(column_type, null), 'since', since,
    'full_at', to_jsonb(full_at), 'spec_hash', spec_hash, 'previous_watermark', watermark);
end
$$;

-- The bookkeeping an incremental check adds to its details: scope, since,
-- the new watermark (the newest `column` value among the rows this run
-- covered, never in the future, else the previous one), full_at and
-- spec_hash. The max comes from the column's index (a backward scan that
-- stops at the first row), not from another pass over the table.
create or replace function dq.incremental_details(plan jsonb, source text, predicate text)
returns jsonb
language plpgsql
stable
as $$
declare
  watermark jsonb;
begin
  execute format('select to_jsonb(max(%1$s)) from %2$s as dq_t where (%3$s) and (%4$s) and (%1$s) <= now()',
    plan ->> 'column', source, predicate, plan ->> 'filter')
    into watermark;
  if watermark is null or jsonb_typeof(watermark) = 'null' then
    watermark := coalesce(plan -> 'previous_watermark', 'null'::jsonb);
  end if;
  return jsonb_build_object(
    'scope', plan -> 'scope', 'since', plan -> 'since', 'watermark', watermark,
    'full_at', plan -> 'full_at', 'spec_hash', plan -> 'spec_hash');
end
$$;

-- duplicates: rows beyond `maxPerKey` per key. NULLs group together, as GROUP
-- BY does (a unique index would let them through).
-- One pass: the table is grouped once (in parallel), and a single aggregate
-- over the groups yields every figure and the 5 largest groups. With `id`,
-- one more scan collects the sampled groups' ids, all five at once.
-- Incremental: only keys that rows changed since the watermark carry are
-- counted, each over the whole table through an index on the key columns.
create or replace function dq.check_duplicates(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  source text := dq.relation_sql(spec ->> 'table', 'table');
  predicate text := dq.expression_sql(source, spec ->> 'where', 'where', false, true) || ' and ' || dq.scan_guard();
  max_per_key bigint := coalesce((spec ->> 'maxPerKey')::bigint, 1);
  id_column text := dq.expression_sql(source, spec ->> 'id', 'id', false);
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

-- stale_keys: stored derived key vs its canonical formula recomputed now.
-- The formula is evaluated once per row in a scan that keeps its parallel
-- workers: the three counts are packed into one sum (missing x 1, unexpected
-- x 2^31, mismatched x 2^62; sum() of bigint accumulates in 128 bits), because
-- a FILTER clause per count would evaluate the formula once per clause, and a
-- subquery fence (OFFSET 0) that evaluates it once runs without workers.
-- With `sample`, an estimate from TABLESAMPLE instead (dq.stale_keys_sampled).
create or replace function dq.check_stale_keys(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  source text := dq.relation_sql(spec ->> 'table', 'table');
  key_expr text := dq.expression_sql(source, spec ->> 'key', 'key');
  formula text := dq.expression_sql(source, spec ->> 'formula', 'formula');
  id_expr text := dq.expression_sql(source, coalesce(spec ->> 'id', 'id'), 'id');
  predicate text := dq.expression_sql(source, spec ->> 'where', 'where', false, true) || ' and ' || dq.scan_guard();
  plan jsonb := dq.incremental_plan(spec, source);
  scope_filter text := 'true';
  stats record;
  mismatched numeric;
  unexpected numeric;
  missing numeric;
  sample jsonb := '[]'::jsonb;
  stale bigint;
  details jsonb;
begin
  if spec ? 'sample' and jsonb_typeof(spec -> 'sample') <> 'null' then
    if plan is not null then
      raise exception using errcode = '22023',
        message = 'check fields "sample" and "incremental" do not go together: a sample estimates the whole table, an incremental run checks changed rows exactly';
    end if;
    return dq.stale_keys_sampled(spec, source, key_expr, formula, id_expr, predicate);
  end if;
  if plan is not null then
    scope_filter := plan ->> 'filter';
  end if;

  execute format($q$
    select count(*) as rows,
           coalesce(sum(case when (%1$s) is null then num_nonnulls((%2$s))::bigint
                             else coalesce((not ((%2$s) = (%1$s)))::int::bigint * 4611686018427387904, 2147483648)
                        end), 0) as packed
    from %3$s as dq_t where (%4$s) and (%5$s)
  $q$, key_expr, formula, source, predicate, scope_filter)
  into stats;

  if stats.rows < 2147483648 then
    mismatched := div(stats.packed, 4611686018427387904);
    unexpected := div(stats.packed - mismatched * 4611686018427387904, 2147483648);
    missing := stats.packed - mismatched * 4611686018427387904 - unexpected * 2147483648;
  else
    -- 2^31 rows or more could carry one packed count into the next: count
    -- them one FILTER each (the formula evaluated per clause) instead.
    execute format($q$
      select count(*) filter (where (%1$s) is not null and (%2$s) is not null and (%1$s) <> (%2$s)),
             count(*) filter (where (%1$s) is null and (%2$s) is not null),
             count(*) filter (where (%1$s) is not null and (%2$s) is null)
      from %3$s as dq_t where (%4$s) and (%5$s)
    $q$, key_expr, formula, source, predicate, scope_filter)
    into mismatched, missing, unexpected;
  end if;

  stale := mismatched + missing + unexpected;
  if stale > 0 then
    -- Stops at the 5th offender: a single row when stale keys are common.
    execute format($q$
      select coalesce(jsonb_agg(jsonb_build_object(%1$L, dq_id, 'stored', dq_stored, 'expected', dq_expected)), '[]')
      from (
        select (%2$s) as dq_id, (%3$s) as dq_stored, (%4$s) as dq_expected
        from %5$s as dq_t
        where (%6$s) and (%7$s) and (%3$s) is distinct from (%4$s)
        limit 5
      ) offenders
    $q$, dq.column_label(id_expr), id_expr, key_expr, formula, source, predicate, scope_filter)
    into sample;
  end if;

  details := jsonb_build_object(
    'rows', stats.rows, 'mismatched', mismatched, 'missing', missing, 'unexpected', unexpected,
    'ratio', dq.ratio(stale, stats.rows));
  if plan is not null then
    details := details || dq.incremental_details(plan, source, predicate);
  end if;
  return jsonb_build_object('value', stale, 'details', details, 'sample', sample);
end
$$;

-- stale_keys with `sample: { percent }`: reads about `percent` % of the
-- table's pages (TABLESAMPLE SYSTEM) and scales the counts up. The error
-- bound is a 95 % confidence half-width for the ratio, from the spread
-- between sampled pages (rows on one page are not independent: a binomial
-- bound over rows would be too narrow). The pages are chosen from the
-- transaction's start time, so a run's counts and offenders agree.
create or replace function dq.stale_keys_sampled(spec jsonb, source text, key_expr text, formula text,
                                                 id_expr text, predicate text)
returns jsonb
language plpgsql
stable
as $$
declare
  percent numeric;
  seed bigint := (extract(epoch from now()) * 1000)::bigint % 2147483647;
  sampling text;
  stats record;
  scale numeric;
  ratio numeric;
  variance numeric;
  error_bound numeric;
  sample jsonb := '[]'::jsonb;
begin
  begin
    percent := (spec #>> '{sample,percent}')::numeric;
  exception when others then
    percent := null;
  end;
  if percent is null or percent <= 0 or percent > 100 then
    raise exception using errcode = '22023',
      message = format('check field "sample.percent" must be a number above 0 and at most 100, got %s', coalesce(spec #>> '{sample,percent}', 'nothing'));
  end if;
  if exists (select 1 from pg_class c where c.oid = (spec ->> 'table')::regclass and c.relkind not in ('r', 'p', 'm')) then
    raise exception using errcode = '22023',
      message = format('check field "sample": TABLESAMPLE reads a table''s pages, and "%s" is a view or a foreign table: sample the table under it, or drop "sample"', spec ->> 'table');
  end if;
  sampling := format('%s as dq_t tablesample system (%s) repeatable (%s)', source, percent, seed);

  execute format($q$
    with pages as (
      select count(*) as n,
             coalesce(sum(case when (%1$s) is null then num_nonnulls((%2$s))::bigint
                               else coalesce((not ((%2$s) = (%1$s)))::int::bigint * 4611686018427387904, 2147483648)
                          end), 0) as packed
      from %3$s
      where (%4$s)
      group by dq_t.tableoid, (dq_t.ctid::text::point)[0]
    ),
    split as (
      select n, div(packed, 4611686018427387904) as mismatched,
             div(mod(packed, 4611686018427387904), 2147483648) as unexpected,
             mod(packed, 2147483648) as missing
      from pages
    )
    select count(*) as pages, coalesce(sum(n), 0) as rows,
           coalesce(sum(mismatched), 0) as mismatched, coalesce(sum(missing), 0) as missing,
           coalesce(sum(unexpected), 0) as unexpected,
           coalesce(sum((mismatched + missing + unexpected) ^ 2), 0) as yy,
           coalesce(sum((mismatched + missing + unexpected) * n), 0) as xy,
           coalesce(sum(n ^ 2), 0) as xx
    from split
  $q$, key_expr, formula, sampling, predicate)
  into stats;

  scale := 100 / percent;
  ratio := case when stats.rows = 0 then 0
                else (stats.mismatched + stats.missing + stats.unexpected) / stats.rows end;
  if stats.pages >= 2 and stats.rows > 0 then
    -- Ratio estimator over pages (clusters): n/(n-1) * sum((y - r x)^2) / (sum x)^2, with the
    -- finite-population correction (1 - f).
    variance := (1 - percent / 100) * stats.pages / (stats.pages - 1)
                * greatest(stats.yy - 2 * ratio * stats.xy + ratio ^ 2 * stats.xx, 0) / stats.rows ^ 2;
    error_bound := round(1.96 * sqrt(variance), 6);
  end if;

  if stats.mismatched + stats.missing + stats.unexpected > 0 then
    execute format($q$
      select coalesce(jsonb_agg(jsonb_build_object(%1$L, dq_id, 'stored', dq_stored, 'expected', dq_expected)), '[]')
      from (
        select (%2$s) as dq_id, (%3$s) as dq_stored, (%4$s) as dq_expected
        from %5$s
        where (%6$s) and (%3$s) is distinct from (%4$s)
        limit 5
      ) offenders
    $q$, dq.column_label(id_expr), id_expr, key_expr, formula, sampling, predicate)
    into sample;
  end if;

  return jsonb_build_object(
    -- The sum of the parts as shown, so value and split always agree.
    'value', round(stats.mismatched * scale) + round(stats.missing * scale) + round(stats.unexpected * scale),
    'details', jsonb_build_object(
      'rows', round(stats.rows * scale),
      'mismatched', round(stats.mismatched * scale),
      'missing', round(stats.missing * scale),
      'unexpected', round(stats.unexpected * scale),
      'ratio', round(ratio, 6),
      'scope', 'sample',
      'sample_percent', percent,
      'sampled_rows', stats.rows,
      'sampled_pages', stats.pages,
      'ratio_error', error_bound),
    'sample', sample);
end
$$;

-- coverage_gap: source rows whose key has no target row.
-- When a unique index covers the target key, each source row matches at most
-- one target row, so a single LEFT JOIN pass counts both the source rows and
-- the missing ones (as fast as the bare anti-join, or faster). Otherwise NOT
-- EXISTS lets the planner use an anti-join (and the target's index on the
-- key), and the source is counted by a plain scan beside it; the missing keys
-- are kept (materialised) as the anti-join finds them, so the sample costs no
-- second anti-join.
-- Incremental: only source rows changed since the watermark, each looked up
-- in the whole target.
create or replace function dq.check_coverage_gap(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  source text := dq.relation_sql(spec #>> '{source,table}', 'source.table');
  source_key text := dq.expression_sql(source, spec #>> '{source,key}', 'source.key');
  source_where text := dq.expression_sql(source, spec #>> '{source,where}', 'source.where', false, true)
                       || ' and ' || dq.scan_guard();
  target text := dq.relation_sql(spec #>> '{target,table}', 'target.table');
  target_key text := dq.expression_sql(target, spec #>> '{target,key}', 'target.key');
  target_where text := dq.expression_sql(target, spec #>> '{target,where}', 'target.where', false, true);
  plan jsonb := dq.incremental_plan(spec, source);
  scope_filter text := 'true';
  source_rows_sql text;
  missing_rows_sql text;
  source_rows bigint;
  missing bigint;
  sample jsonb := '[]'::jsonb;
  details jsonb;
begin
  if plan is not null then
    scope_filter := plan ->> 'filter';
  end if;
  -- The source key is computed in its own scope, so a column name that exists
  -- in both tables still binds to the source.
  source_rows_sql := format('select (%s) as dq_key from %s as dq_src where (%s) and (%s)',
    source_key, source, source_where, scope_filter);
  missing_rows_sql := format(
    'select dq_s.dq_key from (%s) dq_s where not exists (select 1 from %s as dq_tgt where (%s) = dq_s.dq_key and (%s))',
    source_rows_sql, target, target_key, target_where);

  if dq.has_unique_index((spec #>> '{target,table}')::regclass, array[target_key]) then
    execute format($q$
      select count(*), count(*) filter (where dq_m.dq_found is null)
      from (%1$s) dq_s
      left join (select (%3$s) as dq_tkey, true as dq_found from %2$s as dq_tgt where (%4$s)) dq_m
        on dq_m.dq_tkey = dq_s.dq_key
    $q$, source_rows_sql, target, target_key, target_where)
    into source_rows, missing;
    if missing > 0 then
      -- Stops at the 5th missing row: a few rows when gaps are common.
      execute format('select coalesce(jsonb_agg(jsonb_build_object(%L, dq_key)), ''[]'') from (%s limit 5) m',
        dq.column_label(source_key), missing_rows_sql)
        into sample;
    end if;
  elsif plan ->> 'scope' = 'incremental' then
    -- A few changed rows, fetched once through the column's index for both
    -- counts (a CTE scan would cost a full run its parallel workers).
    execute format($q$
      with dq_s as materialized (%1$s),
      dq_missing as materialized (
        select dq_s.dq_key from dq_s
        where not exists (select 1 from %2$s as dq_tgt where (%3$s) = dq_s.dq_key and (%4$s)))
      select (select count(*) from dq_s), (select count(*) from dq_missing),
             coalesce((select jsonb_agg(jsonb_build_object(%5$L, dq_key))
                       from (select dq_key from dq_missing limit 5) m), '[]'::jsonb)
    $q$, source_rows_sql, target, target_key, target_where, dq.column_label(source_key))
    into source_rows, missing, sample;
  else
    execute format($q$
      with dq_missing as materialized (%2$s)
      select (select count(*) from (%1$s) dq_s),
             (select count(*) from dq_missing),
             coalesce((select jsonb_agg(jsonb_build_object(%3$L, dq_key))
                       from (select dq_key from dq_missing limit 5) m), '[]'::jsonb)
    $q$, source_rows_sql, missing_rows_sql, dq.column_label(source_key))
    into source_rows, missing, sample;
  end if;

  details := jsonb_build_object(
    'source_rows', source_rows, 'missing', missing, 'ratio', dq.ratio(missing, source_rows));
  if plan is not null then
    details := details || dq.incremental_details(plan, source, source_where);
  end if;
  return jsonb_build_object('value', missing, 'details', details, 'sample', sample);
end
$$;

-- The deparsed form of expressions over `rel` (EXPLAIN VERBOSE spells them
-- the way pg_get_indexdef does), so that an index can be matched however the
-- catalog spells its columns. VOLATILE only because PL/pgSQL refuses EXPLAIN
-- in a non-volatile function; it reads the catalog and nothing else.
create or replace function dq.deparsed_expressions(rel regclass, exprs text[])
returns text[]
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  plan jsonb;
  result text[];
begin
  execute format('explain (verbose, format json) select %s from only %s as dq_t',
    (select string_agg(format('(%s)', e), ', ') from unnest(exprs) e), rel::text)
    into plan;
  select array_agg(distinct dq.canonical_expression(replace(o, 'dq_t.', ''))) into result
  from jsonb_array_elements_text(plan -> 0 -> 'Plan' -> 'Output') o;
  return result;
end
$$;

-- Does a valid, non-partial B-tree index on `rel` start with exactly these
-- expressions (in any order)? That is what an equality lookup on all of them,
-- or a range scan on one, can use.
create or replace function dq.has_leading_index(rel regclass, exprs text[])
returns boolean
language plpgsql
volatile
set search_path = pg_catalog
as $$
declare
  wanted text[] := dq.deparsed_expressions(rel, exprs);
begin
  return exists (
    select 1
    from pg_index i
    join pg_class ic on ic.oid = i.indexrelid
    join pg_am am on am.oid = ic.relam
    where i.indrelid = rel and i.indisvalid and i.indpred is null and am.amname = 'btree'
      and i.indnkeyatts >= cardinality(wanted)
      and (select array_agg(distinct dq.canonical_expression(pg_get_indexdef(i.indexrelid, k, false)))
           from generate_series(1, cardinality(wanted)) k) operator(pg_catalog.@>) wanted
      and wanted operator(pg_catalog.@>)
          (select array_agg(distinct dq.canonical_expression(pg_get_indexdef(i.indexrelid, k, false)))
           from generate_series(1, cardinality(wanted)) k));
end
$$;

-- The indexes an incremental check needs to cost a fraction of a full run,
-- as a measurement: value = how many are missing, details.indexes = each one
-- ({ table, columns, purpose, present, create }), sample = the CREATE INDEX
-- statements to run. A check without `incremental` needs none. Reads no
-- rows; `dq validate --db` asks it through the port (Database.indexAdvice).
create or replace function dq.index_advice(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  needs jsonb := '[]'::jsonb;
  need jsonb;
  rel regclass;
  relkind "char";
  indexes jsonb := '[]'::jsonb;
  present boolean;
  create_sql text;
  column_sql text := spec #>> '{incremental,column}';
  changed_purpose text := 'find the rows changed since the last run';
  pos integer;
begin
  if spec is null or spec -> 'incremental' is null or jsonb_typeof(spec -> 'incremental') = 'null' then
    return jsonb_build_object('value', 0, 'details', jsonb_build_object('indexes', '[]'::jsonb), 'sample', '[]'::jsonb);
  end if;
  -- Every field is checked on its own first (a single expression that resolves
  -- in its table, named in the error), before any of it reaches SQL text.
  case spec ->> 'kind'
    when 'stale_keys', 'duplicates' then
      perform dq.expression_sql(dq.relation_sql(spec ->> 'table', 'table'), column_sql, 'incremental.column');
      for pos in 0 .. coalesce(jsonb_array_length(spec -> 'columns'), 0) - 1 loop
        perform dq.expression_sql(dq.relation_sql(spec ->> 'table', 'table'), spec -> 'columns' ->> pos,
                                  format('columns[%s]', pos));
      end loop;
    when 'coverage_gap' then
      perform dq.expression_sql(dq.relation_sql(spec #>> '{source,table}', 'source.table'), column_sql,
                                'incremental.column');
      perform dq.expression_sql(dq.relation_sql(spec #>> '{target,table}', 'target.table'),
                                spec #>> '{target,key}', 'target.key');
    else
      null;
  end case;
  case spec ->> 'kind'
    when 'stale_keys' then
      needs := jsonb_build_array(jsonb_build_object('table', spec ->> 'table', 'columns', jsonb_build_array(column_sql), 'purpose', changed_purpose));
    when 'duplicates' then
      needs := jsonb_build_array(
        jsonb_build_object('table', spec ->> 'table', 'columns', jsonb_build_array(column_sql), 'purpose', changed_purpose),
        jsonb_build_object('table', spec ->> 'table', 'columns', spec -> 'columns',
                           'purpose', 'count the rows of each changed key in the whole table'));
    when 'coverage_gap' then
      needs := jsonb_build_array(
        jsonb_build_object('table', spec #>> '{source,table}', 'columns', jsonb_build_array(column_sql), 'purpose', changed_purpose),
        jsonb_build_object('table', spec #>> '{target,table}', 'columns', jsonb_build_array(spec #>> '{target,key}'),
                           'purpose', 'look each changed source row up in the target'));
    else
      needs := '[]'::jsonb;
  end case;

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

-- The one entry point: dispatches on spec->>'kind'.
create or replace function dq.run_check(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
begin
  if spec is null or jsonb_typeof(spec) <> 'object' then
    raise exception using errcode = '22023', message = 'check spec must be a JSON object';
  end if;
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
  case spec ->> 'kind'
    when 'duplicates' then return dq.check_duplicates(spec);
    when 'stale_keys' then return dq.check_stale_keys(spec);
    when 'trigger' then return dq.check_trigger(spec);
    when 'coverage_gap' then return dq.check_coverage_gap(spec);
    when 'raw_vs_enriched' then return dq.check_raw_vs_enriched(spec);
    else
      raise exception using errcode = '22023',
        message = format('unknown check kind "%s" (expected duplicates, stale_keys, trigger, coverage_gap or raw_vs_enriched)', spec ->> 'kind');
  end case;
end
$$;

-- Grants (20261123000004's dq.apply_grants): nothing in dq for PUBLIC, anon
-- or authenticated; service_role and dq_monitor may call every function
-- above.
-- Duplicate keys travel as text between the grouping and the sample ids:
-- shortest-exact float output keeps a float8 key equal to itself.
alter function dq.check_duplicates(jsonb) set extra_float_digits = 3;

select dq.apply_grants();
