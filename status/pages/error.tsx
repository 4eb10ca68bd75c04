/** An error as a page: what happened and what to do, never a stack trace. */

import { Layout } from '../components/layout.tsx'
import type { Viewer } from '../session.ts'

export const ErrorPage = (props: {
  title: string
  message: string
  viewer?: Viewer | undefined
  back?: { href: string; text: string }
}) => (
  <Layout title={props.title} section="error" viewer={props.viewer}>
    <h1>{props.title}</h1>
    <p class="notice bad" role="alert">
      {props.message}
    </p>
    <p>
      <a href={props.back?.href ?? '/'}>{props.back?.text ?? 'Back to the overview'}</a>
    </p>
  </Layout>
)
