/**
 * Text that goes into a Slack message: escaped for mrkdwn (`&`, `<`, `>` are
 * the only control characters Slack parses in text), truncated to a budget
 * without cutting an escape or a surrogate pair, and scrubbed of anything that
 * looks like a credential or a connection string.
 *
 * @example
 * ```ts
 * escapeText('<!channel> & co') // '&lt;!channel&gt; &amp; co'
 * codeSpan({ id: 17 }, 40)      // '`{"id":17}`'
 * errorText('could not connect to postgres://u:pw@db/x') // 'could not connect to postgres://[redacted]'
 * ```
 */

const ELLIPSIS = '…'

/** Slack's mrkdwn escaping: data can never become a mention, a link or a command. */
export function escapeText(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** Undoes escapeText (for showing a message in a terminal). */
export function unescapeText(text: string): string {
  return text.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&')
}

/** At most `max` UTF-16 units, ending in "…" when cut; never splits a surrogate pair. */
export function truncate(text: string, max: number): string {
  if (text.length <= max) return text
  let end = Math.max(0, max - ELLIPSIS.length)
  const code = text.charCodeAt(end - 1)
  if (code >= 0xd800 && code <= 0xdbff) end -= 1
  return text.slice(0, end) + ELLIPSIS
}

/** truncate() for text already escaped: a cut never leaves half an `&amp;`. */
export function truncateEscaped(text: string, max: number): string {
  if (text.length <= max) return text
  const cut = truncate(text, max)
  return cut.replace(/&[a-z]{0,3}…$/, ELLIPSIS)
}

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

/** A database error for a message: secrets removed, one line, at most `max` characters. */
export function errorText(text: string, max = 300): string {
  return truncate(redactSecrets(text).replace(/\s+/g, ' ').trim(), max)
}

/**
 * A value as inline code: JSON for objects, one line, escaped, truncated.
 * Backticks would end the span early, so they become a look-alike (ˋ).
 */
export function codeSpan(value: unknown, max: number): string {
  const raw = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value))
  const text = redactSecrets(raw).replace(/`/g, 'ˋ').replace(/\s+/g, ' ')
  return `\`${truncateEscaped(escapeText(text), Math.max(1, max - 2))}\``
}
