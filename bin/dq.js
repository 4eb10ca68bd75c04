#!/usr/bin/env node
// The CLI is TypeScript run by Node's built-in type stripping (unflagged since
// Node 22.18); older 22.x releases need the flag, so re-run with it.
import { spawnSync } from 'node:child_process'

if (process.features.typescript) {
  const { main } = await import('../functions/cli.ts')
  process.exitCode = await main(process.argv.slice(2), {
    stdout: process.stdout,
    stderr: process.stderr,
    env: process.env,
  })
} else {
  const child = spawnSync(
    process.execPath,
    ['--experimental-strip-types', '--no-warnings', ...process.argv.slice(1)],
    { stdio: 'inherit' },
  )
  process.exit(child.status ?? 2)
}
