/** What the fan-out project's global setup provides (test/workerd/fan-out/global-setup.ts). */
declare module 'vitest' {
  export interface ProvidedContext {
    /** A migrated database holding fan_out.items, or "" when no server is configured. */
    fanOutDatabaseUrl: string
    /** A Slack stand-in (test/support/slack-receiver.ts) for this project alone. */
    fanOutSlack: { slackUrl: string; inspectUrl: string }
  }
}

/** The queues of wrangler.toml [env.queues]. */
export const FAN_OUT_QUEUE = 'dq-checks'
export const DEAD_LETTER_QUEUE = 'dq-checks-dlq'
