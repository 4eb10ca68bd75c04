/**
 * The benchmark report as markdown (a summary of the targets, then one table
 * per case) and JSON, written side by side into a results folder.
 *
 * @example
 * ```ts
 * const files = await writeReport(report, new URL('./results/', import.meta.url))
 * // [".../scale-1.md", ".../scale-1.json"]
 * ```
 */
import { mkdir, writeFile } from 'node:fs/promises'
import type { BenchReport } from './benchmark.ts'

export function renderMarkdown(report: BenchReport): string {
  const { environment: env } = report
  const settings = Object.entries(env.settings)
    .filter(([name]) => name !== 'server_version')
    .map(([name, value]) => `${name}=${value}`)
    .join(', ')
  const lines = [
    `# dq-monitor benchmark, scale ${report.scale}`,
    '',
    `${env.postgres.split(',')[0]}; ${env.cpus} CPUs, ${env.memory_gb} GB; Node ${env.node}. ` +
      `Generated ${report.generated_at}.`,
    '',
    `Settings: ${settings}.`,
    '',
    `Rows: ${Object.entries(report.row_counts)
      .map(([table, rows]) => `${table} ${rows.toLocaleString('en-US')}`)
      .join('; ')}.`,
    '',
    `Each contender: ${report.warmup} warm-up run(s), then ${report.runs} runs in interleaved ` +
      'rounds (each round starting one contender later); wall time in ms from the client (same ' +
      'machine), through the real runner for dq. "× dq" is the contender\'s ' +
      "median over the case's first dq contender's median: above 1, dq is faster.",
    '',
    '## Targets',
    '',
    '| case | target | measured (medians) | from minimums | met |',
    '| --- | --- | ---: | ---: | :---: |',
    ...report.cases.flatMap((c) =>
      c.targets.map(
        (t) =>
          `| ${c.id} | ${t.description} | ${t.value ?? 'n/a'} | ${t.value_from_min ?? ''} | ${t.met ? 'yes' : '**no**'} |`,
      ),
    ),
  ]
  for (const c of report.cases) {
    lines.push(
      '',
      `## ${c.title}`,
      '',
      '| contender | role | answer | min ms | median ms | × dq |',
      '| --- | --- | --- | ---: | ---: | ---: |',
      ...c.contenders.map(
        (x) =>
          `| ${x.label} | ${x.role} | ${x.answer} | ${x.timing.min_ms} | ${x.timing.median_ms} | ${x.vs_dq ?? ''} |`,
      ),
    )
  }
  return `${lines.join('\n')}\n`
}

/** Writes scale-<scale>.md and scale-<scale>.json into `dir`; returns their paths. */
export async function writeReport(report: BenchReport, dir: URL | string): Promise<string[]> {
  const base = typeof dir === 'string' ? dir.replace(/\/?$/, '/') : dir.pathname
  await mkdir(base, { recursive: true })
  const name = `scale-${report.scale}`
  const markdown = `${base}${name}.md`
  const json = `${base}${name}.json`
  await writeFile(markdown, renderMarkdown(report))
  await writeFile(json, `${JSON.stringify(report, null, 2)}\n`)
  return [markdown, json]
}
