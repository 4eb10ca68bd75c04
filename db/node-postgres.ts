/**
 * PostgreSQL over a direct connection with node-postgres (`pg`): `postgres://`
 * URLs from the CLI and `dq serve`, and DQ_DATABASE_URL or a Hyperdrive
 * binding's connection string in the Worker (Cloudflare documents `pg` for
 * both). Chosen over postgres.js 3.4.9, which crashes the process when a
 * connection dies mid-query (porsager/postgres#1154, #1208).
 *
 * Each call checks a connection out of a small pool. A check runs in its own
 * READ ONLY transaction with its statement and lock timeouts and always ends
 * in ROLLBACK: it can never leave anything behind. Every other call gets a
 * statement timeout too (history writes included), so a locked table cannot
 * hold a run. A connection that dies mid-call is destroyed, that call is
 * `connection_lost`, and the next call gets a fresh connection.
 *
 * @example
 * ```ts
 * const db = PgDatabase.connect('postgres://dq@db.internal:5432/app')
 * await db.call('check_history', { check_name: 'x', max_results: 5 })
 * await db.close()
 * ```
 */
import pg from 'pg'
import {
  CALL_TIMEOUT_SECONDS,
  type CallOptions,
  type DatabasePort,
  LOCK_TIMEOUT_MS,
} from '../kernel/port.ts'
import { safeUrl } from '../kernel/redact.ts'
import { callSql } from './call-sql.ts'
import { connectionError, databaseError, isConnectionError } from './sql-error.ts'

export type PgOptions = {
  /** Connections in the pool (default 2): checks of one run use one at a time. */
  max?: number
  /** Give up connecting after this long (default 10 s). */
  connectTimeoutSeconds?: number
  /**
   * Checks may run as a login with more than read powers that cannot become
   * dq_monitor (DQ_ALLOW_PRIVILEGED_LOGIN=1): see README "Safety".
   */
  allowPrivilegedLogin?: boolean
}

type Row = { result: unknown }

export class PgDatabase implements DatabasePort {
  readonly label: string
  private readonly pool: pg.Pool
  private readonly allowPrivilegedLogin: boolean

  private constructor(pool: pg.Pool, label: string, allowPrivilegedLogin: boolean) {
    this.pool = pool
    this.label = label
    this.allowPrivilegedLogin = allowPrivilegedLogin
  }

  static connect(url: string, options: PgOptions = {}): PgDatabase {
    const pool = new pg.Pool({
      connectionString: url,
      max: options.max ?? 2,
      connectionTimeoutMillis: (options.connectTimeoutSeconds ?? 10) * 1000,
      application_name: 'dq-monitor',
    })
    // An idle connection that dies (a restart, pg_terminate_backend) is dropped
    // from the pool; without a listener node would crash on the 'error' event.
    pool.on('error', () => {})
    pool.on('connect', guardSocketErrors)
    return new PgDatabase(pool, safeUrl(url), options.allowPrivilegedLogin ?? false)
  }

  async migrate(): Promise<void> {
    // Imported here: it reads files with node:fs, which the Worker bundle must not evaluate.
    const { loadMigrations, MIGRATION_LOCK_KEY } = await import('./migrations.ts')
    const migrations = await loadMigrations()
    await this.session('migrate', async (client) => {
      await client.query('begin')
      try {
        await client.query('select pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY])
        for (const migration of migrations) await client.query(migration.sql)
        await client.query('commit')
      } catch (error) {
        await client.query('rollback').catch(() => {})
        throw error
      }
    })
  }

  async close(): Promise<void> {
    await this.pool.end()
  }

  async call(
    fn: string,
    args: Record<string, unknown>,
    options: CallOptions = {},
  ): Promise<unknown> {
    const { text, values } = callSql(fn, args)
    return this.session(fn, async (client) => {
      const readOnly = options.readOnly
      const timeoutMs = Math.round(
        (readOnly?.timeoutSeconds ?? options.timeoutSeconds ?? CALL_TIMEOUT_SECONDS) * 1000,
      )
      // One round trip for BEGIN and the settings (simple protocol, so the values are literals:
      // integers and on/off of our own, nothing from a caller).
      const settings = `select set_config('statement_timeout', '${timeoutMs}', true),
        set_config('lock_timeout', '${LOCK_TIMEOUT_MS}', true),
        set_config('dq.allow_privileged', '${this.allowPrivilegedLogin ? 'on' : 'off'}', true)`
      try {
        await client.query(`${readOnly ? 'begin read only' : 'begin'}; ${settings}`)
        const { rows } = await client.query<Row>(text, values)
        // A check only reads: ending it in ROLLBACK undoes anything it might have slipped past
        // READ ONLY (large objects); session advisory locks survive a rollback, so they go too.
        await client.query(readOnly ? 'rollback; select pg_advisory_unlock_all()' : 'commit')
        return rows[0]?.result
      } catch (error) {
        if (!isConnectionError(error)) {
          await client.query('rollback; select pg_advisory_unlock_all()').catch(() => {})
        }
        throw error
      }
    })
  }

  /**
   * A pooled connection for `use`. A connection error destroys it (never
   * returned to the pool), so the next call connects afresh.
   */
  private async session<T>(fn: string, use: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    let client: pg.PoolClient
    try {
      client = await this.pool.connect()
    } catch (error) {
      throw connectionError(error, 'connect')
    }
    // A checked-out client reports a dying connection as an 'error' event too.
    let dropped: unknown
    const onError = (error: unknown) => {
      dropped = error
    }
    client.on('error', onError)
    try {
      return await use(client)
    } catch (error) {
      const lost = dropped !== undefined || isConnectionError(error)
      if (lost) {
        client.removeListener('error', onError)
        client.on('error', () => {})
        client.release(true)
        client = undefined as never
        throw connectionError(dropped ?? error, 'call', fn)
      }
      throw databaseError(error)
    } finally {
      if (client) {
        client.removeListener('error', onError)
        client.release()
      }
    }
  }
}

/**
 * In workerd, pg's Cloudflare socket reports some closes (a terminated
 * backend) as an 'error' with no error object, and pg's handler then throws
 * reading `.code` of undefined: an unhandled rejection for every killed
 * connection. Give such events an Error, so pg handles them as it does on Node.
 */
function guardSocketErrors(client: pg.PoolClient): void {
  const stream = (client as unknown as { connection?: { stream?: NodeJS.EventEmitter } }).connection
    ?.stream
  if (!stream) return
  const emit = stream.emit.bind(stream)
  stream.emit = (event: string | symbol, ...args: unknown[]) =>
    event === 'error' && args[0] == null
      ? emit(event, new Error('Connection terminated unexpectedly (socket closed)'))
      : emit(event, ...args)
}
