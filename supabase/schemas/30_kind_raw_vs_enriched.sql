-- dq-monitor: the raw_vs_enriched kind (checks/kinds/raw_vs_enriched).

-- raw_vs_enriched: how many raw rows never produced an enriched row, split from
-- the expected collapse of several raw rows into one enriched row per key.
-- With `time`, only raw rows in [now() - window, now() - grace) count: younger
-- rows may still be in flight.
create or replace function dq.kind_raw_vs_enriched(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  raw text := dq.relation_sql(spec #>> '{raw,table}', 'raw.table');
  raw_key text := dq.expression_sql(raw, spec #>> '{raw,key}', 'raw.key');
  raw_time text := dq.expression_sql(raw, spec #>> '{raw,time}', 'raw.time', required => false);
  raw_where text := dq.expression_sql(raw, spec #>> '{raw,where}', 'raw.where', required => false, is_predicate => true)
                    || ' and ' || dq.scan_guard();
  enriched text := dq.relation_sql(spec #>> '{enriched,table}', 'enriched.table');
  enriched_key text := dq.expression_sql(enriched, spec #>> '{enriched,key}', 'enriched.key');
  enriched_where text := dq.expression_sql(enriched, spec #>> '{enriched,where}', 'enriched.where', required => false, is_predicate => true);
  window_start interval := dq.interval_value(spec ->> 'window', 'window');
  grace interval := dq.interval_value(spec ->> 'grace', 'grace');
  time_filter text := 'true';
  result jsonb;
begin
  if raw_time is null and (window_start is not null or grace is not null) then
    raise exception using errcode = '22023',
      message = 'check fields "window" and "grace" need "raw.time" (the column that says when a raw row arrived)';
  end if;
  if raw_time is not null then
    time_filter := format('(%1$s) >= now() - %2$L::interval and (%1$s) < now() - %3$L::interval',
      raw_time, coalesce(window_start, interval '100 years'), coalesce(grace, interval '0'));
  end if;

  execute format($q$
    with raw_keys as materialized (
      select (%1$s) as dq_key, count(*) as dq_n
      from %2$s as dq_raw
      where (%3$s) and (%4$s)
      group by 1
    ),
    lost as materialized (
      select r.dq_key, r.dq_n from raw_keys r
      where r.dq_key is not null
        and not exists (select 1 from %5$s as dq_enr where (%6$s) = r.dq_key and (%7$s))
    ),
    totals as (
      select coalesce(sum(dq_n), 0) as raw_rows,
             count(dq_key) as distinct_keys,
             coalesce(sum(dq_n) filter (where dq_key is null), 0) as null_key_rows
      from raw_keys
    ),
    losses as (
      select count(*) as lost_keys, coalesce(sum(dq_n), 0) as lost_key_rows from lost
    )
    select jsonb_build_object(
      'value', lost_key_rows + null_key_rows,
      'details', jsonb_build_object(
        'raw_rows', raw_rows,
        'distinct_keys', distinct_keys,
        'null_key_rows', null_key_rows,
        'collapsed', raw_rows - distinct_keys - null_key_rows,
        'matched_keys', distinct_keys - lost_keys,
        'lost_keys', lost_keys,
        'lost_rows', lost_key_rows + null_key_rows,
        'ratio', dq.ratio(lost_key_rows + null_key_rows, raw_rows)),
      'sample', coalesce((
        select jsonb_agg(s.j order by s.ord) from (
          select jsonb_build_object(%8$L, dq_key, 'rows', dq_n) as j,
                 row_number() over (order by dq_key is null, dq_n desc, dq_key::text) as ord
          from (select dq_key, dq_n from lost
                union all
                select null, null_key_rows from totals where null_key_rows > 0) l
          order by ord limit 5) s), '[]'))
    from totals, losses
  $q$, raw_key, raw, raw_where, time_filter, enriched, enriched_key, enriched_where, dq.column_label(raw_key))
  into result;
  return result;
end
$$;
