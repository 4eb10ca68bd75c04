-- dq-monitor migration "add_volume_anomaly", generated from supabase/schemas by
-- scripts/migration.ts: edit the schema files, not this one.
-- Idempotent, like every file it carries: "dq migrate" applies every migration
-- on each call, "supabase db push" each one once.

-- ===== supabase/schemas/26_anomaly.sql =====

-- dq-monitor: anomaly detection. One z-score test, dq.anomaly_test, shared by
-- the volume kind (30_kind_volume.sql: a table's rows per time bucket) and by
-- the `anomaly` option of any check (dq.anomaly: a check's figure against its
-- own history in dq.results). Everything is computed here, in one query each:
-- the history never leaves the database.

-- Is `figure` outside mean ± sensitivity × stddev (sample) of `training`, in
-- `direction` ('drop': below, 'spike': above, 'both')?
--
-- leave_out: a training value that is itself outside mean ± sensitivity ×
-- stddev of the OTHER training values (leave one out, from the sums of all)
-- is left out first, so an anomalous bucket does not poison the buckets after
-- it. (History results carry their own verdict instead: dq.anomaly filters them.)
--
-- Fewer than min_training usable training values (non-zero ones when
-- nonzero_only: an empty bucket says nothing about a new table) is never
-- anomalous: reason 'insufficient_training'. A training stddev of 0 makes the
-- range one point: any other figure is anomalous, and z is null.
--
-- Loops over the array in float8: about 0.1 ms for 168 values, where the same
-- in set-based SQL (unnest and window sums) takes ten times longer, which the
-- detection-quality test (13,000 series) feels. The final mean and stddev
-- take two passes over the kept values, so large counts lose no precision.
--
-- Returns { mean, stddev, z, low, high, training, left_out, anomalous, reason }.
create or replace function dq.anomaly_test(figure numeric, training numeric[], sensitivity numeric,
                                           direction text, min_training integer,
                                           leave_out boolean default false,
                                           nonzero_only boolean default false)
returns jsonb
language plpgsql
immutable
-- in the volume query's select list: a parallel-unsafe function there would cost its scan the workers
parallel safe
set search_path = pg_catalog
as $$
declare
  x float8;
  n integer := 0;
  s float8 := 0;
  q float8 := 0;
  kept float8[] := '{}';
  nonzero integer := 0;
  mean float8;
  sd float8;
  low float8;
  high float8;
  z float8;
  squares float8 := 0;
  enough boolean;
  f float8 := figure;
begin
  foreach x in array coalesce(training, '{}') loop
    continue when x is null;
    n := n + 1;
    s := s + x;
    q := q + x * x;
  end loop;
  foreach x in array coalesce(training, '{}') loop
    continue when x is null;
    -- the mean and sample variance of the other n - 1 values
    continue when leave_out and n >= 3
      and abs(x - (s - x) / (n - 1))
          > sensitivity * sqrt(greatest(q - x * x - (s - x) * (s - x) / (n - 1), 0) / (n - 2));
    kept := kept || x;
    if x <> 0 then
      nonzero := nonzero + 1;
    end if;
  end loop;
  if cardinality(kept) > 0 then
    mean := (select avg(k) from unnest(kept) k);
  end if;
  if cardinality(kept) > 1 then
    foreach x in array kept loop
      squares := squares + (x - mean) * (x - mean);
    end loop;
    sd := sqrt(squares / (cardinality(kept) - 1));
    low := mean - sensitivity * sd;
    high := mean + sensitivity * sd;
    z := case when sd > 0 then (f - mean) / sd when f = mean then 0 end;
  end if;
  enough := (case when nonzero_only then nonzero else cardinality(kept) end) >= greatest(min_training, 2);
  return jsonb_build_object(
    'mean', round(mean::numeric, 4),
    'stddev', round(sd::numeric, 4),
    'z', round(z::numeric, 2),
    'low', round(low::numeric, 4),
    'high', round(high::numeric, 4),
    'training', cardinality(kept),
    'left_out', n - cardinality(kept),
    'anomalous', coalesce(enough and (
                   (direction in ('drop', 'both') and f < low)
                   or (direction in ('spike', 'both') and f > high)), false),
    'reason', case when not enough then 'insufficient_training' end);
end
$$;

-- Settings of the `anomaly` option (or of a volume check), each checked and
-- named in the error: { sensitivity, direction, seasonality, minTraining }.
create or replace function dq.anomaly_settings(settings jsonb, field text)
returns jsonb
language plpgsql
immutable
set search_path = pg_catalog
as $$
declare
  sensitivity numeric;
  min_training integer;
  direction text := coalesce(settings ->> 'direction', 'both');
  seasonality text := coalesce(settings ->> 'seasonality', 'none');
begin
  begin
    sensitivity := coalesce((settings ->> 'sensitivity')::numeric, 3);
    min_training := coalesce((settings ->> 'minTraining')::integer, 7);
  exception when others then
    raise exception using errcode = '22023',
      message = format('check field "%ssensitivity" and "%sminTraining" must be numbers: %s', field, field, sqlerrm);
  end;
  if sensitivity <= 0 then
    raise exception using errcode = '22023',
      message = format('check field "%ssensitivity" must be above 0 (3 flags about 3 in 1,000 normal values), got %s', field, sensitivity);
  end if;
  if min_training < 2 then
    raise exception using errcode = '22023',
      message = format('check field "%sminTraining" must be at least 2 (a standard deviation needs two values), got %s', field, min_training);
  end if;
  if direction not in ('drop', 'spike', 'both') then
    raise exception using errcode = '22023',
      message = format('check field "%sdirection" must be "drop", "spike" or "both", got "%s"', field, direction);
  end if;
  if seasonality not in ('none', 'day_of_week') then
    raise exception using errcode = '22023',
      message = format('check field "%sseasonality" must be "none" or "day_of_week", got "%s"', field, seasonality);
  end if;
  return jsonb_build_object('sensitivity', sensitivity, 'minTraining', min_training,
                            'direction', direction, 'seasonality', seasonality);
end
$$;

-- The `anomaly` option of any check: `figure` (the check's value, or its
-- details.ratio with metric "ratio") against the same figure of the check's
-- own results in dq.results over the training period (default 14 days),
-- through the index on (check_name, started_at). Left out: results that
-- errored, incremental or sampled results (not comparable with a full run),
-- and results that were themselves anomalous (details.anomaly.anomalous).
-- With seasonality "day_of_week", only results of the same weekday (UTC).
-- Returns dq.anomaly_test's answer plus the metric and `recent`: the last six
-- figures and this one, oldest first (a sparkline's worth).
create or replace function dq.anomaly(check_name text, settings jsonb, figure numeric)
returns jsonb
language plpgsql
stable
as $$
declare
  options jsonb := dq.anomaly_settings(settings, 'anomaly.');
  training interval := coalesce(dq.interval_value(settings ->> 'training', 'anomaly.training'), interval '14 days');
  metric text := coalesce(settings ->> 'metric', 'value');
  result jsonb;
begin
  if metric not in ('value', 'ratio') then
    raise exception using errcode = '22023',
      message = format('check field "anomaly.metric" must be "value" or "ratio", got "%s"', metric);
  end if;
  if training <= interval '0' then
    raise exception using errcode = '22023',
      message = 'check field "anomaly.training" must be longer than zero, e.g. "14 days"';
  end if;

  with history as (
    select case when metric = 'ratio' then (r.details ->> 'ratio')::numeric else r.value end as x,
           r.started_at, r.id,
           coalesce((r.details #>> '{anomaly,anomalous}')::boolean, false) as anomalous
    from dq.results r
    where r.check_name = anomaly.check_name
      and r.started_at >= now() - training and r.started_at < now()
      and r.status <> 'error'
      and coalesce(r.details ->> 'scope', 'full') = 'full'
  )
  select dq.anomaly_test(figure,
           array_agg(h.x) filter (where not h.anomalous and (options ->> 'seasonality' = 'none'
             or extract(isodow from h.started_at at time zone 'UTC') = extract(isodow from now() at time zone 'UTC'))),
           (options ->> 'sensitivity')::numeric, options ->> 'direction', (options ->> 'minTraining')::integer)
         || jsonb_build_object('metric', metric, 'recent',
           coalesce((select jsonb_agg(r.x order by r.started_at, r.id)
                     from (select * from history where x is not null
                           order by started_at desc, id desc limit 6) r), '[]'::jsonb)
           || jsonb_build_array(figure))
  into result
  from history h;
  return result;
end
$$;

-- ===== supabase/schemas/30_kind_volume.sql =====

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

-- ===== supabase/schemas/90_grants.sql =====

-- dq-monitor: grants. Nothing in dq is for PUBLIC, anon or authenticated;
-- service_role (Supabase) and dq_monitor (direct connections) may use it all.
-- One function, called last by every migration, after it created objects.
create or replace function dq.apply_grants()
returns void
language plpgsql
volatile
as $$
declare
  role_name text;
begin
  if not exists (select 1 from pg_roles where rolname = 'dq_monitor') then
    create role dq_monitor nologin;
  end if;

  revoke all on schema dq from public;
  revoke all on all tables in schema dq from public;
  revoke all on all sequences in schema dq from public;
  revoke all on all functions in schema dq from public;

  foreach role_name in array array['anon', 'authenticated'] loop
    if exists (select 1 from pg_roles where rolname = role_name) then
      execute format('revoke all on schema dq from %I', role_name);
      execute format('revoke all on all tables in schema dq from %I', role_name);
      execute format('revoke all on all sequences in schema dq from %I', role_name);
      execute format('revoke all on all functions in schema dq from %I', role_name);
    end if;
  end loop;

  foreach role_name in array array['service_role', 'dq_monitor'] loop
    if exists (select 1 from pg_roles where rolname = role_name) then
      execute format('grant usage on schema dq to %I', role_name);
      execute format('grant select, insert, update, delete on all tables in schema dq to %I', role_name);
      execute format('grant usage, select on all sequences in schema dq to %I', role_name);
      execute format('grant execute on all functions in schema dq to %I', role_name);
      -- Granting is the migration owner's business, not the monitor's.
      execute format('revoke execute on function dq.apply_grants() from %I', role_name);
    end if;
  end loop;
end
$$;

alter default privileges in schema dq revoke execute on functions from public;

select dq.apply_grants();
