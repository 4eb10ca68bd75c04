// types/worker-configuration.d.ts is generated (npm run types): it must match
// wrangler.toml and .dev.vars.example as they are now.
import { execFile } from 'node:child_process'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'

it('the generated Worker types are current (npm run types regenerates them)', async () => {
  const result = await promisify(execFile)(
    process.execPath,
    [
      'node_modules/wrangler/bin/wrangler.js',
      'types',
      'types/worker-configuration.d.ts',
      '--check',
      '--env-file',
      '.dev.vars.example',
    ],
    { env: { ...process.env, CI: 'true', WRANGLER_SEND_METRICS: 'false', NO_COLOR: '1' } },
  ).catch((error: { code: number; stdout: string; stderr: string }) => error)
  expect(`${result.stdout}${result.stderr}`).toContain('are up to date')
}, 60_000)
