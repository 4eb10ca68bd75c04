// The dq command line as a user runs it: a separate process, real files, exit codes.
import { execFile } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { PGliteDatabase } from '../db/pglite.ts'
import { engines, MONITOR_READS_EVERYTHING, openTestDatabase } from './support/databases.ts'

const run = promisify(execFile)

async function dq(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(process.execPath, ['bin/dq.js', ...args], {
      env: { ...process.env, NO_COLOR: '1', DQ_DATABASE_URL: '', DQ_CATALOG: '', ...env },
    })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

const FIXTURE = `
  create schema shop;
  create table shop.orders (id int primary key, customer text, ref text);
  insert into shop.orders select g, 'c' || (g % 5), 'r' || (g % 40) from generate_series(1, 50) g;
`

const goodCatalog = {
  checks: [
    {
      name: 'orders_ref_dups',
      kind: 'duplicates',
      table: 'shop.orders',
      columns: ['ref'],
      tags: ['shop'],
    },
    { name: 'orders_id_unique', kind: 'duplicates', table: 'shop.orders', columns: ['id'] },
  ],
}

describe('dq without a database', () => {
  it('--help for every command', async () => {
    const main = await dq(['--help'])
    expect(main.code).toBe(0)
    for (const command of ['demo', 'migrate', 'run', 'history', 'validate']) {
      expect(main.stdout).toContain(command)
      const help = await dq([command, '--help'])
      expect(help.code).toBe(0)
      expect(help.stdout).toContain(`Usage: dq ${command}`)
    }
  })

  it('an unknown command or option exits 2 with the usage', async () => {
    expect((await dq(['frobnicate'])).code).toBe(2)
    const bad = await dq(['run', '--bogus'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--bogus')
  })

  it('validate: a syntax error in a TypeScript catalog says the line, not "JSON"', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dq-cli-syntax-'))
    try {
      const file = join(dir, 'catalog.ts')
      await writeFile(file, 'export default {\n  checks: [\n    { name: "x" kind: 1 },\n  ]\n}\n')
      const result = await dq(['validate', '--catalog', file])
      expect(result.code).toBe(2)
      expect(result.stderr).toContain(`cannot read catalog ${file}: syntax error on line 3:`)
      expect(result.stderr).not.toContain('JSON')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('validate: a threshold that can never fire exits 2 naming the field', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dq-cli-threshold-'))
    try {
      const check = { name: 'x', kind: 'duplicates', table: 't', columns: ['a'] }
      const cases: [unknown, string][] = [
        [{ checks: [{ ...check, threshold: {} }] }, 'checks[0].threshold'],
        [{ checks: [{ ...check, threshold: { metric: 'ratio' } }] }, 'checks[0].threshold'],
        [{ defaults: { threshold: {} }, checks: [check] }, 'defaults.threshold'],
        [{ checks: [{ ...check, threshold: { warn: 10, fail: 5 } }] }, 'checks[0].threshold.warn'],
      ]
      for (const [catalog, field] of cases) {
        const file = join(dir, 'catalog.json')
        await writeFile(file, JSON.stringify(catalog))
        const result = await dq(['validate', '--catalog', file])
        expect(result.code).toBe(2)
        expect(result.stderr).toContain(`${field}:`)
      }
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('below Node 22.12, says which Node is needed and how to get it', async () => {
    // The machine's own Node, when it is older than the project needs (Debian's 20 here).
    const old = '/usr/bin/node'
    let version = ''
    try {
      version = (await run(old, ['--version'])).stdout.trim()
    } catch {
      version = ''
    }
    const [major = 0, minor = 0] = version.replace(/^v/, '').split('.').map(Number)
    if (!version || major > 22 || (major === 22 && minor >= 12)) {
      console.warn(`no Node below 22.12 at ${old} (found "${version}"): the check is not exercised`)
      return
    }
    const result = await run(old, ['bin/dq.js', 'demo']).catch(
      (error) => error as { code: number; stderr: string },
    )
    expect((result as { code: number }).code).toBe(2)
    expect((result as { stderr: string }).stderr).toContain('dq needs Node.js 22.12 or later')
    expect((result as { stderr: string }).stderr).toContain('.nvmrc')
  })

  it('no database: exit 2 saying how to pass one', async () => {
    const result = await dq(['history', '--check', 'x'])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/--db postgres:\/\/.*DQ_DATABASE_URL/)
  })

  it('serve: Cloudflare Access half configured exits 2 naming the missing setting', async () => {
    const result = await dq(['serve', '--db', 'pglite:memory'], {
      DQ_API_TOKEN: 'cli-test-token-0123456789',
      CF_ACCESS_AUD: 'aud-tag',
    })
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('CF_ACCESS_TEAM_DOMAIN is not set')
  })

  it('run against a database nobody listens on: one error, exit 2, nothing per check', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'dq-cli-down-'))
    try {
      const file = join(dir, 'catalog.json')
      await writeFile(file, JSON.stringify(goodCatalog))
      const result = await dq([
        'run',
        '--catalog',
        file,
        '--db',
        'postgres://dq@127.0.0.1:5999/app',
      ])
      expect(result.code).toBe(2)
      expect(result.stdout).toBe('')
      expect(result.stderr.match(/database unavailable/g)).toHaveLength(1)
      expect(result.stderr).not.toContain('[1/')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  it('demo: --port without --serve exits 2, before starting the database', async () => {
    const result = await dq(['demo', '--port', '9000'])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('--port applies only with --serve')
    expect(result.stderr).not.toContain('starting embedded PostgreSQL')
  })

  it.each(['1e2', '0x10', '1.5', '+5', '', '1001'])(
    'history --limit %j exits 2 before any database: digits from 1 to 1000 only',
    async (limit) => {
      const result = await dq([
        'history',
        '--check',
        'x',
        '--limit',
        limit,
        '--db',
        'pglite:memory',
      ])
      expect(result.code).toBe(2)
      expect(result.stderr).toContain(
        `--limit must be a whole number from 1 to 1000, got "${limit}"`,
      )
    },
  )
})

describe.each(engines())('dq against %s', (engine) => {
  let dir: string
  let db: string
  let closeServer: (() => Promise<void>) | undefined
  const catalogFile = (name: string) => join(dir, name)

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'dq-cli-'))
    if (engine === 'pglite') {
      db = `pglite:${join(dir, 'pgdata')}`
      const local = await PGliteDatabase.open(join(dir, 'pgdata'))
      await local.exec(MONITOR_READS_EVERYTHING)
      await local.exec(FIXTURE)
      await local.close()
    } else {
      const server = await openTestDatabase('postgres')
      await server.exec(FIXTURE)
      db = server.url as string
      closeServer = server.close
    }
    await writeFile(catalogFile('good.json'), JSON.stringify(goodCatalog))
  })

  afterAll(async () => {
    await closeServer?.()
    await rm(dir, { recursive: true, force: true })
  })

  it('migrate applies cleanly twice', async () => {
    expect((await dq(['migrate', '--db', db])).code).toBe(0)
    const again = await dq(['migrate'], { DQ_DATABASE_URL: db })
    expect(again.code).toBe(0)
    expect(again.stderr).toContain('up to date')
  })

  it('run --json prints the result JSON alone; exit 1 when a check fails; progress on stderr', async () => {
    const result = await dq(['run', '--catalog', catalogFile('good.json'), '--db', db, '--json'])
    expect(result.code).toBe(1)
    const json = JSON.parse(result.stdout)
    expect(json).toMatchObject({ trigger: 'cli', run_id: expect.any(String) })
    expect(
      json.results.map((r: { check: string; status: string; value: number }) => [
        r.check,
        r.status,
        r.value,
      ]),
    ).toEqual([
      ['orders_ref_dups', 'fail', 10],
      ['orders_id_unique', 'pass', 0],
    ])
    expect(result.stderr).toContain('[1/2] fail  orders_ref_dups')
  })

  it('run prints a table, failing checks first; --check and --tag select', async () => {
    const table = await dq([
      'run',
      '--catalog',
      catalogFile('good.json'),
      '--db',
      db,
      '--check',
      'orders_id_unique',
    ])
    expect(table.code).toBe(0)
    expect(table.stdout).toMatch(/PASS\s+orders_id_unique/)
    expect(table.stdout).not.toContain('orders_ref_dups')
    const tagged = await dq([
      'run',
      '--catalog',
      catalogFile('good.json'),
      '--db',
      db,
      '--tag',
      'shop',
    ])
    expect(tagged.stdout).toMatch(/FAIL\s+orders_ref_dups/)
    expect(tagged.stdout).not.toContain('orders_id_unique')
    const unknown = await dq([
      'run',
      '--catalog',
      catalogFile('good.json'),
      '--db',
      db,
      '--check',
      'nope',
    ])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('no check named "nope"')
    // A misspelt tag is refused as the HTTP API refuses it, never an empty run that passes.
    const typo = await dq([
      'run',
      '--catalog',
      catalogFile('good.json'),
      '--db',
      db,
      '--tag',
      'nope',
    ])
    expect(typo.code).toBe(2)
    expect(typo.stderr).toContain('no enabled check has the tag "nope"')
    expect(typo.stdout).toBe('')
  })

  it('history returns both runs, newest first', async () => {
    const first = JSON.parse(
      (
        await dq([
          'run',
          '--catalog',
          catalogFile('good.json'),
          '--db',
          db,
          '--json',
          '--check',
          'orders_ref_dups',
        ])
      ).stdout,
    )
    const second = JSON.parse(
      (
        await dq([
          'run',
          '--catalog',
          catalogFile('good.json'),
          '--db',
          db,
          '--json',
          '--check',
          'orders_ref_dups',
        ])
      ).stdout,
    )
    const history = await dq([
      'history',
      '--check',
      'orders_ref_dups',
      '--db',
      db,
      '--json',
      '--limit',
      '2',
    ])
    expect(history.code).toBe(0)
    const entries = JSON.parse(history.stdout).results
    expect(entries.map((e: { run_id: string }) => e.run_id)).toEqual([second.run_id, first.run_id])
    expect(entries[0]).toMatchObject({
      check: 'orders_ref_dups',
      status: 'fail',
      value: 10,
      trigger: 'cli',
    })
  })

  it.each([
    ['unknown kind', { name: 'x', kind: 'uniqueness', table: 'shop.orders' }, 'checks[1].kind'],
    ['missing field', { name: 'x', kind: 'duplicates', table: 'shop.orders' }, 'checks[1].columns'],
    [
      'wrong type',
      { name: 'x', kind: 'duplicates', table: 'shop.orders', columns: 'ref' },
      'checks[1].columns',
    ],
    [
      'duplicate name',
      { name: 'orders_ref_dups', kind: 'duplicates', table: 'shop.orders', columns: ['id'] },
      'checks[1].name',
    ],
    [
      '";" in an expression',
      {
        name: 'x',
        kind: 'duplicates',
        table: 'shop.orders',
        columns: ['ref; drop table shop.orders'],
      },
      'checks[1].columns[0]',
    ],
  ])(
    'a bad catalog (%s): run and validate exit 2 naming the field, and no check runs',
    async (_, bad, path) => {
      const file = catalogFile(`bad-${path.replace(/\W/g, '')}.json`)
      await writeFile(file, JSON.stringify({ checks: [goodCatalog.checks[0], bad] }))
      const before = JSON.parse(
        (await dq(['history', '--check', 'orders_ref_dups', '--db', db, '--json'])).stdout,
      ).results.length
      for (const command of ['run', 'validate']) {
        const result = await dq([command, '--catalog', file, '--db', db])
        expect(result.code).toBe(2)
        expect(result.stderr).toContain(path)
        expect(result.stdout).toBe('')
      }
      const after = JSON.parse(
        (await dq(['history', '--check', 'orders_ref_dups', '--db', db, '--json'])).stdout,
      ).results.length
      expect(after).toBe(before)
    },
  )

  it('validate --db plans every check and names the check and field that does not resolve', async () => {
    expect((await dq(['validate', '--catalog', catalogFile('good.json'), '--db', db])).code).toBe(0)
    const file = catalogFile('unresolved.json')
    await writeFile(
      file,
      JSON.stringify({
        checks: [
          goodCatalog.checks[0],
          {
            name: 'bad_column',
            kind: 'duplicates',
            table: 'shop.orders',
            columns: ['ref', 'refs'],
          },
          {
            name: 'bad_table',
            kind: 'stale_keys',
            table: 'shop.order',
            key: 'ref',
            formula: "'r' || id",
          },
        ],
      }),
    )
    const result = await dq(['validate', '--catalog', file, '--db', db])
    expect(result.code).toBe(2)
    expect(result.stdout).toContain(
      'bad_column: check field "columns[1]": column "refs" does not exist',
    )
    expect(result.stdout).toContain(
      'bad_table: check field "table": relation "shop.order" does not exist',
    )
    expect(result.stdout).toContain('2 of 3 checks do not resolve')
  })
})
