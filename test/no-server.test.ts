// The README's second command: plain `npm test` on a fresh clone, with no
// PostgreSQL server and outside CI. Every test file must still collect (a
// suite that needs the server is skipped, so nothing may build from
// DQ_TEST_DATABASE_URL while collecting: `new URL(undefined)` failed a whole
// file once), and the engine tests run on PGlite alone. Collecting only
// (`vitest list`) keeps this to the cost of importing each file once.
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const run = promisify(execFile)
const ROOT = fileURLToPath(new URL('..', import.meta.url))
const VITEST = fileURLToPath(new URL('../node_modules/vitest/vitest.mjs', import.meta.url))

/** This process's environment without a test server, without CI and without vitest's own markers. */
function withoutServer(): NodeJS.ProcessEnv {
  return Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) =>
        name !== 'DQ_TEST_DATABASE_URL' &&
        name !== 'CI' &&
        !name.startsWith('VITEST') &&
        name !== 'TEST' &&
        name !== 'NODE_ENV',
    ),
  )
}

describe('npm test without a PostgreSQL server', () => {
  it('collects every test file, the engine tests on PGlite only', {
    timeout: 180_000,
  }, async () => {
    const { stdout, stderr } = await run(
      process.execPath,
      [VITEST, 'list', '--project', 'node', '--maxWorkers', '1'],
      { cwd: ROOT, env: withoutServer(), maxBuffer: 64 * 1024 * 1024 },
    ).catch((error: { code: number; stdout: string; stderr: string }) => {
      // A file that fails to collect makes `vitest list` exit 1 with its error.
      throw new Error(`vitest list exited ${error.code}:\n${error.stderr}\n${error.stdout}`)
    })
    expect(stderr).not.toMatch(/Invalid URL|Error:/)
    const tests = stdout.split('\n').filter((line) => line.startsWith('[node] '))
    expect(tests.filter((line) => / on pglite\b/.test(line)).length).toBeGreaterThan(100)
    // Suites that need the server are skipped, not collected against a server that is not there.
    expect(tests.filter((line) => / on postgres\b/.test(line))).toEqual([])
    // This file itself collects too (and is not run again by the list).
    expect(tests).toContain(
      '[node] test/no-server.test.ts > npm test without a PostgreSQL server > collects every test file, the engine tests on PGlite only',
    )
  })
})
