-- dq-monitor: a scheduled tick fanned out over a Cloudflare Queue
-- (checks/fan-out). The tick is claimed as before (dq.claim_run, through
-- dq.claim_fan_out); queue consumers then run its due checks part by part
-- and record each part under the tick's run. dq.run_fan_out counts the checks
-- the tick expects and the ones recorded, in the transaction that records
-- them: the one call that records the last check completes the run and is
-- told so, and its consumer alone runs the alert policy for the whole tick.

create table if not exists dq.run_fan_out (
  run_id uuid primary key references dq.runs (id) on delete cascade,
  -- the cron expression that fired (the monitor's heartbeat)
  cron text not null,
  -- the expanded catalog at the tick (resolved checks): what consumers run, and
  -- what the alert policy resolves removed checks against
  catalog jsonb not null,
  -- the names of the tick's due checks: the only results the run takes
  due text[] not null,
  expected integer not null check (expected >= 0),
  recorded integer not null default 0 check (recorded >= 0),
  -- failed deliveries by part: { "3": { "attempts": 2, "error": "..." } }
  failures jsonb not null default '{}'::jsonb,
  -- set once, by the call that recorded the last due check
  finished_at timestamptz
);
comment on table dq.run_fan_out is
  'a scheduled tick run by queue consumers: checks expected and recorded (checks/fan-out)';

-- Claims the tick (dq.claim_run) and, when claimed, registers the checks it
-- fans out, in one transaction. run: claim_run's fields plus cron, catalog
-- (resolved checks) and due (check names).
create or replace function dq.claim_fan_out(run jsonb)
returns jsonb
language plpgsql
volatile
as $$
declare
  claim jsonb := dq.claim_run(run);
  -- in the tick's order, each name once
  due_names text[] := array(
    select name from (select distinct on (name) name, ord
                      from jsonb_array_elements_text(run -> 'due') with ordinality as t(name, ord)
                      order by name, ord) d
    order by ord);
begin
  if (claim ->> 'claimed')::boolean then
    insert into dq.run_fan_out (run_id, cron, catalog, due, expected)
    values ((claim ->> 'run_id')::uuid, run ->> 'cron', coalesce(run -> 'catalog', '[]'::jsonb),
            due_names, cardinality(due_names));
  end if;
  return claim;
end
$$;

-- What a consumer needs to run one part: the run's trigger and time, and the
-- specs of the part's checks that are due at the tick and not yet recorded (a
-- redelivered part runs nothing already recorded). part: { run_id, checks }.
create or replace function dq.fan_out_part(part jsonb)
returns jsonb
language sql
stable
as $$
  select coalesce((
    select jsonb_build_object(
      'found', true,
      'finished', f.finished_at is not null,
      'trigger', r.trigger,
      'started_at', r.started_at,
      'checks', coalesce((
        select jsonb_agg(c.spec order by c.ord)
        from jsonb_array_elements(f.catalog) with ordinality as c(spec, ord)
        where c.spec ->> 'name' in (select jsonb_array_elements_text(part -> 'checks'))
          and c.spec ->> 'name' = any (f.due)
          and not exists (select 1 from dq.results x
                          where x.run_id = f.run_id and x.check_name = c.spec ->> 'name')
      ), '[]'::jsonb))
    from dq.run_fan_out f
    join dq.runs r on r.id = f.run_id
    where f.run_id = (part ->> 'run_id')::uuid
  ), jsonb_build_object('found', false))
$$;

-- Records a part's results under the tick's run, each check at most once
-- (by run and check name; only checks due at the tick), and counts them.
-- Concurrent calls for one tick queue on its dq.run_fan_out row. The call
-- that records the last due check completes the run and answers
-- finished: true with everything the alert policy needs; every other call,
-- a redelivered part's included, answers finished: false.
-- part: { run_id, results: [result contract JSON] }.
create or replace function dq.record_fan_out(part jsonb)
returns jsonb
language plpgsql
volatile
as $$
declare
  fan dq.run_fan_out%rowtype;
  parent dq.runs%rowtype;
  inserted integer;
begin
  select * into fan from dq.run_fan_out where run_id = (part ->> 'run_id')::uuid for update;
  if not found then
    raise exception 'no fanned-out run %', part ->> 'run_id' using errcode = 'P0002';
  end if;
  select * into parent from dq.runs where id = fan.run_id;

  insert into dq.results (run_id, check_name, kind, status, value, threshold, details, sample,
                          error, duration_ms, trigger, started_at, severity, owner, error_code)
  select d.run_id, d.check_name, d.kind, d.status, d.value, d.threshold, d.details, d.sample,
         d.error, d.duration_ms, d.trigger, d.started_at, d.severity, d.owner, d.error_code
  from (select distinct on (x.check_name) x.*
        from dq.result_rows(fan.run_id, parent.trigger, parent.started_at, part -> 'results') x
        order by x.check_name, x.ord) d
  where d.check_name = any (fan.due)
    and not exists (select 1 from dq.results y
                    where y.run_id = fan.run_id and y.check_name = d.check_name)
  order by d.ord;
  get diagnostics inserted = row_count;

  update dq.run_fan_out set recorded = recorded + inserted where run_id = fan.run_id
  returning * into fan;

  if fan.finished_at is not null or fan.recorded < fan.expected then
    return jsonb_build_object('recorded', inserted, 'finished', false);
  end if;

  update dq.run_fan_out set finished_at = now() where run_id = fan.run_id;
  update dq.runs
     set completed = true,
         finished_at = now(),
         -- from the tick to its last result (a tick replayed long after is capped)
         duration_ms = least(greatest(0, extract(epoch from now() - parent.started_at) * 1000),
                             2147483647)::integer,
         counts = coalesce((select jsonb_object_agg(status, n)
                            from (select status, count(*) as n from dq.results
                                  where run_id = fan.run_id group by 1) c), '{}'::jsonb)
   where id = fan.run_id
  returning * into parent;

  return jsonb_build_object(
    'recorded', inserted,
    'finished', true,
    'run', jsonb_build_object(
      'run_id', parent.id, 'trigger', parent.trigger, 'started_at', parent.started_at,
      'duration_ms', parent.duration_ms,
      'results', coalesce((select jsonb_agg(dq.result_json(x) order by x.id)
                           from dq.results x where x.run_id = fan.run_id), '[]'::jsonb)),
    'cron', fan.cron,
    'catalog', fan.catalog,
    'due', to_jsonb(fan.due));
end
$$;

-- A part's delivery failed (it goes back to the queue): counted, with its
-- error, for the message its checks get if the queue gives up on it.
-- part: { run_id, part, error }. Returns that part's failures so far.
create or replace function dq.note_fan_out_failure(part jsonb)
returns jsonb
language sql
volatile
as $$
  update dq.run_fan_out
     set failures = failures || jsonb_build_object(part ->> 'part', jsonb_build_object(
           'attempts', coalesce((failures -> (part ->> 'part') ->> 'attempts')::integer, 0) + 1,
           'error', part ->> 'error'))
   where run_id = (part ->> 'run_id')::uuid
  returning failures -> (part ->> 'part')
$$;

-- How a part fared before it was given up on (null when no failure was noted).
create or replace function dq.fan_out_failures(part jsonb)
returns jsonb
language sql
stable
as $$
  select failures -> (part ->> 'part') from dq.run_fan_out where run_id = (part ->> 'run_id')::uuid
$$;
