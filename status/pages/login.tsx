/**
 * The sign-in form: the API token, exchanged once for a session cookie
 * (status/session.ts). A wrong token answers 401 with the form again.
 */
import { Layout } from '../components/layout.tsx'

export const LoginPage = (props: {
  next: string
  problem?: string | undefined
  signedOut?: boolean | undefined
  access: boolean
}) => (
  <Layout title="Sign in" section="login">
    <h1>Sign in to the status page</h1>
    {props.signedOut ? (
      <p class="notice good" role="status">
        You are signed out.
      </p>
    ) : null}
    {props.problem ? (
      <p class="notice bad" role="alert" id="login-problem">
        {props.problem}
      </p>
    ) : null}
    <form method="post" action="/login">
      <input type="hidden" name="next" value={props.next} />
      <label for="token">API token</label>
      <input
        id="token"
        name="token"
        type="password"
        autocomplete="current-password"
        required
        aria-describedby={props.problem ? 'login-problem token-hint' : 'token-hint'}
      />
      <p class="hint" id="token-hint">
        The DQ_API_TOKEN of this deployment. It is sent once; the browser keeps a session for 12
        hours.
      </p>
      <button type="submit">Sign in</button>
    </form>
    {props.access ? (
      <p class="muted">
        Behind Cloudflare Access, you are signed in by Access and never see this form.
      </p>
    ) : null}
  </Layout>
)
