/** The bindings the workerd tests give the Worker (shared by the config and the tests). */
export const WORKERD_API_TOKEN = 'workerd-test-token-0123456789'
/** Nothing listens on port 1: a request that reaches the database fails loudly. */
export const NO_DATABASE_URL = 'postgres://dq@127.0.0.1:1/no_database'

declare module 'vitest' {
  export interface ProvidedContext {
    /** postgres:// URL of the seeded database, or "" when no server is configured. */
    workerdDatabaseUrl: string
    /** The same server's `postgres` database, never migrated: any dq call there fails. */
    workerdUnmigratedUrl: string
    /** The seeded database behind test/support/postgrest.ts, as SUPABASE_* would name it. */
    workerdSupabase: { url: string; serviceKey: string }
    /** A fresh seeded database and a Slack stand-in (test/support/slack-receiver.ts). */
    workerdAlerts: { databaseUrl: string; slackUrl: string; inspectUrl: string }
  }
}
