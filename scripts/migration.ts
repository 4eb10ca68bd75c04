/**
 * Generates a migration from supabase/schemas, the one current definition of
 * every dq object. Each schema file is idempotent, so a migration carries
 * whole files: the ones a change edited (or all of them), in lexical order,
 * then the grants. Where a Supabase CLI with Docker is at hand,
 * `supabase db diff` does the same job from the declarative schemas.
 *
 * @example
 * ```sh
 * npm run migration -- new add_rows_kind supabase/schemas/30_kind_rows.sql
 * npm run migration -- new baseline            # every schema file
 * ```
 */
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { basename, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const SCHEMAS = join(ROOT, 'supabase/schemas')
const MIGRATIONS = join(ROOT, 'supabase/migrations')
const GRANTS = '90_grants.sql'

const USAGE = `Usage: npm run migration -- new NAME [supabase/schemas/FILE.sql ...]

Writes supabase/migrations/<UTC timestamp>_NAME.sql carrying the named schema
files (every one when none is named), in lexical order, then the grants.
NAME: lowercase letters, digits and "_".
`

async function newMigration(name: string, files: string[], at = new Date()) {
  if (!/^[a-z][a-z0-9_]*$/.test(name)) throw new Error(`bad migration name "${name}"\n\n${USAGE}`)
  const all = (await readdir(SCHEMAS)).filter((f) => f.endsWith('.sql')).sort()
  const wanted = files.length === 0 ? all : [...new Set(files.map((f) => basename(f)))].sort()
  for (const file of wanted) {
    if (!all.includes(file)) throw new Error(`no schema file supabase/schemas/${file}`)
  }
  if (!wanted.includes(GRANTS)) wanted.push(GRANTS)
  const stamp = at.toISOString().replace(/[-:T]/g, '').slice(0, 14)
  const parts = await Promise.all(
    wanted.map(async (file) => {
      const text = await readFile(join(SCHEMAS, file), 'utf8')
      return `-- ===== supabase/schemas/${file} =====\n\n${text.trimEnd()}\n`
    }),
  )
  const target = join(MIGRATIONS, `${stamp}_${name}.sql`)
  const header = `-- dq-monitor migration "${name}", generated from supabase/schemas by
-- scripts/migration.ts: edit the schema files, not this one.
-- Idempotent, like every file it carries: "dq migrate" applies every migration
-- on each call, "supabase db push" each one once.\n\n`
  await writeFile(target, header + parts.join('\n'))
  return relative(ROOT, target)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [command, name, ...files] = process.argv.slice(2)
  if (command !== 'new' || !name) {
    process.stderr.write(USAGE)
    process.exit(2)
  }
  newMigration(name, files).then(
    (path) => process.stdout.write(`wrote ${path}\n`),
    (error: Error) => {
      process.stderr.write(`${error.message}\n`)
      process.exit(2)
    },
  )
}
