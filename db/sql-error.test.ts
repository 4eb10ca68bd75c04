// Each permission error says its own fix: the schema dq, a user schema, a
// table, a function, a superuser power, becoming the monitor role.
import { describe, expect, it } from 'vitest'
import { connectionError, databaseError, isConnectionError } from './sql-error.ts'

const denied = (message: string) => Object.assign(new Error(message), { code: '42501' })

describe('42501: one hint per case', () => {
  it.each([
    ['permission denied for schema dq', /cannot use schema dq: grant dq_monitor to it/],
    ['permission denied for schema core', /grant usage on schema core to dq_monitor/],
    ['permission denied for table person_work_history', /grant select on it to dq_monitor/],
    ['permission denied for view active_people', /cannot read active_people: grant select/],
    ['permission denied for sequence ids', /cannot use a sequence \(nextval writes\)/],
    [
      'permission denied for function dq.run_check',
      /cannot run the dq functions: grant dq_monitor/,
    ],
    ['permission denied for function lo_import', /lo_import reads or writes files on the server/],
    [
      'permission denied for function shop.secret_fn',
      /grant execute on function shop\.secret_fn to dq_monitor/,
    ],
    ['must be superuser to call this', /without superuser powers/],
    [
      'must be a member of the role whose process is being terminated or member of pg_signal_backend',
      /without superuser powers/,
    ],
    ['permission denied to set role "dq_monitor"', /grant dq_monitor to the login/],
  ])('%s', (message, hint) => {
    const error = databaseError(denied(message))
    expect(error.message).toMatch(hint)
    expect(error.message.startsWith(message)).toBe(true)
  })

  it('no two cases share a hint', () => {
    const hints = [
      'permission denied for schema dq',
      'permission denied for schema core',
      'permission denied for table t',
      'permission denied for function f',
      'must be superuser',
      'permission denied to set role "dq_monitor"',
    ].map((m) => databaseError(denied(m)).message.replace(/^[^(]*/, ''))
    expect(new Set(hints).size).toBe(hints.length)
  })
})

describe('connections', () => {
  it.each([
    [
      Object.assign(new Error('terminating connection due to administrator command'), {
        code: '57P01',
      }),
    ],
    [new Error('Connection terminated unexpectedly')],
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5999'), { code: 'ECONNREFUSED' })],
    [Object.assign(new Error('the database system is starting up'), { code: '57P03' })],
  ])('%s is a connection error', (error) => {
    expect(isConnectionError(error)).toBe(true)
  })

  it('a statement error is not', () => {
    expect(isConnectionError(Object.assign(new Error('division by zero'), { code: '22012' }))).toBe(
      false,
    )
  })

  it('lost during a call vs unavailable at connect', () => {
    const error = new Error('Connection terminated unexpectedly')
    expect(connectionError(error, 'call', 'run_check')).toMatchObject({
      code: 'connection_lost',
      message: expect.stringMatching(/^connection lost while running dq\.run_check/),
    })
    expect(connectionError(error, 'connect')).toMatchObject({
      code: 'unavailable',
      message: expect.stringMatching(/^database unavailable/),
    })
  })
})
