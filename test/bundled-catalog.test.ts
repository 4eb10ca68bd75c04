/**
 * The catalog the Worker bundles (wrangler.toml's [alias] "dq-catalog") must
 * be valid: a bad catalog fails `npm test` (and the deploy), not the 3 a.m. run.
 */
import { resolve } from 'node:path'
import { describe, expect, it } from 'vitest'
import { unstable_readConfig } from 'wrangler'
import { isDue } from '../checks/cron.ts'
import { loadCatalog } from '../checks/load-catalog.ts'
import { dueChecks } from '../checks/schedule.ts'

describe('the catalog bundled into the Worker', () => {
  const config = unstable_readConfig({ config: 'wrangler.toml' })
  const aliased = config.alias?.['dq-catalog']

  it('is named by wrangler.toml', () => {
    expect(aliased, 'wrangler.toml needs [alias] "dq-catalog" = "<your catalog file>"').toBeTypeOf(
      'string',
    )
  })

  it('is a valid catalog', async () => {
    const catalog = await loadCatalog({ path: resolve(aliased as string) })
    expect(catalog.checks.length).toBeGreaterThan(0)
  })

  it("runs every enabled check at one of wrangler.toml's cron triggers", async () => {
    const { checks } = await loadCatalog({ path: resolve(aliased as string) })
    const crons = config.triggers?.crons ?? []
    expect(crons.length).toBeGreaterThan(0)
    // A check whose schedule never coincides with a trigger (say "30 * * * *"
    // under an hourly trigger) would silently never run. One week of ticks:
    const ran = new Set<string>()
    for (let minute = 0; minute < 7 * 24 * 60; minute++) {
      const at = new Date(Date.UTC(2026, 10, 23, 0, minute))
      if (!crons.some((cron: string) => isDue(cron, at))) continue
      for (const check of dueChecks(checks, at)) ran.add(check.name)
    }
    const enabled = checks.filter((check) => check.enabled).map((check) => check.name)
    expect(enabled.filter((name) => !ran.has(name))).toEqual([])
  })
})
