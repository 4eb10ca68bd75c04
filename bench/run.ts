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
import { parseArgs } from 'node:util'
import { messageOf } from '../kernel/errors.ts'
import { runBenchmark } from './benchmark.ts'
import { renderMarkdown, writeReport } from './report.ts'

const HELP = `Usage: npm run bench -- [--scale N] [--runs N] [--warmup N] [--only CASE]... [--out DIR] [--regenerate]

Generates the incidents' data at --scale (1 = real scale: 2.6 M work-history
rows, 10 M breezeway rows, ...; default 1) into DQ_BENCH_DATABASE_URL (default
postgres://postgres@127.0.0.1:5432/dq_bench; the name must start with dq_bench,
and the database is created when missing), then times every check beside the
floors and the peers' query shapes. Data of the same scale is reused unless
--regenerate. Defaults: --runs 5, --warmup 1, --out bench/results.
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
      help: { type: 'boolean', short: 'h' },
    },
    strict: true,
  })
  if (values.help) {
    process.stdout.write(HELP)
    return 0
  }
  const report = await runBenchmark(
    {
      databaseUrl:
        process.env.DQ_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/dq_bench',
      scale: Number(values.scale),
      runs: Number(values.runs),
      warmup: Number(values.warmup),
      regenerate: values.regenerate,
      only: values.only ?? [],
    },
    (line) => process.stderr.write(`bench: ${line}\n`),
  )
  process.stdout.write(renderMarkdown(report))
  const files = await writeReport(report, values.out ?? new URL('./results/', import.meta.url))
  process.stderr.write(`bench: wrote ${files.join(', ')}\n`)
  // Timings vary with the machine: a missed target is reported, not an error.
  return 0
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
