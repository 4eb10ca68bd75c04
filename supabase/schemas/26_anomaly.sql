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
