-- dq-monitor: alert state, the Slack outbox and the monitor's heartbeat.
--
-- The alert policy itself is TypeScript (alerts/policy); these tables keep
-- what it needs between runs, and these functions are the only way callers
-- touch them (alerts/store), so the three adapters (PGlite, node-postgres,
-- supabase-js over PostgREST) share one behaviour.

-- What on-call was last told about each alert, by dedup key:
-- "<check>/threshold" (pass / warn / fail), "<check>/error" (pass / error) and
-- "dq-monitor/stale". Runs that do not notify never change it, so a recovery
-- seen only by an ad hoc run is still announced by the next notifying run.
create table if not exists dq.alert_state (
  dedup_key text primary key,
  check_name text,
  alert_kind text not null check (alert_kind in ('threshold', 'error', 'stale')),
  status text not null check (status in ('pass', 'warn', 'fail', 'error')),
  -- when the current incident began (null while passing)
  opened_at timestamptz,
  -- the last firing, reminder or resolved notification queued for this key
  last_notified_at timestamptz,
  -- started_at of the run this state comes from: an older run never overwrites it
  observed_at timestamptz not null,
  run_id uuid,
  -- optimistic concurrency: enqueue_alerts refuses a batch read at another version
  version integer not null default 1,
  updated_at timestamptz not null default now()
);

-- Slack messages, written with the run before any send and marked sent only
-- after Slack answers 200. No webhook URL is stored: `route` names the
-- binding (default or critical) resolved at send time.
create table if not exists dq.alert_outbox (
  id bigint generated always as identity primary key,
  run_id uuid not null references dq.runs (id) on delete cascade,
  route text not null check (route in ('default', 'critical')),
  payload jsonb not null,
  alerts jsonb not null default '[]'::jsonb,
  status text not null default 'pending' check (status in ('pending', 'sent', 'failed')),
  attempts integer not null default 0 check (attempts >= 0),
  created_at timestamptz not null default now(),
  -- a sender holds a message until then, so two runs never post it twice
  leased_until timestamptz,
  last_attempt_at timestamptz,
  sent_at timestamptz,
  http_status integer,
  last_error text
);
-- Slack said "Retry-After" longer than a run waits: no run sends it before then.
alter table dq.alert_outbox add column if not exists not_before timestamptz;
create index if not exists alert_outbox_pending_idx on dq.alert_outbox (id) where status = 'pending';
create index if not exists alert_outbox_run_idx on dq.alert_outbox (run_id);

-- The last scheduled run that applied the alert policy, and the cron interval
-- it expected: staleness of the monitor itself (one row).
create table if not exists dq.monitor_heartbeat (
  singleton boolean primary key default true check (singleton),
  -- null for a tick where no check was due (dq.record_heartbeat)
  run_id uuid,
  beat_at timestamptz not null,
  -- the gap to the next tick of the cron (shown as the run expected next)
  interval_seconds integer not null check (interval_seconds > 0),
  -- the second tick of the cron after the beat: past it with no newer beat,
  -- two runs in a row were missed. Only the caller can read a cron, so it
  -- sends this; a gap "twice the interval" would be wrong for uneven crons
  -- ("0 9 * * 1-5" over a weekend, "0 9,12 * * *").
  stale_after timestamptz,
  updated_at timestamptz not null default now()
);

create or replace function dq.alert_state_json(s dq.alert_state)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object(
    'dedup_key', s.dedup_key, 'check', s.check_name, 'alert_kind', s.alert_kind,
    'status', s.status, 'opened_at', s.opened_at, 'last_notified_at', s.last_notified_at,
    'observed_at', s.observed_at, 'run_id', s.run_id, 'version', s.version)
$$;

-- Alert state for these dedup keys (all when null).
create or replace function dq.alert_states(dedup_keys text[] default null)
returns jsonb
language sql
stable
as $$
  select coalesce(jsonb_agg(dq.alert_state_json(s) order by s.dedup_key), '[]'::jsonb)
  from dq.alert_state s
  where dedup_keys is null or s.dedup_key = any (dedup_keys)
$$;

-- When a heartbeat goes stale: stale_after, else (a row written without one) twice the interval.
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

-- In one transaction: the new alert state of each key, the run's Slack
-- messages to send (outbox) and, for scheduled runs, the heartbeat.
--   batch = { run_id, states: [{ dedup_key, check, alert_kind, status, opened_at,
--             last_notified_at, observed_at, expected_version }],
--             messages: [{ route, payload, alerts }],
--             heartbeat?: { beat_at, interval_seconds, stale_after? } }
-- expected_version is the version the caller read (0: no row). When any key
-- moved since, nothing is written and { conflict: true } asks the caller to
-- read again and decide again: two concurrent runs never both notify.
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

create or replace function dq.alert_outbox_json(o dq.alert_outbox)
returns jsonb
language sql
stable
as $$
  select jsonb_build_object(
    'id', o.id, 'run_id', o.run_id, 'route', o.route, 'payload', o.payload, 'alerts', o.alerts,
    'status', o.status, 'attempts', o.attempts, 'created_at', o.created_at,
    'last_attempt_at', o.last_attempt_at, 'sent_at', o.sent_at, 'http_status', o.http_status,
    'last_error', o.last_error)
$$;

-- The oldest pending messages, oldest first. With lease_seconds > 0 they are
-- also leased for that long, so a concurrent run skips them; with 0 (the
-- default) they are only listed.
create or replace function dq.pending_alerts(max_messages integer default 10,
                                             lease_seconds integer default 0)
returns jsonb
language plpgsql
volatile
as $$
declare
  wanted integer := greatest(least(coalesce(max_messages, 10), 1000), 1);
  picked jsonb;
begin
  if coalesce(lease_seconds, 0) <= 0 then
    select coalesce(jsonb_agg(dq.alert_outbox_json(o) order by o.id), '[]'::jsonb) into picked
    from (select * from dq.alert_outbox p where p.status = 'pending' order by p.id limit wanted) o;
    return picked;
  end if;
  with candidates as (
    select p.id from dq.alert_outbox p
    where p.status = 'pending' and (p.leased_until is null or p.leased_until <= now())
      and (p.not_before is null or p.not_before <= now())
    order by p.id
    limit wanted
    for update skip locked
  ), leased as (
    update dq.alert_outbox o
       set leased_until = now() + make_interval(secs => lease_seconds)
      from candidates c
     where o.id = c.id
    returning o.id, dq.alert_outbox_json(o) as message
  )
  select coalesce(jsonb_agg(l.message order by l.id), '[]'::jsonb) into picked from leased l;
  return picked;
end
$$;

-- After a send: 'sent' (Slack answered 200), 'pending' (will be retried by a
-- later run) or 'failed' (Slack refused it for good: 400/403/404/410), with
-- Slack's error string. A message already sent is never changed again.
create or replace function dq.mark_alert(outbox_id bigint, outcome text, attempts integer,
                                         http_status integer default null,
                                         error_text text default null,
                                         retry_after_seconds integer default null)
returns jsonb
language plpgsql
volatile
as $$
declare
  changed bigint;
begin
  if outcome not in ('sent', 'pending', 'failed') then
    raise exception using errcode = '22023',
      message = format('mark_alert: outcome must be sent, pending or failed, not "%s"', outcome);
  end if;
  update dq.alert_outbox o
     set status = outcome,
         attempts = o.attempts + greatest(coalesce(mark_alert.attempts, 0), 0),
         last_attempt_at = now(),
         sent_at = case when outcome = 'sent' then now() end,
         http_status = mark_alert.http_status,
         last_error = case when outcome = 'sent' then null else left(error_text, 500) end,
         leased_until = null,
         not_before = case when outcome = 'pending' and retry_after_seconds > 0
                           then now() + make_interval(secs => retry_after_seconds) end
   where o.id = outbox_id and o.status = 'pending'
  returning o.id into changed;
  return jsonb_build_object('updated', changed is not null);
end
$$;

-- Pending messages no run may send now, and why: another run holds its lease
-- (it is sending it, or died while sending: retried once the lease ends), or
-- Slack asked to wait (Retry-After). Notifying runs report them.
create or replace function dq.waiting_alerts()
returns jsonb
language sql
stable
as $$
  select coalesce(jsonb_agg(jsonb_build_object(
           'id', o.id, 'run_id', o.run_id,
           'reason', case when o.leased_until > now() then 'leased' else 'retry_after' end,
           'until', greatest(o.leased_until, o.not_before), 'attempts', o.attempts,
           'last_error', o.last_error) order by o.id), '[]'::jsonb)
  from dq.alert_outbox o
  where o.status = 'pending' and (o.leased_until > now() or o.not_before > now())
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
    jsonb_build_object('last_run_id', null, 'last_beat_at', null, 'interval_seconds', null,
                       'stale_after', null, 'age_seconds', null, 'stale', false)
  else
    jsonb_build_object(
      'last_run_id', h.run_id, 'last_beat_at', h.beat_at, 'interval_seconds', h.interval_seconds,
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
