/**
 * Posts one message to a Slack incoming webhook with `@slack/webhook`, and
 * decides what a failure means. The library sends (payload, headers, a
 * timeout on every request) but retries only 5xx and network errors, never
 * 429, and cannot see Retry-After, so the retry loop is ours:
 *
 * - 200: sent.
 * - 429: wait Retry-After (at most `maxRetryAfterMs`; beyond that, give up for
 *   this run) and try again.
 * - 5xx, 408, and network errors before the request went out (connection
 *   refused, DNS, unreachable, TLS): back off (1 s, 2 s, 4 s... capped) and try
 *   again, `maxAttempts` in all.
 * - a timeout, or the connection dropped after the request was sent (reset,
 *   closed): Slack may have taken the message, so trying again in the same run
 *   could post it twice: `timeoutAttempts` (default 1) ends this run's
 *   attempts; the next run tries once more.
 * - Slack's 200 whose body never arrived whole: sent (the status is Slack's word).
 * - 400, 403, 404, 410 and every other 4xx or 3xx, and a 2xx other than 200
 *   (not Slack's answer: a proxy may have passed it on): no retry; Slack's
 *   error string (`invalid_payload`, `channel_is_archived`, ...) is returned.
 *
 * Redirects are never followed (`redirect: 'manual'`): a webhook URL that
 * redirects is misconfigured, and workerd rejects the library's own
 * `redirect: 'error'`. The URL never appears in an error.
 *
 * @example
 * ```ts
 * const result = await sendToSlack(env.SLACK_WEBHOOK_URL, payload, { sleep })
 * if (!result.ok && !result.retryable) console.error(result.error) // "HTTP 410: channel_is_archived"
 * ```
 */
import { ErrorCode, type FetchFunction, IncomingWebhook } from '@slack/webhook'
import { messageOf } from '../../../kernel/errors.ts'
import type { SlackPayload } from '../../store/index.ts'
import { errorText } from '../text/index.ts'

export type { FetchFunction } from '@slack/webhook'

export type DeliveryPolicy = {
  /** Each request gives up after this long. */
  timeoutMs: number
  /** Requests per message per run, retries included. */
  maxAttempts: number
  /**
   * Requests per message per run that may end without an answer (a timeout, a
   * connection dropped after sending) before this run stops: each may have been posted.
   */
  timeoutAttempts: number
  /** First backoff after a 5xx or network error; doubles each time. */
  backoffMs: number
  maxBackoffMs: number
  /** A longer Retry-After ends this run's attempts (the message stays pending). */
  maxRetryAfterMs: number
}

export const DEFAULT_DELIVERY: DeliveryPolicy = {
  timeoutMs: 10_000,
  maxAttempts: 4,
  timeoutAttempts: 1,
  backoffMs: 1_000,
  maxBackoffMs: 8_000,
  maxRetryAfterMs: 30_000,
}

export type Sleep = (ms: number) => Promise<void>
export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

export type SendResult =
  | { ok: true; attempts: number; httpStatus: 200 }
  | {
      ok: false
      /** false: Slack refused it for good (do not send again); true: try on a later run. */
      retryable: boolean
      attempts: number
      httpStatus: number | null
      error: string
      /** Slack asked to wait longer than a run waits (429 Retry-After): not before then. */
      retryAfterMs?: number
    }

export type SendOptions = {
  /** Default: the global fetch. Always called with `redirect: 'manual'`. */
  fetch?: FetchFunction
  sleep?: Sleep
  now?: () => Date
  policy?: Partial<DeliveryPolicy>
}

type Failure = {
  retryable: boolean
  status: number | null
  error: string
  waitMs?: number
  /** No answer (a timeout, a connection dropped after sending): Slack may have posted it. */
  unanswered?: boolean
  /** Slack's Retry-After when it is past what a run waits: not before then. */
  retryAfterMs?: number
}

const PERMANENT_NOTE = 'not retried: fix the webhook or the message'

export async function sendToSlack(
  url: string,
  payload: SlackPayload,
  options: SendOptions = {},
): Promise<SendResult> {
  const policy = { ...DEFAULT_DELIVERY, ...options.policy }
  const sleep = options.sleep ?? realSleep
  const now = options.now ?? (() => new Date())
  const base: FetchFunction = options.fetch ?? ((u, init) => fetch(u, init as RequestInit))
  let last: { status: number; retryAfter: string | null } | undefined
  const webhook = new IncomingWebhook(url, {
    fetch: async (u, init) => {
      last = undefined
      const response = await base(u, { ...init, redirect: 'manual' })
      last = { status: response.status, retryAfter: response.headers.get('retry-after') }
      return response
    },
    timeout: policy.timeoutMs,
    retryConfig: { retries: 0 },
  })
  let timeouts = 0
  for (let attempt = 1; ; attempt++) {
    let failure: Failure
    try {
      await webhook.send(payload)
      if (last?.status === 200) return { ok: true, attempts: attempt, httpStatus: 200 }
      // 2xx but not 200: not Slack's answer (a proxy?), which may have passed it on: never
      // sent again through it (a proxy that always says 204 would repeat it every run).
      failure = {
        retryable: false,
        status: last?.status ?? null,
        error: `HTTP ${last?.status}: Slack answers 200 (is something between here and Slack? the message may have been posted)`,
      }
    } catch (error) {
      // Slack said 200 and the body ("ok") was cut off or timed out: it posted the message.
      if (last?.status === 200) return { ok: true, attempts: attempt, httpStatus: 200 }
      failure = classify(error, last, policy, now())
    }
    if (failure.unanswered) timeouts++
    const giveUp =
      !failure.retryable ||
      attempt >= policy.maxAttempts ||
      failure.waitMs === -1 ||
      timeouts >= policy.timeoutAttempts
    if (giveUp) {
      return {
        ok: false,
        retryable: failure.retryable,
        attempts: attempt,
        httpStatus: failure.status,
        error: failure.retryable ? failure.error : `${failure.error} (${PERMANENT_NOTE})`,
        ...(failure.retryAfterMs !== undefined ? { retryAfterMs: failure.retryAfterMs } : {}),
      }
    }
    await sleep(failure.waitMs ?? backoff(attempt, policy))
  }
}

function backoff(attempt: number, policy: DeliveryPolicy): number {
  return Math.min(policy.maxBackoffMs, policy.backoffMs * 2 ** (attempt - 1))
}

/** Retry-After in ms: delta-seconds or an HTTP date; undefined when absent or unreadable. */
function retryAfterMs(value: string | null | undefined, now: Date): number | undefined {
  if (!value) return undefined
  const text = value.trim()
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const at = Date.parse(text)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now.getTime())
}

type WebhookError = {
  code?: string
  statusCode?: number
  body?: string
  original?: { name?: string; message?: string; cause?: { code?: string; message?: string } }
}

/**
 * Network errors raised before the request could go out (Node's codes): nothing
 * reached Slack, so retrying in this run cannot post twice. Any other network
 * error (a reset, a closed socket, or workerd's, which carry no code) may have
 * come after the request went out.
 */
const NOT_SENT =
  /^(?:ECONNREFUSED|ENOTFOUND|EAI_AGAIN|EAI_NONAME|EHOSTUNREACH|ENETUNREACH|EHOSTDOWN|ENETDOWN|EADDRNOTAVAIL|UND_ERR_CONNECT_TIMEOUT|ERR_TLS_\w+|ERR_SSL_\w+|CERT_\w+|UNABLE_TO_\w+|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)$/

function classify(
  error: unknown,
  last: { status: number; retryAfter: string | null } | undefined,
  policy: DeliveryPolicy,
  now: Date,
): Failure {
  const e = (typeof error === 'object' && error !== null ? error : {}) as WebhookError
  if (e.code === ErrorCode.HTTPError && typeof e.statusCode === 'number') {
    return httpFailure(e.statusCode, e.body, last, policy, now)
  }
  if (e.code === ErrorCode.RequestError) {
    // An answer whose body was cut off: its status decides.
    if (last) return httpFailure(last.status, undefined, last, policy, now)
    const original = e.original
    if (original?.name === 'TimeoutError' || original?.name === 'AbortError') {
      return {
        unanswered: true,
        retryable: true,
        status: null,
        error: `no answer within ${policy.timeoutMs} ms (timeout)`,
      }
    }
    const code = original?.cause?.code
    const cause = code ?? original?.cause?.message
    const said = `network error: ${errorText(original?.message ?? 'request failed', 200)}${cause ? ` (${errorText(String(cause), 100)})` : ''}`
    if (code && NOT_SENT.test(code)) return { retryable: true, status: null, error: said }
    return {
      unanswered: true,
      retryable: true,
      status: null,
      error: `${said}: the request may have reached Slack (no more tries this run)`,
    }
  }
  return {
    retryable: true,
    status: null,
    error: `could not send: ${errorText(messageOf(error), 200)}`,
  }
}

/** What an HTTP answer other than Slack's 200 means (its body, when it arrived). */
function httpFailure(
  status: number,
  body: string | undefined,
  last: { status: number; retryAfter: string | null } | undefined,
  policy: DeliveryPolicy,
  now: Date,
): Failure {
  const said = body?.trim() ? `: ${errorText(body, 200)}` : ''
  if (status === 429) {
    const wait = retryAfterMs(last?.retryAfter, now) ?? policy.backoffMs
    return wait > policy.maxRetryAfterMs
      ? {
          retryable: true,
          status,
          error: `HTTP 429${said} (rate limited; Retry-After ${Math.round(wait / 1000)} s is past the ${policy.maxRetryAfterMs / 1000} s cap: retried on the next run)`,
          waitMs: -1,
          retryAfterMs: wait,
        }
      : {
          retryable: true,
          status,
          error: `HTTP 429${said} (rate limited)`,
          waitMs: Math.max(wait, 1000),
        }
  }
  if (status >= 500 || status === 408)
    return { retryable: true, status, error: `HTTP ${status}${said}` }
  const redirect =
    status >= 300 && status < 400 ? ' (the webhook URL redirects: use the URL Slack gave you)' : ''
  return { retryable: false, status, error: `HTTP ${status}${said}${redirect}` }
}
