-- dq-monitor: the volume kind (checks/kinds/volume).

-- The volume test on bucket counts, newest first: counts[1] is bucket 0, the
-- one tested; counts[k + 1] is bucket k. Training: buckets 1.. that are
-- `period` apart (1; with seasonality 7 for days, 168 for hours), empty ones
-- included as zeros, a bucket anomalous against the others left out
-- (leave_out: only the detection-quality test turns it off, to show why).
-- options: dq.anomaly_settings. The test itself is dq.anomaly_test.
create or replace function dq.volume_test(counts numeric[], period integer, options jsonb,
                                          leave_out boolean default true)
returns jsonb
language sql
immutable
parallel safe
set search_path = pg_catalog
as $$
  select dq.anomaly_test(counts[1],
    array(select c from unnest(counts) with ordinality as u(c, i)
          where i > 1 and (i - 1) % period = 0 order by i),
    (options ->> 'sensitivity')::numeric, options ->> 'direction', (options ->> 'minTraining')::integer,
    leave_out => leave_out, nonzero_only => true)
$$;

-- volume: rows per rolling time bucket, the latest against the ones before.
-- Buckets end at now() - grace: bucket 0 is (now - grace - size, now - grace],
-- bucket k the one k sizes before it (size: an hour or a day). Bucket 0 is
-- tested against training buckets 1..training (empty ones count as zero,
-- through generate_series), by dq.anomaly_test; with seasonality
-- "day_of_week", only against the same weekday (day buckets: every 7th) or
-- the same hour of the week (hour buckets: every 168th).
--
-- One query. Its only scan of the table is a range predicate on the bare
-- time column over the training period, so an index on that column serves
-- it and rows older than the training period are never read.
create or replace function dq.kind_volume(spec jsonb)
returns jsonb
language plpgsql
stable
as $$
declare
  source text := dq.relation_sql(spec ->> 'table', 'table');
  time_sql text := dq.expression_sql(source, spec ->> 'time', 'time');
  where_sql text := dq.expression_sql(source, spec ->> 'where', 'where', required => false, is_predicate => true)
                    || ' and ' || dq.scan_guard();
  options jsonb := dq.anomaly_settings(spec, '');
  bucket text := spec ->> 'bucket';
  bucket_size interval;
  grace interval := coalesce(dq.interval_value(spec ->> 'grace', 'grace'), interval '0');
  period integer := 1;
  training integer;
  time_type regtype;
  end_at timestamptz;
  result jsonb;
begin
  if bucket is null or bucket not in ('hour', 'day') then
    raise exception using errcode = '22023',
      message = format('check field "bucket" must be "hour" or "day", got %s', coalesce('"' || bucket || '"', 'nothing'));
  end if;
  bucket_size := case bucket when 'hour' then interval '1 hour' else interval '1 day' end;
  if grace < interval '0' then
    raise exception using errcode = '22023', message = 'check field "grace" must not be negative';
  end if;
  time_type := dq.expression_type(source, time_sql);
  if time_type not in ('timestamp with time zone'::regtype, 'timestamp without time zone'::regtype, 'date'::regtype) then
    raise exception using errcode = '42804',
      message = format('check field "time": %s is %s; volume counts rows by a timestamp or date column (when each row arrived)',
        time_sql, format_type(time_type, null));
  end if;
  if options ->> 'seasonality' = 'day_of_week' then
    period := case bucket when 'hour' then 168 else 7 end;
  end if;
  begin
    training := coalesce((spec ->> 'training')::integer,
      case when period > 1 then 8 * period when bucket = 'hour' then 168 else 28 end);
  exception when others then
    raise exception using errcode = '22023',
      message = format('check field "training" must be a whole number of buckets: %s', sqlerrm);
  end;
  if training / period < (options ->> 'minTraining')::integer then
    raise exception using errcode = '22023',
      message = format('check field "training": %s buckets give %s to compare with (every %sth with seasonality "day_of_week"), fewer than minTraining (%s); give at least %s',
        training, training / period, period, options ->> 'minTraining', period * (options ->> 'minTraining')::integer);
  end if;
  end_at := now() - grace;

  execute format($q$
    with counts as (
      select b.k, coalesce(c.n, 0)::numeric as n
      from generate_series(0, $3) as b(k)
      left join (
        -- date_part's float8, not extract's numeric: a tenth of the cost per row, exact to the microsecond
        select floor(date_part('epoch', $2 - (%1$s)::timestamptz) / date_part('epoch', $4))::integer as k,
               count(*) as n
        from %2$s as dq_t
        where (%1$s) > $1 and (%1$s) <= $2 and (%3$s)
        group by 1
      ) c on c.k = b.k
    ),
    latest as (select n from counts where k = 0)
    select jsonb_build_object(
      'value', latest.n,
      'details', jsonb_build_object(
          'bucket', $6, 'bucket_start', $2 - $4, 'bucket_end', $2, 'count', latest.n,
          'direction', $5 ->> 'direction', 'sensitivity', ($5 ->> 'sensitivity')::numeric,
          'seasonality', $5 ->> 'seasonality', 'min_training', ($5 ->> 'minTraining')::integer,
          'recent', (select jsonb_agg(n order by k desc) from counts where k < 7))
        || dq.volume_test((select array_agg(n order by k) from counts), $7, $5),
      'sample', '[]'::jsonb)
    from latest
  $q$, time_sql, source, where_sql)
  into result
  using end_at - (training + 1) * bucket_size, end_at, training, bucket_size, options, bucket, period;

  -- training_buckets: the training buckets compared (after leaving anomalous ones out).
  return jsonb_set(result, '{details}',
    (result -> 'details') - 'training' || jsonb_build_object('training_buckets', result #> '{details,training}'));
end
$$;
