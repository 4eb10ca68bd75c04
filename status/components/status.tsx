/**
 * A status as people read it: an icon and a word, then a colour. The icon is
 * decoration (aria-hidden); the word is what a screen reader says.
 */
import type { PageStatus } from '../view.ts'

const ICONS: Record<PageStatus, string> = { pass: '✓', warn: '▲', fail: '✕', error: '!', none: '–' }
const WORDS: Record<PageStatus, string> = {
  pass: 'pass',
  warn: 'warn',
  fail: 'fail',
  error: 'error',
  none: 'not run',
}

export const statusWord = (status: PageStatus): string => WORDS[status]

/** The status's icon, for anything that shows a status by its colour (badges, summary chips). */
export const StatusIcon = (props: { status: PageStatus }) => (
  <span class="icon" aria-hidden="true">
    {ICONS[props.status]}
  </span>
)

export const StatusBadge = (props: { status: PageStatus }) => (
  <span class={`badge ${props.status}`}>
    <StatusIcon status={props.status} />
    {WORDS[props.status]}
  </span>
)
