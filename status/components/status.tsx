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

export const StatusBadge = (props: { status: PageStatus }) => (
  <span class={`badge ${props.status}`}>
    <span class="icon" aria-hidden="true">
      {ICONS[props.status]}
    </span>
    {WORDS[props.status]}
  </span>
)
