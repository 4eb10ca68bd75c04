-- dq-monitor: checks generated from a table (an enrichment registry, say).
-- A catalog entry { generate: { name, from, where?, check } } expands, at
-- every run, to one check per row of `from` matching `where`. Expansion reads
-- only, as dq_monitor, in a subtransaction that is rolled back, like a check.
--
-- A "{column}" placeholder is the whole value of a field, never part of an
-- expression: the row's value is read as an identifier (parse_ident: a
-- schema-qualified name for a `table` field, a single name elsewhere) and
-- written quoted (quote_ident), never as SQL text. A value that is not an
-- identifier, or a NULL, makes that one check an error; the others stand.
-- Names (the `name` template, where placeholders may sit inside text) are
-- normalised to ^[a-z][a-z0-9_]{0,62}$; two rows that normalise to one name
-- are both errors, each naming the other.

-- The template with the row's values, as quoted identifiers (see above).
create or replace function dq.fill_placeholders(template jsonb, source_row jsonb, path text)
returns jsonb
language plpgsql
immutable
set search_path = pg_catalog
as $$
declare
  placeholder text;
  value text;
  parts text[];
  result jsonb;
begin
  case jsonb_typeof(template)
    when 'object' then
      select coalesce(jsonb_object_agg(t.key, dq.fill_placeholders(t.value, source_row, path || '.' || t.key)), '{}'::jsonb)
        into result
      from jsonb_each(template) t;
      return result;
    when 'array' then
      select coalesce(jsonb_agg(dq.fill_placeholders(t.value, source_row, format('%s[%s]', path, t.n - 1)) order by t.n), '[]'::jsonb)
        into result
      from jsonb_array_elements(template) with ordinality as t(value, n);
      return result;
    when 'string' then
      placeholder := substring(template #>> '{}' from '^\{([A-Za-z_][A-Za-z0-9_]*)\}$');
      if placeholder is null then
        if template #>> '{}' ~ '\{[A-Za-z_][A-Za-z0-9_]*\}' then
          raise exception using errcode = '22023',
            message = format('%s: a placeholder must be the whole value of a field, not part of an expression (%s)', path, template #>> '{}');
        end if;
        return template;
      end if;
      if not source_row ? placeholder then
        raise exception using errcode = '42703',
          message = format('%s: generate.from has no column "%s"', path, placeholder);
      end if;
      value := source_row ->> placeholder;
      if value is null or btrim(value) = '' then
        raise exception using errcode = '22004',
          message = format('%s: {%s} is empty in this row', path, placeholder);
      end if;
      begin
        parts := parse_ident(value);
      exception when others then
        raise exception using errcode = '22023',
          message = format('%s: {%s} is %s, which is not a name (a value is read as an identifier, never as SQL)', path, placeholder, left(value, 200));
      end;
      if cardinality(parts) > (case when path ~ '\.table$' then 2 else 1 end) then
        raise exception using errcode = '22023',
          message = format('%s: {%s} is %s, which has too many parts for this field', path, placeholder, left(value, 200));
      end if;
      return to_jsonb((select string_agg(quote_ident(p), '.' order by n) from unnest(parts) with ordinality as u(p, n)));
    else
      return template;
  end case;
end
$$;

-- A generated check's name: the template with the row's values as text,
-- normalised to the catalog's name pattern.
create or replace function dq.generated_name(template text, source_row jsonb)
returns text
language plpgsql
immutable
set search_path = pg_catalog
as $$
declare
  name text := template;
  placeholder text;
begin
  for placeholder in select (regexp_matches(template, '\{([A-Za-z_][A-Za-z0-9_]*)\}', 'g'))[1] loop
    if not source_row ? placeholder then
      raise exception using errcode = '42703',
        message = format('generate.name: generate.from has no column "%s"', placeholder);
    end if;
    name := replace(name, '{' || placeholder || '}', coalesce(source_row ->> placeholder, ''));
  end loop;
  name := btrim(regexp_replace(regexp_replace(lower(name), '[^a-z0-9_]+', '_', 'g'), '_{2,}', '_', 'g'), '_');
  if name !~ '^[a-z]' then
    name := 'g_' || name;
  end if;
  return left(name, 63);
end
$$;

-- Expands one generator: [{ name, row, spec, error }], one per row, in a
-- stable order. `spec` is the check with the row's values (null on error).
create or replace function dq.expand_generator(generator jsonb)
returns jsonb
language plpgsql
stable
set statement_timeout = '55s'
set lock_timeout = '5s'
as $$
declare
  source text;
  predicate text;
  source_rows jsonb;
  source_row jsonb;
  entry jsonb;
  entries jsonb := '[]'::jsonb;
begin
  if jsonb_typeof(generator) is distinct from 'object' or jsonb_typeof(generator -> 'check') is distinct from 'object' then
    raise exception using errcode = '22023', message = 'generate must be an object { name, from, where?, check }';
  end if;
  begin
    perform dq.assume_monitor_role();
    source := dq.relation_sql(generator ->> 'from', 'generate.from');
    predicate := dq.expression_sql(source, generator ->> 'where', 'generate.where', required => false, is_predicate => true);
    source_rows := dq.run_catalog_sql(format(
      'select coalesce(jsonb_agg(dq_r.j order by dq_r.j::text), ''[]'') from (select to_jsonb(dq_t) as j from %s as dq_t where (%s) and %s limit 1001) dq_r',
      source, predicate, dq.scan_guard()));
    raise exception using errcode = 'DQRBK';
  exception when sqlstate 'DQRBK' then
    null;
  end;
  if jsonb_array_length(source_rows) > 1000 then
    raise exception using errcode = '54000',
      message = 'generate.from: more than 1000 rows match; a generator makes at most 1000 checks (narrow it with generate.where)';
  end if;

  for source_row in select r from jsonb_array_elements(source_rows) r loop
    entry := jsonb_build_object('row', source_row, 'name', dq.generated_name(generator ->> 'name', source_row));
    begin
      entry := entry || jsonb_build_object('spec', dq.fill_placeholders(generator -> 'check', source_row, 'generate.check'), 'error', null);
    exception when others then
      entry := entry || jsonb_build_object('spec', null, 'error', sqlerrm);
    end;
    entries := entries || jsonb_build_array(entry);
  end loop;

  -- Two rows, one name: both are errors, each naming the other.
  select coalesce(jsonb_agg(
           case when d.others is null then e.entry
                else e.entry || jsonb_build_object('spec', null, 'error',
                       format('generated name "%s" is also the name of %s: make generate.name tell them apart', e.entry ->> 'name', d.others))
           end order by e.n), '[]'::jsonb)
    into entries
  from jsonb_array_elements(entries) with ordinality as e(entry, n)
  left join lateral (
    select string_agg(format('row %s', o.entry -> 'row'), ', ') as others
    from jsonb_array_elements(entries) with ordinality as o(entry, m)
    where o.m <> e.n and o.entry ->> 'name' = e.entry ->> 'name'
  ) d on true;
  return entries;
end
$$;
