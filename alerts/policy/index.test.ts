// The alert policy as tables: every transition, the reminder boundary,
// recovery, errors, flapping, severity routing, info silence.
import { describe, expect, it } from 'vitest'
import type { Severity } from '../../checks/catalog.ts'
import { parseCatalog } from '../../checks/catalog.ts'
import type { CheckResult, Status } from '../../checks/result.ts'
import type { AlertState, MonitorStatus } from '../store/index.ts'
import { type Alert, decideAlerts, type PolicyCheck, routeFor, STALE_KEY } from './index.ts'

const T0 = Date.parse('2026-11-23T00:00:00Z')
const MINUTE = 60_000
const HOUR = 60 * MINUTE

function result(check: string, status: Status, severity: Severity = 'warning'): CheckResult {
  return {
    check,
    kind: 'duplicates',
    status,
    severity,
    owner: null,
    value: status === 'error' ? null : status === 'pass' ? 0 : status === 'warn' ? 3 : 50,
    threshold: { warn: 0, fail: 10, metric: 'count' },
    details: {},
    sample: [],
    duration_ms: 1,
    error: status === 'error' ? 'relation "shop.orders" does not exist' : null,
    error_code: status === 'error' ? 'database' : null,
  }
}

/** What the runner reports when another run holds the check (checks/run-checks.ts). */
function running(check: string): CheckResult {
  return {
    ...result(check, 'error'),
    error_code: 'check_running',
    error: `check "${check}" is already running`,
  }
}

/** A step's result: a status, or "running" (skipped: another run holds the check). */
type Step = Status | 'running'

/** Alert state as the database keeps it: decisions applied, versions bumped. */
class Store {
  readonly states = new Map<string, AlertState>()
  apply(decision: ReturnType<typeof decideAlerts>, runId: string) {
    for (const { expected_version, ...s } of decision.states) {
      const version = (this.states.get(s.dedup_key)?.version ?? 0) + 1
      expect(expected_version).toBe(version - 1)
      this.states.set(s.dedup_key, { ...s, run_id: runId, version })
    }
  }
}

const label = (a: Alert) => `${a.alert_kind}:${a.transition}:${a.status}`

/** A check as these tests run it: its results carry this severity. */
type TestCheck = PolicyCheck & { severity: Severity }

/** Runs `statuses` at the given offsets for one check; the labels each run sent. */
function simulate(
  steps: [offsetMs: number, status: Step][],
  check: TestCheck = { name: 'orders', severity: 'warning' },
  store = new Store(),
): string[][] {
  return steps.map(([offset, status], i) => {
    const decision = decideAlerts({
      results: [
        status === 'running'
          ? { ...running(check.name), severity: check.severity }
          : result(check.name, status, check.severity),
      ],
      checks: [check],
      states: [...store.states.values()],
      at: new Date(T0 + offset),
      criticalRoute: false,
    })
    store.apply(decision, `run-${i}`)
    return decision.alerts.map(label)
  })
}

describe('transitions (previous → current, one hour apart)', () => {
  const cases: [Status, Status, string[]][] = [
    ['pass', 'pass', []],
    ['pass', 'warn', ['threshold:firing:warn']],
    ['pass', 'fail', ['threshold:firing:fail']],
    ['pass', 'error', ['error:firing:error']],
    ['warn', 'pass', ['threshold:resolved:pass']],
    ['warn', 'warn', []],
    ['warn', 'fail', ['threshold:firing:fail']],
    ['warn', 'error', ['error:firing:error']],
    ['fail', 'pass', ['threshold:resolved:pass']],
    ['fail', 'warn', []],
    ['fail', 'fail', []],
    ['fail', 'error', ['error:firing:error']],
    ['error', 'pass', ['error:resolved:pass']],
    ['error', 'warn', ['error:resolved:pass', 'threshold:firing:warn']],
    ['error', 'fail', ['error:resolved:pass', 'threshold:firing:fail']],
    ['error', 'error', []],
  ]
  it.each(cases)('%s → %s', (previous, current, expected) => {
    const [, second] = simulate([
      [0, previous],
      [HOUR, current],
    ])
    expect(second).toEqual(expected)
  })

  it('the first run of a check: only a broken one notifies', () => {
    expect(simulate([[0, 'pass']])).toEqual([[]])
    expect(simulate([[0, 'fail']])).toEqual([['threshold:firing:fail']])
    expect(simulate([[0, 'warn']])).toEqual([['threshold:firing:warn']])
    expect(simulate([[0, 'error']])).toEqual([['error:firing:error']])
  })

  it('a passing check with no state writes no state', () => {
    const decision = decideAlerts({
      results: [result('orders', 'pass')],
      checks: [{ name: 'orders' }],
      states: [],
      at: new Date(T0),
      criticalRoute: false,
    })
    expect(decision).toEqual({ alerts: [], states: [] })
  })
})

describe('reminders', () => {
  it('fire exactly when the repeat interval (default 24 h) has passed since the last notification', () => {
    const day = 24 * HOUR
    expect(
      simulate([
        [0, 'fail'],
        [day - 1, 'fail'],
        [day, 'fail'],
        [day + HOUR, 'fail'],
        [2 * day - 1, 'fail'],
        [2 * day, 'fail'],
      ]),
    ).toEqual([
      ['threshold:firing:fail'],
      [],
      ['threshold:reminder:fail'],
      [],
      [],
      ['threshold:reminder:fail'],
    ])
  })

  it('per check: repeatInterval "4 hours"', () => {
    const check = { name: 'orders', severity: 'warning' as const, repeatInterval: '4 hours' }
    expect(
      simulate(
        [
          [0, 'warn'],
          [3 * HOUR, 'warn'],
          [4 * HOUR, 'warn'],
          [8 * HOUR, 'warn'],
        ],
        check,
      ),
    ).toEqual([
      ['threshold:firing:warn'],
      [],
      ['threshold:reminder:warn'],
      ['threshold:reminder:warn'],
    ])
  })

  it('the catalog resolves repeatInterval from the check, then defaults, then 24 hours', () => {
    const catalog = parseCatalog({
      defaults: { repeatInterval: '6 hours' },
      checks: [
        { name: 'a', kind: 'duplicates', table: 't', columns: ['c'] },
        { name: 'b', kind: 'duplicates', table: 't', columns: ['c'], repeatInterval: '30 minutes' },
      ],
    })
    expect(catalog.checks.map((c) => c.repeatInterval)).toEqual(['6 hours', '30 minutes'])
    expect(
      parseCatalog({ checks: [{ name: 'a', kind: 'duplicates', table: 't', columns: ['c'] }] })
        .checks[0]?.repeatInterval,
    ).toBe('24 hours')
    expect(() =>
      parseCatalog({
        checks: [
          { name: 'a', kind: 'duplicates', table: 't', columns: ['c'], repeatInterval: 'daily' },
        ],
      }),
    ).toThrow(/checks\[0\]\.repeatInterval: must be a duration such as "24 hours"/)
  })

  it('a check that improves (fail → warn) is quiet, and reminded as warn when due', () => {
    expect(
      simulate([
        [0, 'fail'],
        [HOUR, 'warn'],
        [24 * HOUR, 'warn'],
      ]),
    ).toEqual([['threshold:firing:fail'], [], ['threshold:reminder:warn']])
  })
})

describe('recovery', () => {
  it('resolved carries what it was and since when', () => {
    const store = new Store()
    simulate([[0, 'fail']], undefined, store)
    const decision = decideAlerts({
      results: [result('orders', 'pass')],
      checks: [{ name: 'orders' }],
      states: [...store.states.values()],
      at: new Date(T0 + 3 * HOUR),
      criticalRoute: false,
    })
    expect(decision.alerts).toEqual([
      expect.objectContaining({
        dedup_key: 'orders/threshold',
        transition: 'resolved',
        status: 'pass',
        previous: 'fail',
        opened_at: new Date(T0).toISOString(),
      }),
    ])
    expect(decision.states[0]).toMatchObject({ status: 'pass', opened_at: null })
  })

  it('after recovery, a new failure fires again (a new incident, not a reminder)', () => {
    expect(
      simulate([
        [0, 'fail'],
        [HOUR, 'pass'],
        [2 * HOUR, 'pass'],
        [30 * HOUR, 'fail'],
      ]),
    ).toEqual([
      ['threshold:firing:fail'],
      ['threshold:resolved:pass'],
      [],
      ['threshold:firing:fail'],
    ])
  })
})

describe('errors', () => {
  it('have their own state: an error between failures neither re-fires nor resolves the failure', () => {
    expect(
      simulate([
        [0, 'fail'],
        [HOUR, 'error'],
        [2 * HOUR, 'fail'],
        [3 * HOUR, 'fail'],
      ]),
    ).toEqual([['threshold:firing:fail'], ['error:firing:error'], ['error:resolved:pass'], []])
  })

  it('are reminded like failures, and resolve when the check runs again', () => {
    expect(
      simulate([
        [0, 'error'],
        [HOUR, 'error'],
        [24 * HOUR, 'error'],
        [25 * HOUR, 'pass'],
      ]),
    ).toEqual([['error:firing:error'], [], ['error:reminder:error'], ['error:resolved:pass']])
  })

  it('dedup keys are stable: check name + kind', () => {
    const store = new Store()
    simulate(
      [
        [0, 'fail'],
        [HOUR, 'error'],
      ],
      undefined,
      store,
    )
    expect([...store.states.keys()].sort()).toEqual(['orders/error', 'orders/threshold'])
  })
})

describe('a check another run holds (check_running): no information', () => {
  it.each<Status>(['pass', 'warn', 'fail', 'error'])(
    'after %s: no alert, and the state is not touched',
    (previous) => {
      const store = new Store()
      // A failure before the previous status: there is state to move.
      simulate(
        [
          [-HOUR, 'fail'],
          [0, previous],
        ],
        undefined,
        store,
      )
      expect(store.states.size).toBeGreaterThan(0)
      const decision = decideAlerts({
        results: [running('orders')],
        checks: [{ name: 'orders' }],
        states: [...store.states.values()],
        at: new Date(T0 + 25 * HOUR), // past the reminder interval too
        criticalRoute: false,
      })
      expect(decision).toEqual({ alerts: [], states: [] })
    },
  )

  it('between failures: neither an error firing nor a resolve; the incident goes on', () => {
    expect(
      simulate([
        [0, 'fail'],
        [HOUR, 'running'],
        [2 * HOUR, 'fail'],
        [3 * HOUR, 'pass'],
      ]),
    ).toEqual([['threshold:firing:fail'], [], [], ['threshold:resolved:pass']])
  })

  it('while the check errors: no reminder from it, and the reminder clock is kept', () => {
    expect(
      simulate([
        [0, 'error'],
        [24 * HOUR, 'running'],
        [25 * HOUR, 'error'],
        [26 * HOUR, 'pass'],
      ]),
    ).toEqual([['error:firing:error'], [], ['error:reminder:error'], ['error:resolved:pass']])
  })

  it('any other error still fires', () => {
    const other = { ...result('orders', 'error'), details: { code: 'timeout' } }
    const decision = decideAlerts({
      results: [other],
      checks: [{ name: 'orders' }],
      states: [],
      at: new Date(T0),
      criticalRoute: false,
    })
    expect(decision.alerts.map(label)).toEqual(['error:firing:error'])
  })
})

describe('flapping', () => {
  it('fail, pass, fail within an hour: two firings, one resolved, no reminders', () => {
    const sent = simulate([
      [0, 'fail'],
      [20 * MINUTE, 'pass'],
      [40 * MINUTE, 'fail'],
      [60 * MINUTE, 'fail'],
    ]).flat()
    expect(sent).toEqual([
      'threshold:firing:fail',
      'threshold:resolved:pass',
      'threshold:firing:fail',
    ])
  })
})

describe('severity', () => {
  it('routes critical checks to the critical webhook when there is one', () => {
    expect(routeFor('critical', { critical: true })).toBe('critical')
    expect(routeFor('critical', { critical: false })).toBe('default')
    expect(routeFor('warning', { critical: true })).toBe('default')
    expect(routeFor('info', { critical: true })).toBeNull()
    const decision = decideAlerts({
      results: [
        result('a', 'fail', 'critical'),
        result('b', 'fail', 'warning'),
        result('c', 'error', 'critical'),
      ],
      checks: [{ name: 'a' }, { name: 'b' }, { name: 'c' }],
      states: [],
      at: new Date(T0),
      criticalRoute: true,
    })
    expect(decision.alerts.map((a) => [a.check, a.route])).toEqual([
      ['a', 'critical'],
      ['b', 'default'],
      ['c', 'critical'],
    ])
  })

  it('info never notifies, in any transition, and keeps no state', () => {
    const check = { name: 'quiet', severity: 'info' as const }
    const store = new Store()
    const sent = simulate(
      [
        [0, 'fail'],
        [HOUR, 'error'],
        [2 * HOUR, 'pass'],
        [30 * HOUR, 'warn'],
      ],
      check,
      store,
    ).flat()
    expect(sent).toEqual([])
    expect(store.states.size).toBe(0)
  })
})

describe('concurrency and order', () => {
  it('a run older than the state it would overwrite changes nothing', () => {
    const store = new Store()
    simulate([[2 * HOUR, 'fail']], undefined, store)
    const late = decideAlerts({
      results: [result('orders', 'pass')],
      checks: [{ name: 'orders' }],
      states: [...store.states.values()],
      at: new Date(T0 + HOUR),
      criticalRoute: false,
    })
    expect(late).toEqual({ alerts: [], states: [] })
  })

  it('each state carries the version it was read at', () => {
    const store = new Store()
    simulate([[0, 'fail']], undefined, store)
    const decision = decideAlerts({
      results: [result('orders', 'pass')],
      checks: [{ name: 'orders' }],
      states: [...store.states.values()],
      at: new Date(T0 + HOUR),
      criticalRoute: false,
    })
    expect(decision.states.map((s) => [s.dedup_key, s.expected_version])).toEqual([
      ['orders/threshold', 1],
    ])
  })

  it('results of checks no longer in the catalog are ignored', () => {
    const decision = decideAlerts({
      results: [result('gone', 'fail')],
      checks: [],
      states: [],
      at: new Date(T0),
      criticalRoute: false,
    })
    expect(decision).toEqual({ alerts: [], states: [] })
  })
})

describe('the monitor itself', () => {
  const stale: MonitorStatus = {
    last_run_id: '00000000-0000-4000-8000-000000000001',
    last_beat_at: new Date(T0).toISOString(),
    interval_seconds: 3600,
    stale_after: new Date(T0 + 2 * HOUR).toISOString(),
    age_seconds: 5 * 3600,
    stale: true,
  }

  it('says once that it was down, with the gap', () => {
    const store = new Store()
    const decide = (monitor: MonitorStatus) =>
      decideAlerts({
        results: [],
        checks: [],
        states: [...store.states.values()],
        at: new Date(T0 + 5 * HOUR),
        criticalRoute: true,
        monitor,
      })
    const first = decide(stale)
    expect(first.alerts).toEqual([
      expect.objectContaining({
        dedup_key: STALE_KEY,
        alert_kind: 'stale',
        route: 'default',
        down: {
          since: new Date(T0).toISOString(),
          until: new Date(T0 + 5 * HOUR).toISOString(),
          interval_seconds: 3600,
        },
      }),
    ])
    store.apply(first, 'run-1')
    expect(decide(stale).alerts).toEqual([]) // the same gap, decided again (a retried batch)
    expect(decide({ ...stale, stale: false }).alerts).toEqual([])
  })
})

describe('incremental runs (details.scope "incremental"): they can open an incident, not end one', () => {
  const incremental = (status: Status): CheckResult => ({
    ...result('orders', status),
    details: { scope: 'incremental' },
  })
  const decide = (store: Store, r: CheckResult, offset: number) => {
    const decision = decideAlerts({
      results: [r],
      checks: [{ name: 'orders' }],
      states: [...store.states.values()],
      at: new Date(T0 + offset),
      criticalRoute: false,
    })
    store.apply(decision, `run-${offset}`)
    return decision.alerts.map(label)
  }

  it('a full failure, then incremental passes: no resolve; a full pass resolves', () => {
    const store = new Store()
    expect(decide(store, result('orders', 'fail'), 0)).toEqual(['threshold:firing:fail'])
    expect(decide(store, incremental('pass'), HOUR)).toEqual([])
    expect(decide(store, incremental('warn'), 2 * HOUR)).toEqual([])
    expect(decide(store, result('orders', 'pass'), 3 * HOUR)).toEqual(['threshold:resolved:pass'])
  })

  it('an incremental failure fires', () => {
    const store = new Store()
    expect(decide(store, incremental('pass'), 0)).toEqual([])
    expect(decide(store, incremental('fail'), HOUR)).toEqual(['threshold:firing:fail'])
  })
})
