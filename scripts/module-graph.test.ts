import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { importCycles, readModule, readModules, unusedExports } from './module-graph.ts'

const ROOT = fileURLToPath(new URL('..', import.meta.url))

/** Modules from source text, as readModules reads them from disk. */
function graph(files: Record<string, string>) {
  return new Map(
    Object.entries(files).map(([path, text]) => [path, readModule('/repo', path, text)] as const),
  )
}

describe('our modules', () => {
  const modules = readModules(ROOT)

  it('import one way: no loop', () => {
    expect(importCycles(modules)).toEqual([])
  })

  it('export only what another module imports', () => {
    expect(unusedExports(modules)).toEqual([])
  })
})

describe('the import graph', () => {
  it('finds a loop, type-only imports included, and names its modules', () => {
    const modules = graph({
      'a.ts': "import { b } from './b.ts'\nexport const a = b",
      'b.ts': "import type { C } from './c.ts'\nexport const b = 1",
      'c.ts': "import { a } from './a.ts'\nexport type C = typeof a",
      'd.ts': "import { a } from './a.ts'\nexport const d = a",
    })
    expect(importCycles(modules)).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']])
  })

  it('a re-export and an `export *` are edges too', () => {
    const modules = graph({
      'a.ts': "export * from './b.ts'",
      'b.ts': "export { a } from './a.ts'",
    })
    expect(importCycles(modules)).toEqual([['a.ts', 'b.ts', 'a.ts']])
  })

  it('an export nothing imports is unused; one read only by its own module too', () => {
    const modules = graph({
      'a.ts': [
        'export const used = 1',
        'export const unused = 2',
        'export function ownUse() { return used }',
        'export const total = ownUse()',
        'export type OnlyAType = number',
      ].join('\n'),
      'b.ts': "import { used } from './a.ts'\nconsole.log(used)",
    })
    expect(unusedExports(modules, { entries: [], exports: [] })).toEqual([
      'a.ts#ownUse',
      'a.ts#total',
      'a.ts#unused',
    ])
  })

  it('follows re-exports, `export *`, namespace and dynamic imports', () => {
    const modules = graph({
      'lib.ts': 'export const x = 1\nexport const y = 2\nexport const z = 3\nexport const w = 4',
      'barrel.ts': "export { x as renamed } from './lib.ts'\nexport * from './more.ts'",
      'more.ts': 'export const m = 1\nexport const n = 2',
      'ns.ts': 'export const p = 1\nexport const q = 2',
      'user.ts': [
        "import { renamed, m } from './barrel.ts'",
        "import * as ns from './ns.ts'",
        "const { y } = await import('./lib.ts')",
        'console.log(renamed, m, ns, y)',
      ].join('\n'),
    })
    expect(unusedExports(modules, { entries: [], exports: [] })).toEqual([
      'lib.ts#w',
      'lib.ts#z',
      'more.ts#n',
    ])
  })

  it("an entry point's exports and a kept public export count as read", () => {
    const modules = graph({
      'worker.ts': 'export default {}\nexport class Bound {}',
      'api.ts': 'export function defineIt() {}\nexport const dropped = 1',
    })
    expect(
      unusedExports(modules, { entries: ['worker.ts'], exports: ['api.ts#defineIt'] }),
    ).toEqual(['api.ts#dropped'])
  })
})
