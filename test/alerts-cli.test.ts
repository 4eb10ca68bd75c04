// The alert surfaces of the dq CLI, as a user runs them (a separate process,
// real files, a real HTTP receiver playing Slack): run --notify, alerts
// preview, demo. Slack problems are reported and never change the exit code.
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { PGliteDatabase } from '../db/pglite.ts'
import { type SlackReceiver, startSlackReceiver } from './support/slack-receiver.ts'

const exec = promisify(execFile)

async function dq(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await exec(process.execPath, ['bin/dq.js', ...args], {
      env: {
        ...process.env,
        NO_COLOR: '1',
        DQ_DATABASE_URL: '',
        DQ_CATALOG: '',
        SLACK_WEBHOOK_URL: '',
        SLACK_WEBHOOK_URL_CRITICAL: '',
        DQ_DATABASE_LABEL: '',
        ...env,
      },
    })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

const catalog = {
  checks: [
    {
      name: 'orders_ref_dups',
      kind: 'duplicates',
      table: 'shop.orders',
      columns: ['ref'],
      owner: '@shop',
    },
  ],
}

describe('dq and Slack', () => {
  let dir: string
  let db: string
  let catalogFile: string
  let slack: SlackReceiver
  const breakData = `update shop.orders set ref = 'r' || (id % 4)`
  const fixData = `update shop.orders set ref = 'u' || id`

  async function sql(text: string) {
    const local = await PGliteDatabase.open(join(dir, 'pgdata'))
    try {
      await local.exec(text)
    } finally {
      await local.close()
    }
  }

  const run = (extra: string[] = [], env: Record<string, string> = {}) =>
    dq(['run', '--catalog', catalogFile, '--db', db, ...extra], {
      SLACK_WEBHOOK_URL: slack.url,
      ...env,
    })

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dq-alerts-cli-'))
    db = `pglite:${join(dir, 'pgdata')}`
    catalogFile = join(dir, 'catalog.json')
    await writeFile(catalogFile, JSON.stringify(catalog))
    const local = await PGliteDatabase.open(join(dir, 'pgdata'))
    await local.migrate()
    await local.exec(`
      create schema shop;
      grant usage on schema shop to dq_monitor;
      create table shop.orders (id int primary key, ref text);
      insert into shop.orders select g, 'u' || g from generate_series(1, 20) g;
      grant select on shop.orders to dq_monitor;`)
    await local.close()
  })

  afterAll(async () => {
    await rm(dir, { recursive: true, force: true })
  })

  beforeEach(async () => {
    slack = await startSlackReceiver()
  })
  afterEach(async () => {
    await slack.close()
  })

  it('--help documents --notify and dq alerts preview', async () => {
    expect((await dq(['run', '--help'])).stdout).toContain('--notify')
    const help = await dq(['alerts', '--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('Usage: dq alerts preview')
    expect((await dq(['--help'])).stdout).toContain('SLACK_WEBHOOK_URL')
    expect((await dq(['alerts'])).code).toBe(2)
    expect((await dq(['alerts', 'send'])).stderr).toContain('unknown subcommand "send"')
  })

  it('--notify without SLACK_WEBHOOK_URL is invalid input (exit 2), said before anything runs', async () => {
    const result = await dq(['run', '--catalog', catalogFile, '--db', db, '--notify'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('--notify needs SLACK_WEBHOOK_URL')
    expect(result.stderr).not.toContain('[1/1]')
    const bad = await dq(['run', '--catalog', catalogFile, '--db', db, '--notify'], {
      SLACK_WEBHOOK_URL: 'not a url, but a secret',
    })
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain(
      'SLACK_WEBHOOK_URL: must be the https:// URL of a Slack incoming webhook',
    )
    expect(bad.stderr).not.toContain('a secret')
  })

  it('run --notify posts once when a check starts failing; exit code is the checks’ own', async () => {
    await sql(breakData)
    const first = await run(['--notify'])
    expect(first.code).toBe(1)
    expect(first.stdout).toMatch(/FAIL\s+orders_ref_dups/)
    expect(first.stderr).toContain('dq run: alerts: 1 firing; 1 Slack message queued')
    expect(first.stderr).toMatch(/dq run: Slack message \d+ sent \(1 attempt\)/)
    expect(slack.accepted().map((r) => r.body.text)).toEqual([
      'dq-monitor: 1 failing: orders_ref_dups',
    ])
    expect(JSON.stringify(slack.requests[0]?.body)).not.toContain(dir) // no connection string

    const second = await run(['--notify'])
    expect(second.code).toBe(1)
    expect(second.stderr).toContain('dq run: alerts: nothing new to tell on-call')
    expect(slack.requests).toHaveLength(1)
  })

  it('dq alerts preview: nothing already told is repeated; --all and --json show the message', async () => {
    const preview = await dq(['alerts', 'preview', '--catalog', catalogFile, '--db', db])
    expect(preview.code).toBe(0)
    expect(preview.stdout).toContain('nothing to send')
    const all = await dq(['alerts', 'preview', '--catalog', catalogFile, '--db', db, '--all'])
    expect(all.stdout).toContain('--- to SLACK_WEBHOOK_URL ---')
    expect(all.stdout).toContain(':red_circle: *orders_ref_dups* FAIL (new)')
    expect(all.stdout).toContain('Reproduce: `dq run --check orders_ref_dups`')
    const json = await dq([
      'alerts',
      'preview',
      '--catalog',
      catalogFile,
      '--db',
      db,
      '--all',
      '--json',
    ])
    const body = JSON.parse(json.stdout)
    expect(body.messages[0].payload.text).toBe('dq-monitor: 1 failing: orders_ref_dups')
    expect(slack.requests).toHaveLength(0) // preview never sends
  })

  it('Slack refusing (410) is reported on stderr and in --json; the exit code does not change', async () => {
    await sql(fixData)
    slack.script({ status: 410, body: 'channel_is_archived' })
    const result = await run(['--notify', '--json'])
    expect(result.code).toBe(0) // every check passes
    const json = JSON.parse(result.stdout)
    expect(json.results[0].status).toBe('pass')
    expect(json.notify.alerts).toEqual([
      expect.objectContaining({ check: 'orders_ref_dups', transition: 'resolved' }),
    ])
    expect(json.notify.delivered).toEqual([
      expect.objectContaining({ status: 'failed', http_status: 410 }),
    ])
    expect(json.notify.problems[0]).toMatch(
      /Slack refused message \d+: HTTP 410: channel_is_archived/,
    )
    expect(JSON.stringify(json)).not.toContain(slack.url)
    expect(result.stderr).toContain('channel_is_archived')
  })

  it('Slack rate-limiting for long: the message waits in the outbox and the next --notify sends it', async () => {
    await sql(breakData)
    slack.script({ status: 429, body: 'rate_limited', headers: { 'retry-after': '600' } })
    const limited = await run(['--notify'])
    expect(limited.code).toBe(1)
    expect(limited.stderr).toMatch(/not sent yet: HTTP 429: rate_limited .*kept in the outbox/)
    // A run right after respects Slack's Retry-After: nothing sent, and it says until when.
    const early = await run(['--notify'])
    expect(early.stderr).toContain('alerts: nothing new to tell on-call')
    expect(early.stderr).toMatch(/Slack message \d+ waits until .*Slack asked to retry later/)
    expect(slack.accepted()).toEqual([])
    await sql(`update dq.alert_outbox set not_before = now() - interval '1 second'`)
    const next = await run(['--notify'])
    expect(next.stderr).toMatch(/Slack message \d+ sent \(1 attempt\)/)
    expect(slack.accepted().map((r) => r.body.text)).toEqual([
      'dq-monitor: 1 failing: orders_ref_dups',
    ])
  })

  it('dq demo shows the message, and posts it when SLACK_WEBHOOK_URL is set', async () => {
    const shown = await dq(['demo'])
    expect(shown.code).toBe(0)
    expect(shown.stdout).toContain(
      'The Slack message a monitoring run would post (set SLACK_WEBHOOK_URL to post it):',
    )
    expect(shown.stdout).toContain(':rotating_light: dq-monitor: 20 failing')

    const posted = await dq(['demo'], { SLACK_WEBHOOK_URL: slack.url })
    expect(posted.code).toBe(0)
    expect(posted.stdout).toContain('Posted to Slack:')
    expect(slack.accepted()).toHaveLength(1)
    expect(slack.accepted()[0]?.body.text).toMatch(/^dq-monitor: 20 failing: /)
  })
})
