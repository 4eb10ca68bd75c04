-- dq-monitor: the stale_keys kind (checks/kinds/stale_keys).

-- stale_keys: stored derived key vs its canonical formula recomputed now.
-- The formula is evaluated once per row in a scan that keeps its parallel
-- workers: the three counts are packed into one sum (missing x 1, unexpected
-- x 2^31, mismatched x 2^62; sum() of bigint accumulates in 128 bits), because
-- a FILTER clause per count would evaluate the formula once per clause, and a
-- subquery fence (OFFSET 0) that evaluates it once runs without workers.
-- With `sample`, an estimate from TABLESAMPLE instead (dq.stale_keys_sampled).
create or replace function dq.kind_stale_keys(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  source text := dq.relation_sql(spec ->> 'table', 'table');
  key_expr text := dq.expression_sql(source, spec ->> 'key', 'key');
  formula text := dq.expression_sql(source, spec ->> 'formula', 'formula');
  id_expr text := dq.expression_sql(source, coalesce(spec ->> 'id', 'id'), 'id');
  predicate text := dq.expression_sql(source, spec ->> 'where', 'where', required => false, is_predicate => true) || ' and ' || dq.scan_guard();
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

-- The index an incremental stale_keys check needs (dq.index_advice).
create or replace function dq.kind_stale_keys_indexes(spec jsonb)
returns jsonb
language sql
stable
as $$
  select dq.changed_rows_index(spec)
$$;

-- What a stale_keys check reads (27_unchanged.sql): its table, through key, formula, id and where.
create or replace function dq.kind_stale_keys_reads(spec jsonb)
returns jsonb
language sql
stable
as $$
  select dq.table_reads(spec, jsonb_build_object('key', spec ->> 'key', 'formula', spec ->> 'formula',
                                         'id', coalesce(spec ->> 'id', 'id'), 'where', spec ->> 'where'))
$$;
