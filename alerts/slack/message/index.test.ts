// The Slack message: Block Kit limits under any number of alerts, and data that
// can never become a mention, a link or a leaked secret.
import { describe, expect, it } from 'vitest'
import type { CheckResult, Status } from '../../../checks/result.ts'
import type { Alert } from '../../policy/index.ts'
import type { SlackPayload } from '../../store/index.ts'
import {
  codeSpan,
  errorText,
  escapeText,
  redactSecrets,
  truncate,
  truncateEscaped,
} from '../text/index.ts'
import {
  LIMITS,
  MAX_SECTIONS,
  type MessageContext,
  renderMessage,
  renderMessages,
} from './index.ts'

const AT = '2026-11-23T10:00:00.000Z'

function failing(check: string, overrides: Partial<CheckResult> = {}): Alert {
  const status: Status = overrides.status ?? 'fail'
  return {
    dedup_key: `${check}/${status === 'error' ? 'error' : 'threshold'}`,
    alert_kind: status === 'error' ? 'error' : 'threshold',
    transition: 'firing',
    check,
    status,
    previous: 'pass',
    severity: 'critical',
    route: 'default',
    opened_at: AT,
    last_notified_at: null,
    result: {
      check,
      kind: 'duplicates',
      status,
      severity: 'critical',
      owner: null,
      value: 42,
      threshold: { fail: 0, metric: 'count' },
      details: { rows: 100, groups: 7, extra_rows: 42, largest_group: 9, unique_index: false },
      sample: [{ id: 1 }, { id: 2 }, { id: 3 }, { id: 4 }],
      duration_ms: 5,
      error: null,
      error_code: null,
      ...overrides,
    },
  }
}

const context = (checks: MessageContext['checks'] = []): MessageContext => ({
  run_id: '9a400dad-e7c9-47b9-bbcb-02d8def1eb1e',
  trigger: 'cron',
  started_at: AT,
  database: 'prod/app',
  checks,
})

/** Every piece of text in a message, for "appears nowhere" assertions. */
function allText(payload: SlackPayload): string {
  return JSON.stringify(payload)
}

function sectionTexts(payload: SlackPayload): string[] {
  return payload.blocks
    .filter((b) => b.type === 'section')
    .map((b) => (b as { text: { text: string } }).text.text)
}

describe('Block Kit limits', () => {
  it('60 failing checks: at most 50 blocks, 3000 characters a section, the rest as "+N more"', () => {
    const alerts = Array.from({ length: 60 }, (_, i) =>
      failing(`check_${String(i).padStart(2, '0')}_${'x'.repeat(50)}`, {
        sample: [
          { blob: 'y'.repeat(5000) },
          { blob: 'z'.repeat(5000) },
          { blob: 'w'.repeat(5000) },
        ],
        error: null,
      }),
    )
    const payload = renderMessage(alerts, context())
    expect(payload.blocks.length).toBeLessThanOrEqual(LIMITS.blocks)
    const sections = sectionTexts(payload)
    expect(sections).toHaveLength(MAX_SECTIONS + 1)
    for (const text of sections) expect(text.length).toBeLessThanOrEqual(LIMITS.section)
    expect(sections.at(-1)).toMatch(/^\*\+40 more:\* check_20_x+ \(FAIL, new\), check_21/)
    const header = payload.blocks[0] as { type: string; text: { text: string } }
    expect(header.type).toBe('header')
    expect(header.text.text).toBe(':rotating_light: dq-monitor: 60 failing')
    expect(header.text.text.length).toBeLessThanOrEqual(LIMITS.header)
    expect(payload.text.length).toBeLessThanOrEqual(LIMITS.text)
    expect(payload.text).toMatch(/^dq-monitor: 60 failing: check_00_x+, .*, \+55 more$/)
    expect(payload.blocks.at(-1)?.type).toBe('context')
  })

  it('the "+N more" section stays under 3000 characters with thousands of alerts', () => {
    const alerts = Array.from({ length: 2000 }, (_, i) => failing(`c${i}_${'q'.repeat(60)}`))
    const payload = renderMessage(alerts, context())
    expect(payload.blocks.length).toBeLessThanOrEqual(LIMITS.blocks)
    for (const text of sectionTexts(payload))
      expect(text.length).toBeLessThanOrEqual(LIMITS.section)
    expect(sectionTexts(payload).at(-1)).toMatch(/^\*\+1980 more:\*.*…$/)
  })

  it('one message per route, each with its own alerts', () => {
    const messages = renderMessages(
      [failing('a'), { ...failing('b'), route: 'critical' }, failing('c')],
      context(),
    )
    expect(messages.map((m) => [m.route, m.alerts.map((a) => a.dedup_key)])).toEqual([
      ['critical', ['b/threshold']],
      ['default', ['a/threshold', 'c/threshold']],
    ])
    expect(renderMessages([], context())).toEqual([])
  })
})

describe('hostile data', () => {
  const hostile = [
    '<!channel>',
    '<http://evil.example|click me>',
    'fish & chips <b>',
    '`code` *bold* ~strike~',
    'v'.repeat(100_000),
  ]

  it('sample values, descriptions and owners are escaped and truncated', () => {
    const alert = failing('orders_dups', {
      sample: hostile.map((value) => ({ value })),
      owner: '<!channel> @data',
    })
    const payload = renderMessage(
      [alert],
      context([{ name: 'orders_dups', description: `<!here> ${'d'.repeat(10_000)}` }]),
    )
    const text = allText(payload)
    expect(text).not.toContain('<!channel>')
    expect(text).not.toContain('<!here>')
    expect(text).not.toContain('<http://evil.example')
    expect(text).toContain('&lt;!channel&gt;')
    expect(text).toContain('&lt;http://evil.example|click me&gt;')
    expect(text).toContain('fish &amp; chips &lt;b&gt;')
    expect(text).not.toContain('`code`') // a backtick in data cannot close the code span
    expect(text).not.toContain('v'.repeat(200))
    for (const section of sectionTexts(payload)) {
      expect(section.length).toBeLessThanOrEqual(LIMITS.section)
      // Any "<" left is Slack syntax we wrote ourselves; there is none in this message.
      expect(section).not.toMatch(/[<>]/)
    }
  })

  it('hostile check output in the error text and the fallback text is escaped too', () => {
    const alert = failing('orders_dups', {
      status: 'error',
      value: null,
      error: `syntax error at or near "<!channel>" ${'e'.repeat(5000)}`,
    })
    const payload = renderMessage([alert], context())
    const section = sectionTexts(payload)[0] ?? ''
    expect(section).toContain('Error: syntax error at or near "&lt;!channel&gt;"')
    expect(section).toMatch(/e…\n/)
    expect(section.length).toBeLessThan(1000)
    expect(payload.text).toBe('dq-monitor: 1 cannot run: orders_dups')
  })

  it('database errors never carry credentials or connection strings', () => {
    const error =
      'could not connect to postgres://dq:hunter2@db.internal:5432/app?sslmode=require: password=hunter2 rejected; key eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.c2lnbmF0dXJlLXNpZw and https://hooks.slack.com/services/T0/B0/XYZ'
    const payload = renderMessage(
      [failing('x', { status: 'error', value: null, error })],
      context(),
    )
    const text = allText(payload)
    for (const secret of ['hunter2', 'db.internal', 'eyJhbGciOiJIUzI1NiJ9', 'services/T0/B0/XYZ']) {
      expect(text).not.toContain(secret)
    }
    expect(text).toContain('postgres://[redacted]')
  })

  it('a Slack user or group mention written as the owner stays a mention', () => {
    const payload = renderMessage(
      [
        failing('a', { owner: '<!subteam^S0123ABC|@data-oncall>' }),
        failing('b', { owner: '<@U024BE7LH>' }),
      ],
      context([{ name: 'a' }, { name: 'b' }]),
    )
    const [a, b] = sectionTexts(payload)
    expect(a).toContain('Owner: <!subteam^S0123ABC|@data-oncall>')
    expect(b).toContain('Owner: <@U024BE7LH>')
  })
})

describe('what a section says', () => {
  it('status, value vs threshold, the figure for its kind, 3 samples, owner, reproduce command', () => {
    const [section] = sectionTexts(
      renderMessage(
        [failing('orders_dups', { owner: '@shop' })],
        context([{ name: 'orders_dups' }]),
      ),
    )
    expect(section).toBe(
      [
        ':red_circle: *orders_dups* FAIL (new) · critical',
        'Value *42* · fail above 0',
        '7 keys over the limit, 42 extra of 100 rows, largest 9; unique index: no',
        'Sample: `{"id":1}` `{"id":2}` `{"id":3}` (+1)',
        'Owner: @shop · Reproduce: `dq run --check orders_dups`',
      ].join('\n'),
    )
  })

  it('reminders say since when; recoveries what it was and for how long', () => {
    const reminder: Alert = {
      ...failing('a'),
      transition: 'reminder',
      previous: 'fail',
      opened_at: '2026-11-22T08:00:00.000Z',
    }
    const resolved: Alert = {
      ...failing('b', { status: 'pass', value: 0 }),
      transition: 'resolved',
      status: 'pass',
      previous: 'fail',
      opened_at: '2026-11-23T07:00:00.000Z',
    }
    const payload = renderMessage([resolved, reminder], context())
    const [first, second] = sectionTexts(payload)
    expect(first).toMatch(
      /^:red_circle: \*a\* still FAIL since 2026-11-22 08:00 UTC for 1 day 2 hours/,
    )
    expect(second).toMatch(/^:white_check_mark: \*b\* recovered: PASS \(was FAIL for 3 hours\)/)
    expect(second).not.toContain('Sample')
    expect(payload.text).toBe('dq-monitor: 1 still broken: a; 1 recovered: b')
  })

  it('a check that left the catalog is "no longer checked", never counted as recovered', () => {
    const gone: Alert = {
      ...failing('gone_check', { status: 'pass', value: 0 }),
      transition: 'resolved',
      status: 'pass',
      previous: 'fail',
      opened_at: '2026-11-23T07:00:00.000Z',
      removed: true,
    }
    const payload = renderMessage([gone], context())
    const header = payload.blocks[0] as { text: { text: string } }
    expect(header.text.text).toBe(':heavy_minus_sign: dq-monitor: 1 no longer checked')
    expect(payload.text).toBe('dq-monitor: 1 no longer checked: gone_check')
    expect(sectionTexts(payload)[0]).toMatch(
      /^:heavy_minus_sign: \*gone_check\* is no longer checked/,
    )
  })
})

describe('text helpers', () => {
  it('escape only &, < and >', () => {
    expect(escapeText('a & <b> "c"')).toBe('a &amp; &lt;b&gt; "c"')
  })

  it('truncate never splits a surrogate pair nor an entity', () => {
    expect(truncate('ab😀cd', 4)).toBe('ab…')
    expect(truncate('short', 10)).toBe('short')
    expect(truncateEscaped(escapeText('aaaa&&&&'), 8)).toBe('aaaa…')
    expect(truncateEscaped('x&amp;y', 6)).toBe('x…')
  })

  it('redact secrets from free text', () => {
    expect(redactSecrets('https://user:pw@example.com/x')).toBe('https://[redacted]@example.com/x')
    expect(redactSecrets('token: abc123 and apikey=zzz')).toBe(
      'token: [redacted] and apikey=[redacted]',
    )
    expect(errorText(`a\n\n${'b'.repeat(400)}`).length).toBe(300)
  })

  it('codeSpan: JSON, one line, escaped, bounded', () => {
    expect(codeSpan({ a: '<x>' }, 40)).toBe('`{"a":"&lt;x&gt;"}`')
    expect(codeSpan('line\nbreak `tick`', 40)).toBe('`line break ˋtickˋ`')
    expect(codeSpan('z'.repeat(100), 20)).toHaveLength(20)
  })
})
