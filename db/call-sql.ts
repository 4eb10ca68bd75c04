/**
 * `select dq.fn(a => $1, b => $2)`: how the direct adapters (PGlite,
 * node-postgres) spell a port call. Function and argument names come from
 * our own code, never from users; they are still checked so nothing but an
 * identifier can reach the SQL text.
 *
 * @example
 * ```ts
 * callSql('check_history', { check_name: 'x', max_results: 5 })
 * // { text: 'select dq.check_history(check_name => $1, max_results => $2) as result', values: ['x', 5] }
 * ```
 */
import { DqError } from '../kernel/errors.ts'

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/

export function callSql(
  fn: string,
  args: Record<string, unknown>,
): { text: string; values: unknown[] } {
  const names = Object.keys(args)
  for (const name of [fn, ...names]) {
    if (!IDENTIFIER.test(name))
      throw new DqError('internal', `not a dq function or argument name: "${name}"`)
  }
  const list = names.map((name, index) => `${name} => $${index + 1}`).join(', ')
  return {
    text: `select dq.${fn}(${list}) as result`,
    values: names.map((name) => args[name] ?? null),
  }
}
