/**
 * Alerting end to end inside workerd: the Worker's cron handler, a fresh
 * seeded database on real PostgreSQL, and a real HTTP server playing Slack.
 * The first tick posts one message naming every failing check, the next
 * hourly tick posts nothing, and after one incident is fixed, one recovery.
 */
import {
  createExecutionContext,
  createScheduledController,
  waitOnExecutionContext,
} from 'cloudflare:test'
import postgres from 'postgres'
import { describe, expect, inject, it } from 'vitest'
import worker from '../../functions/worker.ts'
import { WORKERD_API_TOKEN } from './bindings.ts'

const alerting = inject('workerdAlerts')

type Received = { body: { text?: string; blocks?: unknown[] }; reply: { status?: number } }

async function received(): Promise<Received[]> {
  const response = await fetch(alerting.inspectUrl)
  return ((await response.json()) as Received[]).filter((r) => r.reply.status === 200)
}

describe.runIf(alerting.databaseUrl !== '')('Slack from the cron path', () => {
  const env = {
    DQ_API_TOKEN: WORKERD_API_TOKEN,
    DQ_DATABASE_URL: alerting.databaseUrl,
    SLACK_WEBHOOK_URL: alerting.slackUrl,
    // Its last tick is the current hour: no waiting for the change counters to settle.
    DQ_COUNTS_SETTLE_SECONDS: '0',
  }
  // Consecutive hourly ticks ending at the current hour: the monitor is never "down".
  const hour = Math.floor(Date.now() / 3_600_000) * 3_600_000
  const ticks = [hour - 2 * 3_600_000, hour - 3_600_000, hour].map((t) => new Date(t))

  async function fire(scheduledTime: Date) {
    const controller = createScheduledController({ cron: '0 * * * *', scheduledTime })
    const ctx = createExecutionContext()
    await worker.scheduled(controller, env, ctx)
    await waitOnExecutionContext(ctx)
  }

  it('the first tick posts exactly one message naming every failing check', async () => {
    await fire(ticks[0] as Date)
    const messages = await received()
    expect(messages).toHaveLength(1)
    const text = JSON.stringify(messages[0]?.body)
    for (const failing of [
      'pwh_experience_key_stale',
      'pwh_natural_key_duplicates',
      'pwh_multiple_current_rows',
      'companyenrich_company_updated_at_trigger',
      'person_experience_sync_trigger',
      'updated_at_triggers',
      'breezeway_task_comments_duplicates',
      'breezeway_task_photos_duplicates',
      'person_experience_to_core_gap',
      'company_funding_gap',
      'jobs_raw_vs_enriched',
    ]) {
      expect(text).toContain(failing)
    }
    expect(text).not.toContain('breezeway_task_tags_duplicates') // passing: nothing to say
    expect(text).not.toContain(alerting.databaseUrl)
  })

  it('the next hourly tick, with nothing changed, posts nothing', async () => {
    await fire(ticks[1] as Date)
    expect(await received()).toHaveLength(1)
  })

  it('after one incident is fixed, the next tick posts one recovery', async () => {
    // Not ended: see functions/worker.ts (postgres.js end() in workerd); the runtime closes it.
    const sql = postgres(alerting.databaseUrl, { max: 1, onnotice: () => {} })
    await sql`alter table extracted.person_experience enable trigger trg_sync_person_experience`
    await fire(ticks[2] as Date)
    const messages = await received()
    expect(messages).toHaveLength(2)
    const text = messages[1]?.body.text ?? ''
    expect(text).toContain('person_experience_sync_trigger')
    expect(text.toLowerCase()).toMatch(/resolved|recovered/)
    expect(text).not.toContain('pwh_experience_key_stale')
  })

  it('GET /health?deep=1 needs the token and reports the heartbeat of the cron runs', async () => {
    const ctx = { waitUntil() {}, passThroughOnException() {}, props: {} }
    const deep = (headers: Record<string, string>) =>
      worker.fetch(new Request('http://dq.test/health?deep=1', { headers }), env, ctx as never)
    expect((await deep({})).status).toBe(401)
    const response = await deep({ Authorization: `Bearer ${WORKERD_API_TOKEN}` })
    expect(response.status).toBe(200)
    const body = (await response.json()) as { status: string; monitor: { stale: boolean } }
    expect(body).toMatchObject({ status: 'ok', monitor: { stale: false } })
  })
})
