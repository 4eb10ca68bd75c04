/** A moment as "3 h ago", with the exact UTC time in the markup and on hover. */
import { relativeTime, utcText } from '../view.ts'

export const Ago = (props: { at: string | null | undefined; now: string }) =>
  props.at ? (
    <time datetime={props.at} title={utcText(props.at)}>
      {relativeTime(props.at, props.now)}
    </time>
  ) : (
    <span>never</span>
  )
