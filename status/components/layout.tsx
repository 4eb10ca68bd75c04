/**
 * The page around every page: lang, landmarks (banner, navigation, main,
 * contentinfo), a skip link, the stylesheet, and the sign-out form (a POST
 * with the session's CSRF token; no script, so it works with JavaScript off).
 */

import { raw } from 'hono/html'
import type { Child } from 'hono/jsx'
import type { Viewer } from '../session.ts'
import { STYLESHEET_PATH } from '../style.ts'

export type Section = 'overview' | 'coverage' | 'check' | 'login' | 'error'

export const Layout = (props: {
  title: string
  section: Section
  viewer?: Viewer | undefined
  children?: Child
}) => (
  <>
    {raw('<!DOCTYPE html>')}
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="referrer" content="no-referrer" />
        <title>{`${props.title} · dq-monitor`}</title>
        <link rel="icon" href="/favicon.svg" type="image/svg+xml" />
        <link rel="stylesheet" href={STYLESHEET_PATH} />
      </head>
      <body>
        <a class="skip" href="#main">
          Skip to content
        </a>
        <header class="top">
          <a class="brand" href="/">
            dq-monitor
          </a>
          {props.viewer ? (
            <nav aria-label="Pages">
              <ul>
                <li>
                  <a href="/" aria-current={props.section === 'overview' ? 'page' : undefined}>
                    Overview
                  </a>
                </li>
                <li>
                  <a
                    href="/coverage"
                    aria-current={props.section === 'coverage' ? 'page' : undefined}
                  >
                    Coverage by workflow
                  </a>
                </li>
              </ul>
            </nav>
          ) : null}
          {props.viewer ? <SignOut viewer={props.viewer} /> : null}
        </header>
        <main id="main" tabindex={-1}>
          {props.children}
        </main>
        <footer>
          <p>
            dq-monitor: data-quality checks run inside the database. Times are UTC; charts cover 30
            days.
          </p>
        </footer>
      </body>
    </html>
  </>
)

const SignOut = (props: { viewer: Viewer }) =>
  props.viewer.via === 'access' ? (
    <p class="who">
      {props.viewer.name} · <a href="/cdn-cgi/access/logout">Sign out of Cloudflare Access</a>
    </p>
  ) : (
    <form class="who" method="post" action="/logout">
      <input type="hidden" name="csrf" value={props.viewer.csrf} />
      <button type="submit">Sign out</button>
    </form>
  )
