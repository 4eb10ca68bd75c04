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
import { redactSecrets } from '../../../kernel/redact.ts'

export { redactSecrets } from '../../../kernel/redact.ts'

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
