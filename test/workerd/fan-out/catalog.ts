/**
 * The catalog the fan-out tests bundle as "dq-catalog" (vitest.fan-out.config.mts):
 * 500 cheap `rows` checks over fan_out.items (test/workerd/fan-out/global-setup.ts).
 * Check i fails when a row has n = i: the seed gives one to every 50th check.
 */
import { defineCatalog } from '../../../checks/catalog.ts'

export const FAN_OUT_CHECKS = 500

export const checkName = (i: number) => `fan_out_${String(i).padStart(4, '0')}`

export default defineCatalog({
  defaults: { owner: '@fan-out' },
  checks: Array.from({ length: FAN_OUT_CHECKS }, (_, i) => ({
    name: checkName(i),
    kind: 'rows' as const,
    table: 'fan_out.items',
    where: `n = ${i}`,
  })),
})
