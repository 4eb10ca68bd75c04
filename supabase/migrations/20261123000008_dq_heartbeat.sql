-- dq-monitor: the monitor's heartbeat, measured in cron ticks.
--
-- 20261123000004 called the monitor stale when no scheduled run had beaten
-- for twice `interval_seconds`, the gap between a run's tick and the tick
-- before it. That gap is the wrong one whenever a cron's gaps differ: with
-- "0 9 * * 1-5" Friday's beat carried 1 day, so Monday's run (3 days later)
-- reported the monitor down every week, and "0 9,12 * * *" false-alarmed
-- daily. Only the caller can read a cron (SQL cannot), so it now stores the
-- deadline itself:
--   stale_after       the second tick after the beat. Past it with no newer
--                     beat, two runs in a row were missed: what "twice the
--                     interval" means for an even cron.
--   interval_seconds  the gap to the next tick (shown as the run expected next).
-- A row without stale_after (written by 004's enqueue_alerts, before this
-- migration or by an older Worker) is judged as before.
--
-- Ticks where no check is due beat too (dq.record_heartbeat, no run row), so
-- a trigger finer than the checks' schedules does not look like an outage.
-- Such a beat never covers up a gap: when the monitor is already stale it
-- leaves the heartbeat alone, and the next run with checks due announces it.
--
-- Replaces dq.enqueue_alerts and dq.monitor_status of 004 (same signatures;
-- 004 has landed on users' databases and is never edited). Idempotent.

alter table dq.monitor_heartbeat add column if not exists stale_after timestamptz;
-- A heartbeat-only tick has no run.
alter table dq.monitor_heartbeat alter column run_id drop not null;

-- When a heartbeat goes stale: stale_after, else (older rows) twice the interval.
create or replace function dq.heartbeat_deadline(beat_at timestamptz, interval_seconds integer,
                                                 stale_after timestamptz)
returns timestamptz
language sql
stable
as $$
  select coalesce(heartbeat_deadline.stale_after,
                  heartbeat_deadline.beat_at
                    + make_interval(secs => 2 * heartbeat_deadline.interval_seconds))
$$;

-- Writes a heartbeat { beat_at, interval_seconds, stale_after? } unless a
-- newer one is there. Two cron triggers beating at the same minute keep the
-- earlier deadline: the finer trigger's, which beats again first. True when written.
create or replace function dq.put_heartbeat(beat_run uuid, heartbeat jsonb)
returns boolean
language plpgsql
volatile
as $$
declare
  beat timestamptz := (heartbeat ->> 'beat_at')::timestamptz;
  every integer := (heartbeat ->> 'interval_seconds')::integer;
  deadline timestamptz := (heartbeat ->> 'stale_after')::timestamptz;
  written boolean;
begin
  if beat is null or every is null or every <= 0 then
    raise exception using errcode = '22023',
      message = 'heartbeat: beat_at and a positive interval_seconds are required';
  end if;
  if deadline is not null and deadline <= beat then
    raise exception using errcode = '22023', message = 'heartbeat: stale_after must come after beat_at';
  end if;
  insert into dq.monitor_heartbeat as h (singleton, run_id, beat_at, interval_seconds, stale_after)
  values (true, beat_run, beat, every, deadline)
  on conflict (singleton) do update
    set run_id = excluded.run_id, beat_at = excluded.beat_at,
        interval_seconds = excluded.interval_seconds, stale_after = excluded.stale_after,
        updated_at = now()
    where excluded.beat_at > h.beat_at
       or (excluded.beat_at = h.beat_at
           and coalesce(excluded.stale_after, 'infinity') <= coalesce(h.stale_after, 'infinity'))
  returning true into written;
  return coalesce(written, false);
end
$$;

-- As in 004, with the heartbeat written by dq.put_heartbeat (stale_after kept).
--   batch = { run_id, states: [...], messages: [...],
--             heartbeat?: { beat_at, interval_seconds, stale_after? } }
create or replace function dq.enqueue_alerts(batch jsonb)
returns jsonb
language plpgsql
volatile
as $$
declare
  batch_run uuid := (batch ->> 'run_id')::uuid;
  stale_keys text[];
  new_ids bigint[];
begin
  if batch_run is null then
    raise exception using errcode = '22023', message = 'enqueue_alerts: batch.run_id is required';
  end if;
  -- Serialises deciders; its own lock class, so no check name can collide with it.
  perform pg_advisory_xact_lock(hashtext('dq-monitor-alerts'), 0);

  select array_agg(b.dedup_key order by b.dedup_key) into stale_keys
  from jsonb_to_recordset(coalesce(batch -> 'states', '[]'::jsonb))
         as b(dedup_key text, expected_version integer)
  left join dq.alert_state s on s.dedup_key = b.dedup_key
  where coalesce(s.version, 0) <> coalesce(b.expected_version, 0);
  if stale_keys is not null then
    return jsonb_build_object('conflict', true, 'keys', to_jsonb(stale_keys), 'ids', '[]'::jsonb);
  end if;

  insert into dq.alert_state as s (dedup_key, check_name, alert_kind, status, opened_at,
                                   last_notified_at, observed_at, run_id)
  select b.dedup_key, b."check", b.alert_kind, b.status, b.opened_at, b.last_notified_at,
         b.observed_at, batch_run
  from jsonb_to_recordset(coalesce(batch -> 'states', '[]'::jsonb))
         as b(dedup_key text, "check" text, alert_kind text, status text, opened_at timestamptz,
              last_notified_at timestamptz, observed_at timestamptz)
  on conflict (dedup_key) do update
    set status = excluded.status, opened_at = excluded.opened_at,
        last_notified_at = excluded.last_notified_at, observed_at = excluded.observed_at,
        run_id = excluded.run_id, check_name = excluded.check_name,
        version = s.version + 1, updated_at = now();

  with inserted as (
    insert into dq.alert_outbox (run_id, route, payload, alerts)
    select batch_run, m ->> 'route', m -> 'payload', coalesce(m -> 'alerts', '[]'::jsonb)
    from jsonb_array_elements(coalesce(batch -> 'messages', '[]'::jsonb)) with ordinality as t(m, ord)
    order by ord
    returning id
  )
  select array_agg(id order by id) into new_ids from inserted;

  -- This run decided on the monitor's staleness (above, in the same batch):
  -- its beat may replace a stale one.
  if batch ? 'heartbeat' and jsonb_typeof(batch -> 'heartbeat') = 'object' then
    perform dq.put_heartbeat(batch_run, batch -> 'heartbeat');
  end if;

  return jsonb_build_object('conflict', false, 'keys', '[]'::jsonb,
                            'ids', coalesce(to_jsonb(new_ids), '[]'::jsonb));
end
$$;

-- Is the monitor alive? The last scheduled heartbeat, stale once its deadline
-- (dq.heartbeat_deadline) has passed at `as_of` (default now). `exclude_run`
-- lets a run ask about the beats before its own.
create or replace function dq.monitor_status(as_of timestamptz default null,
                                             exclude_run uuid default null)
returns jsonb
language sql
stable
as $$
  select case when h.singleton is null then
    jsonb_build_object('last_run_id', null, 'last_run_at', null, 'interval_seconds', null,
                       'stale_after', null, 'age_seconds', null, 'stale', false)
  else
    jsonb_build_object(
      'last_run_id', h.run_id, 'last_run_at', h.beat_at, 'interval_seconds', h.interval_seconds,
      'stale_after', dq.heartbeat_deadline(h.beat_at, h.interval_seconds, h.stale_after),
      'age_seconds', round(extract(epoch from coalesce(as_of, now()) - h.beat_at)),
      'stale', coalesce(as_of, now())
                 > dq.heartbeat_deadline(h.beat_at, h.interval_seconds, h.stale_after))
  end
  from (select true as one) o
  left join dq.monitor_heartbeat h
    on h.singleton and (exclude_run is null or h.run_id is distinct from exclude_run)
$$;

-- A tick where no check is due: only the heartbeat { beat_at, interval_seconds,
-- stale_after? }, with no run. Returns { recorded, monitor }, monitor being
-- the status before this beat, at beat_at. When that status is stale nothing
-- is written: the gap stays for the next run with checks due to announce
-- (dq.enqueue_alerts), instead of disappearing under this beat.
create or replace function dq.record_heartbeat(heartbeat jsonb)
returns jsonb
language plpgsql
volatile
as $$
declare
  beat timestamptz := (heartbeat ->> 'beat_at')::timestamptz;
  before jsonb;
begin
  if jsonb_typeof(heartbeat) is distinct from 'object' or beat is null then
    raise exception using errcode = '22023', message = 'record_heartbeat: heartbeat.beat_at is required';
  end if;
  -- As enqueue_alerts: a run announcing a gap and this beat never interleave.
  perform pg_advisory_xact_lock(hashtext('dq-monitor-alerts'), 0);
  before := dq.monitor_status(beat, null);
  if (before ->> 'stale')::boolean then
    return jsonb_build_object('recorded', false, 'monitor', before);
  end if;
  return jsonb_build_object('recorded', dq.put_heartbeat(null, heartbeat), 'monitor', before);
end
$$;

-- Grants (20261123000004's dq.apply_grants): nothing in dq for PUBLIC, anon
-- or authenticated; the functions above for service_role and dq_monitor.
select dq.apply_grants();
