// Alert configuration: webhook URLs validated but never echoed; database labels
// that never carry a connection string.
import { describe, expect, it } from 'vitest'
import { DqError } from '../../kernel/errors.ts'
import { alertSettings, databaseLabel, webhookFor, webhooksFrom } from './index.ts'

describe('webhooksFrom', () => {
  it('SLACK_WEBHOOK_URL, optional SLACK_WEBHOOK_URL_CRITICAL; blank means unset', () => {
    expect(webhooksFrom({})).toBeUndefined()
    expect(webhooksFrom({ SLACK_WEBHOOK_URL: '  ' })).toBeUndefined()
    expect(webhooksFrom({ SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/x' })).toEqual({
      default: 'https://hooks.slack.com/services/T/B/x',
    })
    const both = webhooksFrom({
      SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T/B/x',
      SLACK_WEBHOOK_URL_CRITICAL: 'https://hooks.slack.com/services/T/B/crit',
    })
    expect(both && webhookFor(both, 'critical')).toBe('https://hooks.slack.com/services/T/B/crit')
    expect(both && webhookFor(both, 'default')).toBe('https://hooks.slack.com/services/T/B/x')
    expect(webhookFor({ default: 'https://a.example/x' }, 'critical')).toBe('https://a.example/x')
  })

  it('an invalid value is a config error that never quotes the value', () => {
    let error: unknown
    try {
      webhooksFrom({ SLACK_WEBHOOK_URL: 'ftp://secret-token@example' })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(DqError)
    expect((error as DqError).code).toBe('config')
    expect((error as DqError).message).toContain('SLACK_WEBHOOK_URL: must be the https:// URL')
    expect((error as DqError).message).not.toContain('secret-token')
    expect(() =>
      webhooksFrom({ SLACK_WEBHOOK_URL_CRITICAL: 'https://hooks.slack.com/services/T/B/c' }),
    ).toThrow(/SLACK_WEBHOOK_URL_CRITICAL is set but SLACK_WEBHOOK_URL is not/)
  })
})

describe('databaseLabel', () => {
  it.each([
    ['postgres://dq:secret@db.internal:5432/app?sslmode=require', 'db.internal/app'],
    ['postgres://dq@db.internal:5432/app', 'db.internal/app'],
    ['pglite:memory', 'pglite:memory'],
    ['pglite:/home/me/dq-data/', 'pglite:dq-data'],
    ['abc.supabase.co', 'abc.supabase.co'],
  ])('%s → %s', (label, expected) => {
    expect(databaseLabel(label)).toBe(expected)
  })

  it('DQ_DATABASE_LABEL wins', () => {
    expect(databaseLabel('postgres://dq@db/app', 'prod analytics')).toBe('prod analytics')
  })
})

describe('alertSettings (the Worker: a bad setting turns alerts off, never throws)', () => {
  it('valid settings: the webhooks and the label', () => {
    expect(
      alertSettings({
        SLACK_WEBHOOK_URL: 'https://hooks.slack.com/services/T0/B0/x',
        DQ_DATABASE_LABEL: 'production',
      }),
    ).toEqual({
      webhooks: { default: 'https://hooks.slack.com/services/T0/B0/x' },
      label: 'production',
    })
  })

  it('a malformed URL: no webhooks, a problem naming the setting but not its value', () => {
    const settings = alertSettings({
      SLACK_WEBHOOK_URL: 'not-a-secret-url',
      DQ_DATABASE_LABEL: 'prod',
    })
    expect(settings.webhooks).toBeUndefined()
    expect(settings.label).toBe('prod')
    expect(settings.problem).toContain('SLACK_WEBHOOK_URL')
    expect(settings.problem).not.toContain('not-a-secret-url')
  })

  it('nothing set: alerts off without a problem', () => {
    expect(alertSettings({})).toEqual({})
  })
})
