/**
 * A real HTTP server on 127.0.0.1 playing a Slack incoming webhook, for the
 * delivery tests: it answers from a script (200, 429 with Retry-After, 500,
 * 410 with Slack's error string, a hang that never answers, a dropped
 * connection), then 200 "ok"
 * once the script runs out, and records every request it received.
 *
 * @example
 * ```ts
 * const slack = await startSlackReceiver([{ status: 500 }, { status: 500 }])
 * await sendToSlack(slack.url, payload)
 * slack.requests.length // 3: two 500s, then a 200
 * slack.accepted()      // the one body Slack "posted"
 * await slack.close()
 * ```
 */
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * One scripted answer; `hang` holds the request open and never answers
 * (`posted`: the message reached the channel all the same, as when Slack
 * answers too late). `drop` reads the whole request, then drops the connection
 * without an answer: `reset` (a TCP RST, ECONNRESET) or `close` (a FIN).
 * `cut` sends the status line and headers, then drops the connection before
 * the body ends.
 */
export type Reply =
  | { status: number; body?: string; headers?: Record<string, string>; cut?: boolean }
  | { hang: true; posted?: boolean }
  | { drop: 'reset' | 'close'; posted?: boolean }

export type Received = {
  path: string
  headers: IncomingHttpHeaders
  /** The parsed JSON body (the Slack message). */
  body: { text?: string; blocks?: unknown[] } & Record<string, unknown>
  /** What it was answered (`hang` when never). */
  reply: Reply
  /** Date.now() when it arrived. */
  at: number
}

export type SlackReceiver = {
  /** The webhook URL to give dq-monitor (a made-up secret path, as Slack's). */
  url: string
  requests: Received[]
  /** Requests answered 200, or posted and never answered: the messages that reached the "channel". */
  accepted(): Received[]
  /** Appends answers to the script. */
  script(...replies: Reply[]): void
  close(): Promise<void>
}

const OK: Reply = { status: 200, body: 'ok' }

/** GET this path for the requests received so far, as JSON (not recorded itself). */
export const INSPECT_PATH = '/__requests'

export async function startSlackReceiver(replies: Reply[] = []): Promise<SlackReceiver> {
  const script = [...replies]
  const requests: Received[] = []
  const hanging = new Set<ServerResponse>()
  const server = createServer((req, res) => {
    // What it received, for tests in another runtime (workerd) that cannot read `requests`.
    if (req.method === 'GET' && req.url === INSPECT_PATH) {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(
        JSON.stringify(requests.map(({ path, body, reply, at }) => ({ path, body, reply, at }))),
      )
      return
    }
    const chunks: Buffer[] = []
    req.on('data', (chunk: Buffer) => chunks.push(chunk))
    req.on('end', () => {
      const reply = script.shift() ?? OK
      const raw = Buffer.concat(chunks).toString('utf8')
      let body: Received['body']
      try {
        body = JSON.parse(raw)
      } catch {
        body = { raw }
      }
      requests.push({ path: req.url ?? '', headers: req.headers, body, reply, at: Date.now() })
      if ('hang' in reply) {
        hanging.add(res)
        res.on('close', () => hanging.delete(res))
        return
      }
      if ('drop' in reply) {
        if (reply.drop === 'reset') req.socket.resetAndDestroy()
        else req.socket.destroy()
        return
      }
      const text = reply.body ?? (reply.status === 200 ? 'ok' : '')
      if (reply.cut) {
        // A body promised longer than what is sent: the client sees the answer start, then end.
        res.writeHead(reply.status, {
          'content-type': 'text/plain',
          'content-length': text.length + 10,
        })
        res.write(text)
        setTimeout(() => req.socket.destroy(), 20)
        return
      }
      res.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers })
      res.end(text)
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/services/T000/B000/not-a-real-secret`,
    requests,
    accepted: () =>
      requests.filter((r) =>
        'status' in r.reply ? r.reply.status === 200 : r.reply.posted === true,
      ),
    script: (...more) => {
      script.push(...more)
    },
    close: async () => {
      for (const res of hanging) res.destroy()
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
