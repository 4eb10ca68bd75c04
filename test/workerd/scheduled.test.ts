/**
 * The cron path inside workerd: the Worker's `scheduled` handler runs the
 * checks due at the tick and records one run with trigger "cron"; the same
 * tick delivered twice records one run.
 */
import {
  createExecutionContext,
  createScheduledController,
  waitOnExecutionContext,
} from 'cloudflare:test'
import { env } from 'cloudflare:workers'
import postgres from 'postgres'
import { describe, expect, inject, it, vi } from 'vitest'
import worker from '../../functions/worker.ts'

const hasDatabase = inject('workerdDatabaseUrl') !== ''

async function fire(cron: string, scheduledTime: Date, bindings: object = env) {
  const controller = createScheduledController({ cron, scheduledTime })
  const ctx = createExecutionContext()
  await worker.scheduled(controller, bindings, ctx)
  await waitOnExecutionContext(ctx)
}

describe.runIf(hasDatabase)('scheduled', () => {
  // Not ended: see functions/worker.ts (postgres.js end() in workerd); the runtime closes it.
  const sql = postgres(env.DQ_DATABASE_URL, { max: 1, onnotice: () => {} })

  it('an hourly tick runs the catalog and records one cron run', async () => {
    const at = new Date('2026-11-23T03:00:00Z')
    await fire('0 * * * *', at)
    const runs = await sql`
      select id, trigger, idempotency_key, started_at from dq.runs where idempotency_key = ${`scheduled@${at.toISOString()}`}`
    expect(runs).toHaveLength(1)
    expect(runs[0]?.trigger).toBe('cron')
    const results = await sql`
      select check_name, status, value::float8 as value from dq.results where run_id = ${runs[0]?.id} order by check_name`
    expect(results).toHaveLength(26)
    expect(results.find((r) => r.check_name === 'pwh_experience_key_stale')).toMatchObject({
      status: 'fail',
      value: 8346,
    })
    // One check errors by design: its registry row names a table that does not exist.
    expect(results.filter((r) => r.status === 'error').map((r) => r.check_name)).toEqual([
      'company_news_to_core_gap',
    ])
    // wrangler.toml's default binds no Queue: the tick ran inline, nothing was fanned out.
    expect(env.DQ_QUEUE).toBeUndefined()
    expect(await sql`select run_id from dq.run_fan_out where run_id = ${runs[0]?.id}`).toEqual([])
  })

  it('the same tick delivered twice runs once: one run, and no check "already running"', async () => {
    const at = new Date('2026-11-23T04:00:00Z')
    await Promise.all([fire('0 * * * *', at), fire('0 * * * *', at)])
    await fire('0 * * * *', at)
    const runs = await sql`
      select id, completed from dq.runs where idempotency_key = ${`scheduled@${at.toISOString()}`}`
    expect(runs).toHaveLength(1)
    expect(runs[0]?.completed).toBe(true)
    const results =
      await sql`select check_name, status, error from dq.results where run_id = ${runs[0]?.id}`
    expect(results).toHaveLength(26)
    // One check errors by design: its registry row names a table that does not exist.
    expect(results.filter((r) => r.status === 'error').map((r) => r.check_name)).toEqual([
      'company_news_to_core_gap',
    ])
  })

  it('two triggers firing in the same minute run the checks once', async () => {
    const at = new Date('2026-11-23T06:00:00Z')
    await Promise.all([fire('0 * * * *', at), fire('0 */6 * * *', at)])
    const runs = await sql`
      select id from dq.runs where idempotency_key = ${`scheduled@${at.toISOString()}`}`
    expect(runs).toHaveLength(1)
    // No "already running" error: only the check that errors by design (its table does not exist).
    const errors = await sql`
      select check_name from dq.results where run_id = ${runs[0]?.id} and status = 'error'`
    expect(errors.map((e) => e.check_name)).toEqual(['company_news_to_core_gap'])
  })

  it('a malformed Slack secret turns alerts off, not the monitor: the run is recorded', async () => {
    const at = new Date('2026-11-23T07:00:00Z')
    await fire('0 * * * *', at, { ...env, SLACK_WEBHOOK_URL: 'not-a-url' })
    const runs = await sql`
      select id from dq.runs where idempotency_key = ${`scheduled@${at.toISOString()}`}`
    expect(runs).toHaveLength(1)
    const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} }
    const bindings = { ...env, SLACK_WEBHOOK_URL: 'not-a-url' }
    const headers = {
      Authorization: `Bearer ${env.DQ_API_TOKEN}`,
      'content-type': 'application/json',
    }
    const listed = await worker.fetch(
      new Request('http://dq.test/checks', { headers }),
      bindings,
      ctx as never,
    )
    expect(listed.status).toBe(200)
    const notify = await worker.fetch(
      new Request('http://dq.test/runs', { method: 'POST', headers, body: '{"notify":true}' }),
      bindings,
      ctx as never,
    )
    expect(notify.status).toBe(500)
    const body = (await notify.json()) as { error: { code: string; message: string } }
    expect(body.error.code).toBe('config')
    expect(body.error.message).toContain('SLACK_WEBHOOK_URL')
    expect(body.error.message).not.toContain('not-a-url')
  })

  it('a malformed DQ_COUNTS_SETTLE_SECONDS fails the tick naming it, and records nothing', async () => {
    const at = new Date('2026-11-23T08:00:00Z')
    const logged = vi.spyOn(console, 'error').mockImplementation(() => {})
    try {
      await fire('0 * * * *', at, { ...env, DQ_COUNTS_SETTLE_SECONDS: 'soon' })
      expect(logged.mock.calls.flat().join('\n')).toMatch(
        /scheduled run failed: DQ_COUNTS_SETTLE_SECONDS must be a whole number from 0 to 600/,
      )
    } finally {
      logged.mockRestore()
    }
    const runs = await sql`
      select id from dq.runs where idempotency_key = ${`scheduled@${at.toISOString()}`}`
    expect(runs).toHaveLength(0)
  })

  it('a tick at which no check is due records nothing', async () => {
    const before = await sql`select count(*)::int as n from dq.runs`
    await fire('30 * * * *', new Date('2026-11-23T05:30:00Z'))
    const after = await sql`select count(*)::int as n from dq.runs`
    expect(after[0]?.n).toBe(before[0]?.n)
  })
})
