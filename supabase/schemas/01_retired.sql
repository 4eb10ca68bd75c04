-- dq-monitor: objects that no longer exist. A database migrated by an earlier
-- version loses them here; a new one never had them.

-- 0.1.0's check functions, before each kind became dq.kind_<kind>(spec).
drop function if exists dq.check_duplicates(jsonb);
drop function if exists dq.check_stale_keys(jsonb);
drop function if exists dq.check_trigger(jsonb);
drop function if exists dq.check_coverage_gap(jsonb);
drop function if exists dq.check_raw_vs_enriched(jsonb);
-- Replaced by dq.duplicate_group_ids (one scan for every sampled group).
drop function if exists dq.duplicate_sample_ids(text, text, text[], text, jsonb);
-- Before it took Slack's Retry-After (retry_after_seconds).
drop function if exists dq.mark_alert(bigint, text, integer, integer, text);
