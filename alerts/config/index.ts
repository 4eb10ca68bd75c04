/**
 * Alert configuration from the environment (CLI) or the Worker's bindings:
 * SLACK_WEBHOOK_URL (every alert), SLACK_WEBHOOK_URL_CRITICAL (optional:
 * alerts of `critical` checks go there instead), DQ_DATABASE_LABEL (optional:
 * the database's name in messages). Webhook URLs are credentials: they are
 * validated but never echoed in an error, a log line or a message.
 *
 * @example
 * ```ts
 * const webhooks = webhooksFrom(process.env) // undefined when SLACK_WEBHOOK_URL is unset
 * databaseLabel('postgres://dq:secret@db.internal:5432/app') // 'db.internal/app'
 * ```
 */
import { z } from 'zod'
import { DqError, messageOf } from '../../kernel/errors.ts'
import { redactSecrets } from '../../kernel/redact.ts'
import type { Route } from '../store/index.ts'

/** An http(s) URL, checked without ever quoting it back (it holds the webhook's secret). */
const WebhookUrlSchema = z
  .string()
  .trim()
  .refine((url) => {
    if (!URL.canParse(url)) return false
    const { protocol } = new URL(url)
    return protocol === 'https:' || protocol === 'http:'
  }, 'must be the https:// URL of a Slack incoming webhook')

// An empty value (`SLACK_WEBHOOK_URL=` in a .env or .dev.vars file) means unset.
const optional = <T extends z.ZodType>(schema: T) =>
  z.preprocess(
    (value) => (typeof value === 'string' && value.trim() === '' ? undefined : value),
    schema.optional(),
  )

/** The alert variables: spread `.shape` into a bindings schema (functions/worker.ts). */
const AlertEnvSchema = z.object({
  SLACK_WEBHOOK_URL: optional(WebhookUrlSchema),
  SLACK_WEBHOOK_URL_CRITICAL: optional(WebhookUrlSchema),
  DQ_DATABASE_LABEL: optional(z.string().trim().max(200)),
})
export type AlertEnv = z.infer<typeof AlertEnvSchema>

/** Where messages go, by route; `critical` is optional and falls back to `default`. */
export type Webhooks = { default: string; critical?: string }

/** The webhooks in `env`, undefined when SLACK_WEBHOOK_URL is not set; DqError('config') when invalid. */
export function webhooksFrom(env: Record<string, unknown>): Webhooks | undefined {
  const parsed = AlertEnvSchema.safeParse(env)
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`)
    throw new DqError('config', `alert configuration: ${problems.join('; ')}`)
  }
  const { SLACK_WEBHOOK_URL: main, SLACK_WEBHOOK_URL_CRITICAL: critical } = parsed.data
  if (!main) {
    if (critical) {
      throw new DqError(
        'config',
        'alert configuration: SLACK_WEBHOOK_URL_CRITICAL is set but SLACK_WEBHOOK_URL is not: set SLACK_WEBHOOK_URL (every non-critical alert goes there)',
      )
    }
    return undefined
  }
  return critical ? { default: main, critical } : { default: main }
}

/** The alert settings a command reads: webhooks (when set) and the database's label. */
export type AlertConfig = { webhooks?: Webhooks; label?: string }

/**
 * The Slack and label settings of a command (the CLI): DqError('config') when
 * a setting is malformed, said before anything runs.
 */
export function alertConfig(env: Record<string, unknown>): AlertConfig {
  const webhooks = webhooksFrom(env)
  const label = configuredLabel(env)
  return { ...(webhooks ? { webhooks } : {}), ...(label ? { label } : {}) }
}

/** DQ_DATABASE_LABEL when set and well formed (never an error: it is only a name). */
export function configuredLabel(env: Record<string, unknown>): string | undefined {
  const label = AlertEnvSchema.shape.DQ_DATABASE_LABEL.safeParse(env.DQ_DATABASE_LABEL)
  return label.success && label.data ? label.data : undefined
}

/**
 * The Slack settings of a long-running service (the Worker): like
 * `alertConfig`, but a malformed setting turns alerts off and says why
 * (`problem`) instead of throwing, so the checks still run and are recorded.
 */
export function alertSettings(env: unknown): {
  webhooks?: Webhooks
  label?: string
  problem?: string
} {
  const settings = (env ?? {}) as Record<string, unknown>
  const label = configuredLabel(settings)
  const labelled = label ? { label } : {}
  try {
    const webhooks = webhooksFrom(settings)
    return { ...(webhooks ? { webhooks } : {}), ...labelled }
  } catch (error) {
    return { ...labelled, problem: `alerts are off: ${messageOf(error)}` }
  }
}

/** The URL for a route: the critical webhook when configured, else the default one. */
export function webhookFor(webhooks: Webhooks, route: Route): string {
  return (route === 'critical' ? webhooks.critical : undefined) ?? webhooks.default
}

/**
 * How messages name the database: DQ_DATABASE_LABEL when set, else host/db
 * from the adapter's label. Never a connection string: no scheme, user,
 * password or parameters.
 */
export function databaseLabel(adapterLabel: string, configured?: string): string {
  if (configured?.trim()) return configured.trim()
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(adapterLabel) && URL.canParse(adapterLabel)) {
    const url = new URL(adapterLabel)
    const db = url.pathname.replace(/^\//, '')
    return db ? `${url.hostname}/${db}` : url.hostname
  }
  // pglite:DIR: the directory's name, not its path on this machine.
  const pglite = /^pglite:(.*)$/.exec(adapterLabel)
  if (pglite) return `pglite:${pglite[1]?.split(/[\\/]/).filter(Boolean).at(-1) ?? 'memory'}`
  return redactSecrets(adapterLabel).replace(/^[^@/]*@/, '')
}
