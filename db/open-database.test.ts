import { PassThrough } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { main } from '../functions/cli/index.ts'
import { chooseDatabase, databaseConfigured } from './open-database.ts'

/** What chooseDatabase says: the adapter it picks, or its error. */
function choice(source: Parameters<typeof chooseDatabase>[0]): string {
  try {
    return chooseDatabase(source).adapter
  } catch (error) {
    return (error as Error).message
  }
}

async function dq(args: string[], env: NodeJS.ProcessEnv) {
  const stdout = new PassThrough()
  const stderr = new PassThrough()
  const out: string[] = []
  const err: string[] = []
  stdout.on('data', (chunk) => out.push(String(chunk)))
  stderr.on('data', (chunk) => err.push(String(chunk)))
  const code = await main(args, { stdout, stderr, env })
  return { code, stdout: out.join(''), stderr: err.join('') }
}

describe('one database selection', () => {
  it.each([
    ['unset', {}],
    ['a blank DQ_DATABASE_URL', { DQ_DATABASE_URL: '  ' }],
    ['a blank Supabase pair', { SUPABASE_URL: ' ', SUPABASE_SERVICE_ROLE_KEY: '' }],
  ])('%s names no database, and the chooser says so', (_, env) => {
    expect(databaseConfigured({ env })).toBe(false)
    expect(databaseConfigured({ reference: '  ', env })).toBe(false)
    expect(choice({ env })).toMatch(/^no database:/)
  })

  it.each([
    ['DQ_DATABASE_URL', { DQ_DATABASE_URL: ' pglite:memory ' }, 'pglite'],
    ['a Hyperdrive binding', { HYPERDRIVE: { connectionString: 'postgres://h/db' } }, 'postgres'],
    [
      'a Supabase pair',
      { SUPABASE_URL: 'https://x.supabase.co', SUPABASE_SERVICE_ROLE_KEY: 'k' },
      'supabase',
    ],
    // Half a pair names a database: the chooser then says which half is missing.
    [
      'SUPABASE_URL alone',
      { SUPABASE_URL: 'https://x.supabase.co' },
      /SUPABASE_SERVICE_ROLE_KEY is not set/,
    ],
    ['the service key alone', { SUPABASE_SERVICE_ROLE_KEY: 'k' }, /SUPABASE_URL is not set/],
    [
      'a DQ_DATABASE_URL that is no reference',
      { DQ_DATABASE_URL: 'mysql://x' },
      /DQ_DATABASE_URL "mysql/,
    ],
  ] as const)('%s names one, as the chooser reads it', (_, env, chosen) => {
    expect(databaseConfigured({ env })).toBe(true)
    if (typeof chosen === 'string') expect(choice({ env })).toBe(chosen)
    else expect(choice({ env })).toMatch(chosen)
  })

  it('--db names one whatever the environment says', () => {
    expect(databaseConfigured({ reference: 'pglite:memory', env: { DQ_DATABASE_URL: ' ' } })).toBe(
      true,
    )
  })

  it('dq validate with DQ_DATABASE_URL blank checks the schema only, as with it unset', async () => {
    const catalog = 'checks/catalog.json'
    const unset = await dq(['validate', '--catalog', catalog], { NO_COLOR: '1' })
    const blank = await dq(['validate', '--catalog', catalog], {
      NO_COLOR: '1',
      DQ_DATABASE_URL: '  ',
    })
    expect(unset).toMatchObject({ code: 0, stderr: '' })
    expect(unset.stdout).toContain('schema OK')
    expect(blank).toEqual(unset)
  })
})
