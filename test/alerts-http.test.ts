// The HTTP API's alert surfaces: "notify": true on POST /runs and
// POST /checks/:name/run, and GET /health?deep=1 (the monitor's staleness),
// while plain GET /health stays free of secrets and of any database call.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest'
import { parseCatalog } from '../checks/catalog.ts'
import { type AlertServices, createApp } from '../functions/app.ts'
import { engines, useDatabase } from './support/databases.ts'
import { type SlackReceiver, startSlackReceiver } from './support/slack-receiver.ts'

const TOKEN = 'alerts-http-token-0123456789'
const auth = { Authorization: `Bearer ${TOKEN}` }
const post = (body: unknown) => ({
  method: 'POST',
  headers: { ...auth, 'content-type': 'application/json' },
  body: JSON.stringify(body),
})
// biome-ignore lint/suspicious/noExplicitAny: JSON under test
const readJson = (res: Response): Promise<any> => res.json()

const catalog = parseCatalog({
  checks: [
    { name: 'orders_ref_dups', kind: 'duplicates', table: 'api_alerts.orders', columns: ['ref'] },
    { name: 'orders_id_unique', kind: 'duplicates', table: 'api_alerts.orders', columns: ['id'] },
  ],
})

describe.each(engines())('HTTP alerts on %s', (engine) => {
  const database = useDatabase(engine)
  let slack: SlackReceiver
  const opened = vi.fn()
  const makeApp = (alerts: AlertServices | undefined) =>
    createApp(() => ({
      catalog,
      token: TOKEN,
      withDatabase: (use) => {
        opened()
        return use(database().db)
      },
      ...(alerts ? { alerts } : {}),
    }))
  let app: ReturnType<typeof makeApp>

  beforeAll(async () => {
    slack = await startSlackReceiver()
    app = makeApp({
      webhooks: { default: slack.url },
      databaseLabel: 'api-test',
      sleep: async () => {},
    })
    await database().exec(`
      create schema api_alerts;
      create table api_alerts.orders (id int primary key, ref text);
      insert into api_alerts.orders select g, 'r' || (g % 5) from generate_series(1, 20) g;
    `)
  })
  afterAll(async () => {
    await slack.close()
  })

  it('POST /runs {"notify": true}: the run, plus what was sent', async () => {
    const res = await app.request('/runs', post({ notify: true }))
    expect(res.status).toBe(200)
    const body = await readJson(res)
    expect(body.results.map((r: { status: string }) => r.status)).toEqual(['fail', 'pass'])
    expect(body.notify.alerts).toEqual([
      expect.objectContaining({ check: 'orders_ref_dups', transition: 'firing', status: 'fail' }),
    ])
    expect(body.notify.delivered).toEqual([
      expect.objectContaining({ status: 'sent', attempts: 1, http_status: 200 }),
    ])
    expect(JSON.stringify(body)).not.toContain(slack.url)
    expect(slack.accepted().map((r) => r.body.text)).toEqual([
      'dq-monitor: 1 failing: orders_ref_dups',
    ])
    expect(JSON.stringify(slack.requests[0]?.body)).toContain('database api-test')
  })

  it('POST /checks/:name/run {"notify": true} with nothing new: no message', async () => {
    const res = await app.request('/checks/orders_ref_dups/run', post({ notify: true }))
    expect(res.status).toBe(200)
    const body = await readJson(res)
    expect(body.notify).toMatchObject({ alerts: [], messages: [], delivered: [], problems: [] })
    expect(slack.requests).toHaveLength(1)
  })

  it('without "notify" nothing is decided nor sent, even when the state changes', async () => {
    await database().exec(`update api_alerts.orders set ref = 'u' || id`)
    const body = await readJson(await app.request('/runs', post({})))
    expect(body.notify).toBeUndefined()
    expect(slack.requests).toHaveLength(1)
    // The next notifying run still announces the recovery on-call has not heard of.
    const notified = await readJson(
      await app.request('/checks/orders_ref_dups/run', post({ notify: true })),
    )
    expect(notified.notify.alerts).toEqual([
      expect.objectContaining({ check: 'orders_ref_dups', transition: 'resolved' }),
    ])
    expect(slack.accepted().at(-1)?.body.text).toBe('dq-monitor: 1 recovered: orders_ref_dups')
  })

  it('Slack failing never fails the request: the run answers 200 with the problem', async () => {
    await database().exec(`update api_alerts.orders set ref = 'r' || (id % 5)`)
    slack.script({ status: 404, body: 'no_service' })
    const res = await app.request('/runs', post({ notify: true, checks: ['orders_ref_dups'] }))
    expect(res.status).toBe(200)
    const body = await readJson(res)
    expect(body.results[0].status).toBe('fail')
    expect(body.notify.problems).toEqual([
      expect.stringMatching(/^Slack refused message \d+: HTTP 404: no_service/),
    ])
  })

  it('"notify": true without SLACK_WEBHOOK_URL: 500 config error, nothing runs', async () => {
    const bare = makeApp(undefined)
    const before = await database().query<{ n: number }>('select count(*)::int as n from dq.runs')
    const res = await bare.request('/runs', post({ notify: true }))
    expect(res.status).toBe(500)
    const body = await readJson(res)
    expect(body.error.code).toBe('config')
    expect(body.error.message).toContain('set SLACK_WEBHOOK_URL')
    const after = await database().query<{ n: number }>('select count(*)::int as n from dq.runs')
    expect(after[0]?.n).toBe(before[0]?.n)
  })

  it('GET /health: no token, no database call; ?deep=1 needs the token', async () => {
    opened.mockClear()
    const plain = await app.request('/health')
    expect(plain.status).toBe(200)
    expect(await readJson(plain)).toEqual({ status: 'ok', service: 'dq-monitor' })
    expect(opened).not.toHaveBeenCalled()
    expect((await app.request('/health?deep=1')).status).toBe(401)
    expect(opened).not.toHaveBeenCalled()
  })

  it('GET /health?deep=1: ok with the last heartbeat, 503 when stale', async () => {
    const none = await app.request('/health?deep=1', { headers: auth })
    expect(none.status).toBe(200)
    expect(await readJson(none)).toMatchObject({
      status: 'ok',
      monitor: { last_beat_at: null, stale: false, note: expect.any(String) },
    })
    await database().exec(`
      insert into dq.monitor_heartbeat (run_id, beat_at, interval_seconds)
      values (gen_random_uuid(), now() - interval '30 minutes', 3600)
      on conflict (singleton) do update set beat_at = excluded.beat_at, interval_seconds = excluded.interval_seconds`)
    const fresh = await readJson(await app.request('/health?deep=true', { headers: auth }))
    expect(fresh).toMatchObject({ status: 'ok', monitor: { stale: false, interval_seconds: 3600 } })
    await database().exec(`update dq.monitor_heartbeat set beat_at = now() - interval '3 hours'`)
    const stale = await app.request('/health?deep=1', { headers: auth })
    expect(stale.status).toBe(503)
    const body = await readJson(stale)
    expect(body).toMatchObject({ status: 'stale', monitor: { stale: true } })
    expect(body.monitor.age_seconds).toBeGreaterThanOrEqual(3 * 3600)
    expect(JSON.stringify(body)).not.toMatch(/postgres|slack|token/i)
  })
})
