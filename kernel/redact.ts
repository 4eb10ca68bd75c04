/**
 * The one redactor: connection strings, webhook URLs, keys and tokens never
 * reach a log line, an HTTP answer, a Slack message or a printed label.
 *
 * @example
 * ```ts
 * redactSecrets('could not connect to postgres://u:pw@db/x') // 'could not connect to postgres://[redacted]'
 * safeUrl('postgres://dq:secret@db.internal:5432/app?sslmode=require') // 'postgres://dq@db.internal:5432/app'
 * ```
 */

const SECRET_PATTERNS: [RegExp, string][] = [
  // Database URLs name a host, a user and often a password: never shown.
  [/\b(postgres(?:ql)?|mysql|redis|mongodb(?:\+srv)?):\/\/\S+/gi, '$1://[redacted]'],
  // Slack webhooks are credentials in themselves.
  [/https?:\/\/hooks\.slack\.com\/\S+/gi, 'https://hooks.slack.com/[redacted]'],
  // Any other URL with user:password@.
  [/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/@:]+:[^\s/@]*@/gi, '$1[redacted]@'],
  // key=value and key: value secrets (libpq strings, headers, JSON-ish text).
  [
    /\b(password|passwd|pwd|secret|token|api[_-]?key|apikey|authorization|service_role_key)(["']?\s*[=:]\s*["']?)(?:bearer\s+)?[^\s"',;]+/gi,
    '$1$2[redacted]',
  ],
  // JWTs (Supabase keys are JWTs or sb_secret_...).
  [/\beyJ[\w-]{8,}\.[\w-]{8,}\.[\w-]{8,}/g, '[redacted jwt]'],
  [/\bsb_(secret|publishable)_[\w-]+/g, 'sb_$1_[redacted]'],
]

/** Removes credentials and connection strings from free text (database errors, Slack bodies). */
export function redactSecrets(text: string): string {
  return SECRET_PATTERNS.reduce(
    (out, [pattern, replacement]) => out.replace(pattern, replacement),
    text,
  )
}

/**
 * A URL fit to print: no password and no parameters (which may hold one).
 * Text that does not parse as a URL is scrubbed with redactSecrets instead.
 */
export function safeUrl(url: string): string {
  try {
    const parsed = new URL(url.trim())
    parsed.password = ''
    parsed.search = ''
    parsed.hash = ''
    return parsed.toString()
  } catch {
    return redactSecrets(url.replace(/:[^:@/\s]*@/, '@'))
  }
}
