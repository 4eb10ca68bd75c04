// What reaches SQL (issue 10): only the fields a kind's SQL reads. dq.spec_hash
// hashes the spec as sent, so a runner-only field that got through would make
// editing a threshold or an owner force full scans. A spy port records every
// spec the runner hands to the database, on every path that sends one.
import { describe, expect, it } from 'vitest'
import type { DatabasePort } from '../kernel/port.ts'
import { parseCatalog, type ResolvedCheck } from './catalog.ts'
import { consumeBatch } from './fan-out/index.ts'
import { commonFields } from './fields.ts'
import { runCheck, runChecks } from './run-checks.ts'
import { indexAdvice, validateCheck } from './store.ts'

/** Every field only the runner and the alert policy read, set. */
const RUNNER_ONLY = {
  description: 'runner only',
  severity: 'critical',
  owner: '@someone',
  tags: ['a', 'b'],
  schedule: '0 * * * *',
  timeoutSeconds: 30,
  enabled: true,
  repeatInterval: '2 hours',
  anomaly: { sensitivity: 3 },
}
const THRESHOLD = { threshold: { fail: 0 } }

const [rows, gap, volume] = parseCatalog({
  checks: [
    {
      ...RUNNER_ONLY,
      ...THRESHOLD,
      name: 'spy_rows',
      kind: 'rows',
      table: 'public.t',
      where: 'v = 3',
      incremental: { column: 'at' },
      fullEvery: '6 hours',
    },
    {
      ...RUNNER_ONLY,
      ...THRESHOLD,
      name: 'spy_gap',
      kind: 'coverage_gap',
      source: { table: 'public.a', key: 'id' },
      target: { table: 'public.b', key: 'id' },
    },
    // volume's own anomaly settings are its SQL's: they must get through.
    {
      ...Object.fromEntries(Object.entries(RUNNER_ONLY).filter(([field]) => field !== 'anomaly')),
      name: 'spy_volume',
      kind: 'volume',
      table: 'public.t',
      time: 'at',
      bucket: 'hour',
      sensitivity: 4,
      minTraining: 5,
    },
  ],
}).checks as [ResolvedCheck, ResolvedCheck, ResolvedCheck]

/** A generated check carries where it came from (checks/generate.ts). */
const generated: ResolvedCheck = {
  ...gap,
  name: 'spy_generated',
  generated: { by: 'generate_spy', from: 'public.registry', row: { workflow: 'spy' } },
}
/** A check as a fan-out tick stored it under another deploy: a field this one does not know. */
const stored = {
  ...rows,
  name: 'spy_stored',
  notes: 'from another deploy',
} as unknown as ResolvedCheck

const SENT = {
  spy_rows: {
    name: 'spy_rows',
    kind: 'rows',
    table: 'public.t',
    where: 'v = 3',
    incremental: { column: 'at' },
    fullEvery: '6 hours',
  },
  spy_gap: {
    name: 'spy_gap',
    kind: 'coverage_gap',
    source: { table: 'public.a', key: 'id' },
    target: { table: 'public.b', key: 'id' },
  },
  spy_generated: {
    name: 'spy_generated',
    kind: 'coverage_gap',
    source: { table: 'public.a', key: 'id' },
    target: { table: 'public.b', key: 'id' },
  },
  spy_volume: {
    name: 'spy_volume',
    kind: 'volume',
    table: 'public.t',
    time: 'at',
    bucket: 'hour',
    sensitivity: 4,
    minTraining: 5,
  },
  spy_stored: {
    name: 'spy_stored',
    kind: 'rows',
    table: 'public.t',
    where: 'v = 3',
    incremental: { column: 'at' },
    fullEvery: '6 hours',
  },
}

const RUN_ID = '0c37a3c2-8c0e-4d7e-9a52-1f0f7b7e5a10'

/** A port that answers what each call needs and keeps the specs it is sent. */
function spyPort(partChecks: ResolvedCheck[] = []) {
  const specs: { fn: string; spec: Record<string, unknown> }[] = []
  const replies: Record<string, (args: Record<string, unknown>) => unknown> = {
    run_check: () => ({ value: 0, details: { rows: 1, matching: 0, ratio: 0 }, sample: [] }),
    validate_check: () => ({ valid: true }),
    index_advice: () => ({ value: 0, details: { indexes: [] }, sample: [] }),
    claim_run: () => ({ claimed: true }),
    record_run: () => ({ recorded: true }),
    anomaly: () => ({
      mean: null,
      stddev: null,
      z: null,
      low: null,
      high: null,
      training: 0,
      anomalous: false,
      reason: 'no history',
      metric: 'value',
      recent: [],
    }),
    fan_out_part: () => ({
      found: true,
      finished: false,
      trigger: 'cron',
      started_at: '2026-12-01T00:00:00.000Z',
      checks: partChecks,
    }),
    record_fan_out: (args) => ({
      finished: false,
      recorded: (args.part as { results: unknown[] }).results.length,
    }),
  }
  const port: DatabasePort = {
    label: 'spy',
    async call(fn, args) {
      if (args.spec !== undefined) specs.push({ fn, spec: args.spec as Record<string, unknown> })
      const reply = replies[fn]
      if (!reply) throw new Error(`spy port: unexpected call ${fn}`)
      return reply(args)
    },
    migrate: async () => {},
    close: async () => {},
  }
  return { port, specs }
}

/** The spec each check was measured with, by check name. */
const byName = (specs: { spec: Record<string, unknown> }[]) =>
  Object.fromEntries(specs.map(({ spec }) => [spec.name, spec]))

const RUNNER_FIELD_NAMES = [...Object.keys(commonFields), 'generated'].filter(
  (field) => field !== 'name' && field !== 'fullEvery',
)

describe('what reaches SQL: only the fields the kind reads', () => {
  it('a cron run sends each check its kind fields, name, fullEvery and scan: nothing the runner alone reads', async () => {
    const { port, specs } = spyPort()
    const run = await runChecks(port, [rows, gap, volume, generated, stored], {
      trigger: 'cron',
      scan: 'changed',
    })
    expect(run.results.map((result) => result.error)).toEqual([null, null, null, null, null])
    const sent = specs.filter((call) => call.fn === 'run_check')
    expect(sent).toHaveLength(5)
    for (const { spec } of sent) {
      for (const field of RUNNER_FIELD_NAMES) expect(spec, `${spec.name}`).not.toHaveProperty(field)
    }
    const expected = Object.fromEntries(
      Object.entries(SENT).map(([name, spec]) => [name, { ...spec, scan: 'changed' }]),
    )
    expect(byName(sent)).toEqual(expected)
  })

  it('an ad hoc run sends no scan key', async () => {
    const { port, specs } = spyPort()
    await runCheck(port, rows)
    expect(specs).toEqual([{ fn: 'run_check', spec: SENT.spy_rows }])
  })

  it('a fanned-out part sends the stored checks the same way', async () => {
    const { port, specs } = spyPort([rows, generated, stored])
    const body = {
      v: 1,
      run_id: RUN_ID,
      part: 0,
      parts: 1,
      checks: ['spy_rows', 'spy_generated', 'spy_stored'],
    }
    const outcomes = await consumeBatch(
      port,
      { queue: 'dq-checks', messages: [{ id: 'm', body, attempts: 1, ack() {}, retry() {} }] },
      { deadLetter: false, connectionBudget: 2, onFinished: async () => {} },
    )
    expect(outcomes).toEqual([
      { id: 'm', outcome: 'recorded', run_id: RUN_ID, recorded: 3, finished: false },
    ])
    expect(byName(specs.filter((call) => call.fn === 'run_check'))).toEqual({
      spy_rows: { ...SENT.spy_rows, scan: 'changed' },
      spy_generated: { ...SENT.spy_generated, scan: 'changed' },
      spy_stored: { ...SENT.spy_stored, scan: 'changed' },
    })
  })

  it('validation and index advice send the same spec', async () => {
    const { port, specs } = spyPort()
    await validateCheck(port, rows, { timeoutSeconds: 5 })
    await indexAdvice(port, rows, { timeoutSeconds: 5 })
    expect(specs).toEqual([
      { fn: 'validate_check', spec: SENT.spy_rows },
      { fn: 'index_advice', spec: SENT.spy_rows },
    ])
  })

  it('a kind this code does not know loses the runner fields only (SQL names the kind)', async () => {
    const { port, specs } = spyPort()
    await runCheck(port, { ...rows, kind: 'later_kind', extra: 1 } as unknown as ResolvedCheck)
    expect(specs[0]?.spec).toEqual({ ...SENT.spy_rows, kind: 'later_kind', extra: 1 })
  })
})
