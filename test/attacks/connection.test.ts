// A connection killed mid-check (pg_terminate_backend, a restart, a network
// cut) is that check's `error` ("connection lost"); the other checks run on a
// fresh connection, the run is recorded, and `dq serve` and `dq run` keep
// going. postgres.js 3.4.9 crashed the process here (porsager/postgres#1154).
// Twenty times in a row, through the runner, `dq serve` and `dq run`.
import { type ChildProcess, execFile, spawn } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import postgres, { type Sql } from 'postgres'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseCatalog } from '../../checks/catalog.ts'
import { runChecks } from '../../checks/run-checks.ts'
import { engines, useDatabase } from '../support/databases.ts'
import { freePort } from '../support/ports.ts'

const TIMES = 20
const TOKEN = 'connection-test-token-0123456789'

const CHECKS = [
  {
    name: 'slow',
    kind: 'duplicates',
    table: 'shop.orders',
    columns: ['case when pg_sleep(3) is null then id end'],
    timeoutSeconds: 30,
  },
  { name: 'after', kind: 'duplicates', table: 'shop.orders', columns: ['id'] },
]

/** Terminates the backend running the slow check as soon as it runs; how many it killed. */
async function killSlowCheck(admin: Sql): Promise<number> {
  const deadline = Date.now() + 10_000
  while (Date.now() < deadline) {
    const killed = await admin<{ pid: number }[]>`
      select pid from pg_stat_activity
      where pid <> pg_backend_pid() and datname = current_database()
        and state = 'active' and query like '%run_check%'`
    if (killed.length > 0) {
      await admin`select pg_terminate_backend(${killed[0]?.pid ?? 0})`
      return 1
    }
    await new Promise((resolve) => setTimeout(resolve, 25))
  }
  return 0
}

describe.runIf(engines().includes('postgres'))('a connection killed mid-check', () => {
  const database = useDatabase('postgres')
  let admin: Sql
  let dir: string
  let catalogFile: string

  beforeAll(async () => {
    await database().exec(`
      create schema shop;
      create table shop.orders (id int primary key);
      insert into shop.orders select generate_series(1, 10);`)
    admin = postgres(database().url as string, { max: 1, onnotice: () => {} })
    dir = await mkdtemp(join(tmpdir(), 'dq-conn-'))
    catalogFile = join(dir, 'catalog.json')
    await writeFile(catalogFile, JSON.stringify({ checks: CHECKS }))
  })
  afterAll(async () => {
    await admin?.end()
    await rm(dir, { recursive: true, force: true })
  })

  it(`the runner: that check is "connection lost", the next runs, the run is recorded (${TIMES} times)`, async () => {
    const checks = parseCatalog({ checks: CHECKS }).checks
    for (let i = 0; i < TIMES; i++) {
      const [run, killed] = await Promise.all([
        runChecks(database().db, checks, { trigger: 'cli' }),
        killSlowCheck(admin),
      ])
      expect(killed).toBe(1)
      expect(run.results[0]).toMatchObject({ status: 'error', error_code: 'connection_lost' })
      expect(run.results[0]?.error).toMatch(/^connection lost while running dq\.run_check/)
      expect(run.results[1]).toMatchObject({ status: 'pass' })
      expect(run.recorded).toBe(true)
    }
    const [recorded] = await admin<{ n: number }[]>`
      select count(*)::int as n from dq.results where check_name = 'slow' and error like 'connection lost%'`
    expect(recorded?.n).toBe(TIMES)
  }, 120_000)

  describe('dq serve', () => {
    let child: ChildProcess
    let base: string
    let output = ''

    beforeAll(async () => {
      const port = await freePort()
      base = `http://127.0.0.1:${port}`
      child = spawn(
        process.execPath,
        [
          'bin/dq.js',
          'serve',
          '--port',
          String(port),
          '--catalog',
          catalogFile,
          '--db',
          database().url as string,
        ],
        {
          env: { ...process.env, DQ_API_TOKEN: TOKEN, NO_COLOR: '1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      )
      child.stdout?.on('data', (chunk) => {
        output += chunk
      })
      child.stderr?.on('data', (chunk) => {
        output += chunk
      })
      const deadline = Date.now() + 30_000
      while (Date.now() < deadline) {
        try {
          if ((await fetch(`${base}/health`)).ok) return
        } catch {
          // not listening yet
        }
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      throw new Error(`dq serve did not start:\n${output}`)
    })
    afterAll(() => {
      child?.kill()
    })

    it(`keeps serving: each run answers with the check's error, then the next request works (${TIMES} times)`, async () => {
      const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' }
      for (let i = 0; i < TIMES; i++) {
        const [response, killed] = await Promise.all([
          fetch(`${base}/runs`, {
            method: 'POST',
            headers,
            body: JSON.stringify({ checks: ['slow', 'after'] }),
          }),
          killSlowCheck(admin),
        ])
        expect(killed).toBe(1)
        expect(response.status, output).toBe(200)
        const body = (await response.json()) as {
          results: { status: string; error_code: string }[]
        }
        expect(body.results.map((r) => [r.status, r.error_code])).toEqual([
          ['error', 'connection_lost'],
          ['pass', null],
        ])
        const checks = await fetch(`${base}/checks`, { headers })
        expect(checks.status).toBe(200)
      }
      expect(child.exitCode).toBeNull()
      expect(output).not.toMatch(/TypeError|Cannot read properties/)
    }, 120_000)
  })

  it('dq run: the run is recorded and the CLI says which check lost its connection (exit 2)', async () => {
    const [result, killed] = await Promise.all([
      promisify(execFile)(
        process.execPath,
        ['bin/dq.js', 'run', '--catalog', catalogFile, '--db', database().url as string],
        { env: { ...process.env, NO_COLOR: '1' } },
      ).catch((error: { code: number; stdout: string; stderr: string }) => error),
      killSlowCheck(admin),
    ])
    expect(killed).toBe(1)
    expect((result as { code: number }).code).toBe(2)
    expect(result.stdout).toMatch(/ERROR\s+slow\s+-\s+connection lost/)
    expect(result.stdout).toMatch(/PASS\s+after/)
    expect(result.stdout).toMatch(/run [0-9a-f-]{36} recorded/)
    expect(result.stderr).not.toMatch(/TypeError/)
  }, 60_000)
})
