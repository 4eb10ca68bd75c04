/**
 * End to end with the real toolchain: `wrangler dev --test-scheduled` serves
 * the Worker locally (bundled by wrangler, run by workerd) against real
 * PostgreSQL; firing `/__scheduled` writes a cron run to history, and the HTTP
 * API answers through the same server.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SEED_FILE } from '../db/migrations.ts'
import { engines, openTestDatabase, type TestDatabase } from './support/databases.ts'
import { freePort } from './support/ports.ts'

const TOKEN = 'wrangler-dev-test-token-0123456789'

const started: ChildProcess[] = []

/** Starts `wrangler dev` and resolves once it serves requests (killed in afterAll, even on failure). */
async function startWranglerDev(port: number, databaseUrl: string) {
  const child = spawn(
    'node_modules/.bin/wrangler',
    [
      'dev',
      '--test-scheduled',
      '--ip',
      '127.0.0.1',
      '--port',
      String(port),
      '--inspector-port',
      String(await freePort()),
      '--var',
      `DQ_API_TOKEN:${TOKEN}`,
      '--var',
      `DQ_DATABASE_URL:${databaseUrl}`,
    ],
    {
      env: { ...process.env, CI: 'true', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  started.push(child)
  let output = ''
  child.stdout?.on('data', (chunk) => {
    output += chunk
  })
  child.stderr?.on('data', (chunk) => {
    output += chunk
  })
  const deadline = Date.now() + 150_000
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`wrangler dev exited:\n${output}`)
    try {
      const response = await fetch(`http://127.0.0.1:${port}/health`)
      if (response.ok) return { output: () => output }
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 250))
  }
  child.kill()
  throw new Error(`wrangler dev did not start in 150 s:\n${output}`)
}

describe.runIf(engines().includes('postgres'))('wrangler dev --test-scheduled', () => {
  let database: TestDatabase & { close(): Promise<void> }
  let base = ''
  let output = () => ''

  beforeAll(async () => {
    database = await openTestDatabase('postgres')
    await database.db.migrate()
    await database.exec(await readFile(SEED_FILE, 'utf8'))
    const port = await freePort()
    const dev = await startWranglerDev(port, database.url as string)
    output = dev.output
    base = `http://127.0.0.1:${port}`
  }, 200_000)

  afterAll(async () => {
    for (const process of started) process.kill()
    await database?.close()
  })

  it('GET /__scheduled writes a cron run with every check to history', async () => {
    // /__scheduled fires "now", mid-hour: the Worker runs the hourly tick it belongs to.
    const tick = new Date(Math.floor(Date.now() / 3_600_000) * 3_600_000)
    const response = await fetch(`${base}/__scheduled?cron=${encodeURIComponent('0 * * * *')}`)
    expect(response.status).toBe(200)
    // scheduled() hands the run to waitUntil: poll history until it is complete (up to
    // 150 s: in an hour's first minute the tick first waits for the change counters to
    // settle, DQ_COUNTS_SETTLE_SECONDS, 61 s by default).
    let runs: { id: string; trigger: string; idempotency_key: string }[] = []
    for (let attempt = 0; attempt < 750 && runs.length === 0; attempt++) {
      runs = await database.query(
        `select id, trigger, idempotency_key from dq.runs where trigger = 'cron' and completed`,
      )
      if (runs.length === 0) await new Promise((resolve) => setTimeout(resolve, 200))
    }
    expect(runs, `wrangler dev said:\n${output()}`).toHaveLength(1)
    // (or the next hour's, should the hour turn during the request)
    const next = new Date(tick.getTime() + 3_600_000)
    expect([tick, next].map((t) => `scheduled@${t.toISOString()}`)).toContain(
      runs[0]?.idempotency_key,
    )
    const results = await database.query<{ check_name: string; status: string; value: string }>(
      `select check_name, status, value from dq.results where run_id = '${runs[0]?.id}'`,
    )
    expect(results).toHaveLength(26)
    // One check errors by design: its registry row names a table that does not exist.
    expect(results.filter((r) => r.status === 'error').map((r) => r.check_name)).toEqual([
      'company_news_to_core_gap',
    ])
    expect(results.find((r) => r.check_name === 'breezeway_task_comments_duplicates')?.value).toBe(
      '14194',
    )
  }, 180_000)

  it('serves the HTTP API: a bearer-authenticated run of one check', async () => {
    const unauthorized = await fetch(`${base}/checks`)
    expect(unauthorized.status).toBe(401)
    const response = await fetch(`${base}/checks/pwh_experience_key_stale/run`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${TOKEN}` },
    })
    expect(response.status).toBe(200)
    const run = (await response.json()) as { trigger: string; results: { value: number }[] }
    expect(run.trigger).toBe('http')
    expect(run.results[0]?.value).toBe(8346)
  })
})
