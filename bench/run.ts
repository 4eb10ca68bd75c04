/**
 * `npm run bench`: the benchmark from the command line. Prints the markdown
 * report on stdout (progress on stderr) and writes it, with the JSON, into
 * bench/results/ (or --out).
 *
 * @example
 * ```sh
 * DQ_BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/dq_bench npm run bench -- --scale 0.01
 * npm run bench -- --scale 1 --runs 5           # the incidents' real scale (about 1.5 GB, a minute to generate)
 * npm run bench -- --only coverage_gap --only stale_keys
 * ```
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { messageOf } from '../kernel/errors.ts'
import { runBenchmark } from './benchmark.ts'
import { renderMarkdown, writeReport } from './report.ts'
import { renderStatusMarkdown, runStatusPageBenchmark } from './status-page.ts'
import { renderTickMarkdown, runTickBenchmark } from './tick.ts'

const HELP = `Usage: npm run bench -- [--scale N] [--runs N] [--warmup N] [--only CASE]... [--out DIR] [--regenerate]
       npm run bench -- --status-page [--runs N] [--warmup N] [--out DIR] [--regenerate]
       npm run bench -- --tick [--tables N] [--rows N] [--out DIR] [--regenerate]

Generates the incidents' data at --scale (1 = real scale: 2.6 M work-history
rows, 10 M breezeway rows, ...; default 1) into DQ_BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/dq_bench; the name must start with dq_bench,
and the database is created when missing), then times every check beside the
floors and the peers' query shapes. Data of the same scale is reused unless
--regenerate. Defaults: --runs 5, --warmup 1, --out bench/results.

Then (not with --only) the status page: 200 checks with 30 days of hourly
history in <name>_status, each page rendered by the app; --status-page runs
only that one (bench/results/status-page.md and .json).

--tick: the hourly tick, in <name>_tick: 1,000 checks over 1,000 tables of
100,000 rows (--tables, --rows; about 10 GB, some minutes to generate once):
a full run, then three times a write to 2 % of the tables and a cron tick,
whose unchanged tables are answered from their last full scan; the median
tick against the full run (bench/results/tick.md and .json).
`

async function main(): Promise<number> {
  const { values } = parseArgs({
    options: {
      scale: { type: 'string', default: '1' },
      runs: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      only: { type: 'string', multiple: true },
      out: { type: 'string' },
      regenerate: { type: 'boolean', default: false },
      'status-page': { type: 'boolean', default: false },
      tick: { type: 'boolean', default: false },
      tables: { type: 'string', default: '1000' },
      rows: { type: 'string', default: '100000' },
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(HELP)
    return 0
  }
  const databaseUrl =
    process.env.DQ_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/dq_bench'
  const out = values.out ?? new URL('./results/', import.meta.url)
  if (values['status-page']) return statusPage(databaseUrl, values, out)
  if (values.tick) return tickBench(databaseUrl, values, out)
  const report = await runBenchmark(
    {
      databaseUrl,
      scale: Number(values.scale),
      runs: Number(values.runs),
      warmup: Number(values.warmup),
      regenerate: values.regenerate,
      only: values.only ?? [],
    },
    (line) => process.stderr.write(`bench: ${line}\n`),
  )
  process.stdout.write(renderMarkdown(report))
  const files = await writeReport(report, out)
  process.stderr.write(`bench: wrote ${files.join(', ')}\n`)
  if (values.only === undefined) await statusPage(databaseUrl, values, out)
  // Timings vary with the machine: a missed target is reported, not an error.
  return 0
}

/** The status page's benchmark (bench/status-page.ts), written beside the others. */
async function statusPage(
  databaseUrl: string,
  values: { runs: string; warmup: string; regenerate: boolean },
  out: string | URL,
): Promise<number> {
  const report = await runStatusPageBenchmark(
    {
      databaseUrl,
      runs: Math.max(Number(values.runs), 10),
      warmup: Math.max(Number(values.warmup), 2),
      regenerate: values.regenerate,
    },
    (line) => process.stderr.write(`bench: ${line}\n`),
  )
  await publish(out, 'status-page', renderStatusMarkdown(report), report)
  return 0
}

/** The hourly tick's benchmark (bench/tick.ts), written beside the others. */
async function tickBench(
  databaseUrl: string,
  values: { tables: string; rows: string; regenerate: boolean },
  out: string | URL,
): Promise<number> {
  const report = await runTickBenchmark(
    {
      databaseUrl,
      tables: Number(values.tables),
      rows: Number(values.rows),
      regenerate: values.regenerate,
    },
    (line) => process.stderr.write(`bench: ${line}\n`),
  )
  await publish(out, 'tick', renderTickMarkdown(report), report)
  return 0
}

/** Prints a report's markdown and writes it, with its JSON, as <out>/<name>.md and .json. */
async function publish(out: string | URL, name: string, markdown: string, report: unknown) {
  process.stdout.write(markdown)
  const dir = typeof out === 'string' ? out : out.pathname
  await mkdir(dir, { recursive: true })
  const base = `${dir.replace(/\/$/, '')}/${name}`
  await writeFile(`${base}.md`, markdown)
  await writeFile(`${base}.json`, `${JSON.stringify(report, null, 2)}\n`)
  process.stderr.write(`bench: wrote ${base}.md, ${base}.json\n`)
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (error) => {
    process.stderr.write(`bench: ${messageOf(error)}\n`)
    process.exitCode = 2
  },
)
