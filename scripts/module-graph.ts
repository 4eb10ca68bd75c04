/**
 * Our own modules' import graph, read with the TypeScript parser (syntax only,
 * no type checker: it runs in a second). Two rules keep the architecture from
 * drifting back:
 * - imports run one way: no import loop among our modules (type-only imports
 *   included: a loop of types is still two modules that cannot be read apart);
 * - no unused export: an export no other module imports is made private or
 *   deleted (an export is a promise someone reads it).
 *
 * `npm run lint` runs it; scripts/module-graph.test.ts proves it finds both.
 *
 * @example
 * ```sh
 * node scripts/module-graph.ts        # exits 1 naming each loop and unused export
 * ```
 */
import { readdirSync, readFileSync } from 'node:fs'
import { dirname, extname, join, relative, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import ts from 'typescript'

const SOURCE = /\.(ts|tsx|mts|js|mjs)$/
const SKIP_DIRS = new Set(['node_modules', '.git', '.wrangler', 'results', 'types', 'artifacts'])

/**
 * Modules whose exports something outside our modules reads, by name.
 * Their exports are never "unused".
 */
const ENTRY_EXPORTS: Record<string, string> = {
  'functions/worker.ts': 'wrangler.toml main: the Worker and its bound classes',
  'test/workerd/fan-out/catalog.ts': "vitest.fan-out.config.mts aliases it as 'dq-catalog'",
  'test/workerd/global-setup.ts': 'vitest globalSetup',
  'test/workerd/fan-out/global-setup.ts': 'vitest globalSetup',
  'bin/tsx-hooks.js': 'module.register hooks',
  'bin/tsx-loader.js': 'module.register hooks',
  'vitest.config.mts': 'vitest reads its default export',
  'vitest.workerd.config.mts': 'vitest reads its default export',
  'vitest.fan-out.config.mts': 'vitest reads its default export',
}

/**
 * Exports kept for code outside this repository, with the reason.
 * `file#name`.
 */
const PUBLIC_EXPORTS: Record<string, string> = {
  'checks/catalog.ts#defineCatalog': 'README "TypeScript catalogs": users import it',
  'checks/catalog.ts#CatalogInput': "defineCatalog's parameter type, for users' catalogs",
  'checks/catalog.ts#CheckInput': "one entry of defineCatalog's catalog, for users' catalogs",
}

type Import = {
  /** Resolved path of the imported module, relative to the root. */
  from: string
  /** Names read from it; '*' for all of them (namespace or dynamic import). */
  names: string[]
  typeOnly: boolean
}

type Kind = 'value' | 'type'

type ModuleInfo = {
  path: string
  imports: Import[]
  /** Exported names declared in this module, each a value or only a type. */
  local: Map<string, Kind>
  /** Exported name -> [module, name there, type-only] for `export { a as b } from`. */
  reexports: Map<string, [string, string, boolean]>
  /** `export * from` sources. */
  stars: string[]
}

/** Our source files under root, relative paths with '/'. */
function sourceFiles(root: string): string[] {
  const out: string[] = []
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) {
        if (!SKIP_DIRS.has(entry.name) && !entry.name.startsWith('.')) walk(join(dir, entry.name))
      } else if (SOURCE.test(entry.name) && !entry.name.endsWith('.d.ts')) {
        out.push(relative(root, join(dir, entry.name)).split('\\').join('/'))
      }
    }
  }
  walk(root)
  return out.sort()
}

function scriptKind(path: string): ts.ScriptKind {
  const ext = extname(path)
  if (ext === '.tsx') return ts.ScriptKind.TSX
  if (ext === '.js' || ext === '.mjs') return ts.ScriptKind.JS
  return ts.ScriptKind.TS
}

const hasModifier = (node: ts.Node, kind: ts.SyntaxKind) =>
  ts.canHaveModifiers(node) && (ts.getModifiers(node) ?? []).some((m) => m.kind === kind)

/** One module's imports and exports. */
export function readModule(root: string, path: string, text: string): ModuleInfo {
  const source = ts.createSourceFile(path, text, ts.ScriptTarget.Latest, true, scriptKind(path))
  const info: ModuleInfo = {
    path,
    imports: [],
    local: new Map(),
    reexports: new Map(),
    stars: [],
  }
  // Only relative specifiers are our modules; packages and aliases are not.
  const target = (specifier: ts.Expression): string | undefined => {
    if (!ts.isStringLiteralLike(specifier) || !specifier.text.startsWith('.')) return undefined
    const file = resolve(root, dirname(path), specifier.text)
    return relative(root, file).split('\\').join('/')
  }

  const visit = (node: ts.Node) => {
    if (ts.isImportDeclaration(node)) {
      const from = target(node.moduleSpecifier)
      if (from) {
        const clause = node.importClause
        const names: string[] = []
        let typeOnly = clause?.isTypeOnly ?? false
        if (clause?.name) names.push('default')
        const bindings = clause?.namedBindings
        if (bindings && ts.isNamespaceImport(bindings)) names.push('*')
        if (bindings && ts.isNamedImports(bindings)) {
          for (const element of bindings.elements) {
            names.push((element.propertyName ?? element.name).text)
          }
          if (bindings.elements.length > 0 && bindings.elements.every((e) => e.isTypeOnly)) {
            typeOnly = true
          }
        }
        info.imports.push({ from, names, typeOnly })
      }
      return
    }
    if (ts.isExportDeclaration(node)) {
      const from = node.moduleSpecifier ? target(node.moduleSpecifier) : undefined
      const clause = node.exportClause
      if (node.moduleSpecifier && !from) {
        // Re-exported from a package: the names are ours to keep or drop.
        if (clause && ts.isNamedExports(clause)) {
          for (const element of clause.elements) {
            info.local.set(
              element.name.text,
              node.isTypeOnly || element.isTypeOnly ? 'type' : 'value',
            )
          }
        }
        return
      }
      if (!clause) {
        if (from) {
          info.stars.push(from)
          info.imports.push({ from, names: [], typeOnly: node.isTypeOnly })
        }
        return
      }
      if (ts.isNamespaceExport(clause)) {
        info.local.set(clause.name.text, node.isTypeOnly ? 'type' : 'value')
        if (from) info.imports.push({ from, names: ['*'], typeOnly: node.isTypeOnly })
        return
      }
      for (const element of clause.elements) {
        const name = element.name.text
        const original = (element.propertyName ?? element.name).text
        const typeOnly = node.isTypeOnly || element.isTypeOnly
        if (from) info.reexports.set(name, [from, original, typeOnly])
        else info.local.set(name, typeOnly ? 'type' : 'value')
      }
      if (from) {
        const typeOnly = node.isTypeOnly || clause.elements.every((e) => e.isTypeOnly)
        // The edge only: which names it reads is settled by what is read from this module.
        info.imports.push({ from, names: [], typeOnly })
      }
      return
    }
    // `declare module 'x' { export ... }` augments a package: not this module's exports.
    if (ts.isModuleDeclaration(node)) return
    if (ts.isExportAssignment(node)) {
      info.local.set('default', 'value')
    } else if (hasModifier(node, ts.SyntaxKind.ExportKeyword)) {
      if (hasModifier(node, ts.SyntaxKind.DefaultKeyword)) {
        info.local.set('default', 'value')
      } else if (ts.isVariableStatement(node)) {
        for (const declaration of node.declarationList.declarations) {
          for (const name of boundNames(declaration.name)) info.local.set(name, 'value')
        }
      } else if (
        (ts.isFunctionDeclaration(node) ||
          ts.isClassDeclaration(node) ||
          ts.isEnumDeclaration(node)) &&
        node.name
      ) {
        info.local.set(node.name.text, 'value')
      } else if (ts.isInterfaceDeclaration(node) || ts.isTypeAliasDeclaration(node)) {
        info.local.set(node.name.text, 'type')
      }
    }
    if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const [specifier] = node.arguments
      const from = specifier ? target(specifier) : undefined
      if (from) info.imports.push({ from, names: dynamicNames(node), typeOnly: false })
    }
    if (ts.isImportTypeNode(node)) {
      const argument = node.argument
      const from =
        ts.isLiteralTypeNode(argument) && ts.isStringLiteral(argument.literal)
          ? target(argument.literal)
          : undefined
      if (from) {
        const name = node.qualifier ? firstName(node.qualifier) : '*'
        info.imports.push({ from, names: [name], typeOnly: true })
      }
    }
    ts.forEachChild(node, visit)
  }
  visit(source)
  return info
}

function boundNames(name: ts.BindingName): string[] {
  if (ts.isIdentifier(name)) return [name.text]
  return name.elements.flatMap((element) =>
    ts.isOmittedExpression(element) ? [] : boundNames(element.name),
  )
}

function firstName(name: ts.EntityName): string {
  return ts.isIdentifier(name) ? name.text : firstName(name.left)
}

/** `const { a, b } = await import('./x.ts')` reads a and b; any other use reads everything. */
function dynamicNames(call: ts.CallExpression): string[] {
  const awaited = call.parent
  const declaration = awaited && ts.isAwaitExpression(awaited) ? awaited.parent : undefined
  if (
    declaration &&
    ts.isVariableDeclaration(declaration) &&
    ts.isObjectBindingPattern(declaration.name)
  ) {
    const names = declaration.name.elements.map((element) => {
      const property = element.propertyName ?? element.name
      return ts.isIdentifier(property) || ts.isStringLiteral(property) ? property.text : '*'
    })
    if (!declaration.name.elements.some((element) => element.dotDotDotToken)) return names
  }
  return ['*']
}

/** Finds the module a resolved specifier names (the path as written, or with .ts for .js). */
function lookup(modules: Map<string, ModuleInfo>, path: string): ModuleInfo | undefined {
  return modules.get(path) ?? modules.get(path.replace(/\.js$/, '.ts'))
}

export function readModules(root: string, files = sourceFiles(root)): Map<string, ModuleInfo> {
  const modules = new Map<string, ModuleInfo>()
  for (const file of files) {
    modules.set(file, readModule(root, file, readFileSync(join(root, file), 'utf8')))
  }
  return modules
}

/** Every import loop, each as the list of modules around it (first module repeated last). */
export function importCycles(modules: Map<string, ModuleInfo>): string[][] {
  const edges = new Map<string, string[]>()
  for (const [path, info] of modules) {
    const to = info.imports
      .map((i) => lookup(modules, i.from)?.path)
      .filter((p): p is string => p !== undefined && p !== path)
    edges.set(path, [...new Set(to)].sort())
  }
  // Tarjan's strongly connected components; one loop reported per component.
  let counter = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const cycles: string[][] = []
  const connect = (v: string) => {
    index.set(v, counter)
    low.set(v, counter)
    counter++
    stack.push(v)
    onStack.add(v)
    for (const w of edges.get(v) ?? []) {
      if (!index.has(w)) {
        connect(w)
        low.set(v, Math.min(low.get(v) ?? 0, low.get(w) ?? 0))
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v) ?? 0, index.get(w) ?? 0))
      }
    }
    if (low.get(v) === index.get(v)) {
      const component = new Set<string>()
      let w: string | undefined
      do {
        w = stack.pop()
        if (w === undefined) break
        onStack.delete(w)
        component.add(w)
      } while (w !== v)
      if (component.size > 1) cycles.push(loopThrough(v, component, edges))
    }
  }
  for (const v of [...edges.keys()].sort()) if (!index.has(v)) connect(v)
  return cycles
}

/** The shortest loop from start back to it, inside its component. */
function loopThrough(start: string, component: Set<string>, edges: Map<string, string[]>) {
  const previous = new Map<string, string>()
  const queue = [start]
  for (let i = 0; i < queue.length; i++) {
    const v = queue[i] as string
    for (const w of edges.get(v) ?? []) {
      if (!component.has(w)) continue
      if (w === start) {
        const path = [v]
        while (path[0] !== start) path.unshift(previous.get(path[0] as string) as string)
        return [...path, start]
      }
      if (!previous.has(w)) {
        previous.set(w, v)
        queue.push(w)
      }
    }
  }
  return [start, start]
}

/**
 * `file#name` for every exported value no other module reads (entry points and
 * PUBLIC_EXPORTS aside). Types are left out: an exported type names a parameter
 * or a result of an exported function for its callers, even before one imports it.
 */
export function unusedExports(
  modules: Map<string, ModuleInfo>,
  keep: { entries: Iterable<string>; exports: Iterable<string> } = {
    entries: Object.keys(ENTRY_EXPORTS),
    exports: Object.keys(PUBLIC_EXPORTS),
  },
): string[] {
  const used = new Set<string>(keep.exports)
  const seen = new Set<string>()
  const demand = (path: string, name: string) => {
    const info = lookup(modules, path)
    if (!info) return
    const key = `${info.path}#${name}`
    if (seen.has(key)) return
    seen.add(key)
    if (name === '*') {
      for (const own of [...info.local.keys(), ...info.reexports.keys()]) demand(info.path, own)
      for (const star of info.stars) demand(star, '*')
      return
    }
    used.add(key)
    const reexport = info.reexports.get(name)
    if (reexport) demand(reexport[0], reexport[1])
    else if (!info.local.has(name)) for (const star of info.stars) demand(star, name)
  }
  for (const entry of keep.entries) demand(entry, '*')
  for (const info of modules.values()) {
    for (const imported of info.imports) {
      for (const name of imported.names) demand(imported.from, name)
    }
  }
  const unused: string[] = []
  for (const info of modules.values()) {
    for (const name of [...info.local.keys(), ...info.reexports.keys()].sort()) {
      const key = `${info.path}#${name}`
      if (!used.has(key) && kindOf(modules, info.path, name) === 'value') unused.push(key)
    }
  }
  return unused
}

/** Whether an export is a value or only a type, following re-exports to the declaration. */
function kindOf(modules: Map<string, ModuleInfo>, path: string, name: string, depth = 0): Kind {
  const info = lookup(modules, path)
  if (!info || depth > 20) return 'value'
  const local = info.local.get(name)
  if (local) return local
  const reexport = info.reexports.get(name)
  if (reexport) return reexport[2] ? 'type' : kindOf(modules, reexport[0], reexport[1], depth + 1)
  for (const star of info.stars) {
    if (lookup(modules, star)?.local.has(name)) return kindOf(modules, star, name, depth + 1)
  }
  return 'value'
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const root = fileURLToPath(new URL('..', import.meta.url))
  const modules = readModules(root)
  const cycles = importCycles(modules)
  const unused = unusedExports(modules)
  for (const cycle of cycles) console.error(`import loop: ${cycle.join(' -> ')}`)
  for (const key of unused) {
    console.error(`unused export: ${key} (no other module imports it: un-export or delete it)`)
  }
  if (cycles.length > 0 || unused.length > 0) process.exitCode = 1
}
