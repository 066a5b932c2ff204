// Pools to tablets. Every session is set up the same way, so that what one side reads the other writes back
// unchanged: UTC time zone, no charset conversion of results, strict mode that still allows zero dates.

import mysql from 'mysql2';
import type { Pool, PoolConnection } from 'mysql2/promise';
import type { Credentials, DbTls, Tablet } from '../topology/types.ts';
import { directSocket } from './wire/direct-reads.ts';

export type { Pool, PoolConnection };

export const SESSION_SETUP = [
  "SET SESSION time_zone = '+00:00'",
  "SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION'",
  // Raw column bytes, as stored: a latin1 column is not re-encoded on the way out.
  'SET SESSION character_set_results = NULL',
  'SET SESSION foreign_key_checks = 0',
  // Sorting on long strings compares all their bytes, not the first 1024: the diff merge-joins on that order.
  'SET SESSION max_sort_length = 8388608',
  // Marks the session as shardworker's: the triggers of a vertical cutover (write-control.ts) refuse every other.
  'SET @shardworker = 1',
].join('; ');

/** A tablet as errors and logs name it: alias and address, never credentials. */
export interface TabletRef {
  alias: string;
  tablet: Tablet;
}

export function describeTablet(ref: TabletRef): string {
  return `${ref.alias} (${ref.tablet.host}:${ref.tablet.port}/${ref.tablet.dbName})`;
}

/** An error from a tablet, named by the tablet and what we were doing; keeps the MySQL errno for retry logic. */
export class TabletError extends Error {
  readonly errno: number | undefined;
  readonly tabletAlias: string;
  constructor(ref: TabletRef, doing: string, cause: unknown) {
    const err = cause as { message?: string; errno?: number; code?: string };
    const reason = err?.message || err?.code || String(cause);
    super(`${doing} on ${describeTablet(ref)}: ${reason}`, { cause });
    this.name = 'TabletError';
    this.errno = err?.errno;
    this.tabletAlias = ref.alias;
  }
}

export interface PoolOptions {
  connectionLimit: number;
  /** Connect to the tablet's database (default) or to none (to create it). */
  withDatabase?: boolean;
  /** The CA for tablets with `tls: true` (--db-ca-file); tablets without it ignore this. */
  tls?: DbTls;
  /**
   * Called for each new connection after its session setup is queued: `run` queues a statement on it, ahead of any
   * statement of the pool's users (a connection runs its commands in order). Used to check a taken source.
   */
  onConnection?: (run: (sql: string, done: (err: Error | null, rows: Record<string, unknown>[]) => void) => void) => void;
}

/** mysql2's `ssl` option for a tablet: none unless it has `tls: true`; then always verified, against the CA if given. */
export function sslOption(tablet: Tablet, tls: DbTls | undefined): { ca?: Buffer; rejectUnauthorized: true } | undefined {
  if (tablet.tls !== true) return undefined;
  return tls?.ca ? { ca: tls.ca, rejectUnauthorized: true } : { rejectUnauthorized: true };
}

/**
 * What every connection to a tablet has, the pools' and the binlog dump's: address and account, how long a connect
 * may take, keep-alive, numbers as exact strings, utf8mb4, TLS as the tablet says.
 */
export function connectionBasics(tablet: Tablet, credentials: Credentials, tls: DbTls | undefined) {
  return {
    host: tablet.host,
    port: tablet.port,
    user: tablet.user,
    password: credentials[tablet.user] ?? '',
    ssl: sslOption(tablet, tls),
    connectTimeout: 10_000,
    enableKeepAlive: true,
    supportBigNumbers: true,
    bigNumberStrings: true,
    charset: 'utf8mb4',
    // mysql2 fills four arrays of this many entries per connection for its statement cache (16,000 by default:
    // 512 KiB a connection, 14 MB of a 40-connection copy's heap); every statement prepared here is closed after use.
    maxPreparedStatements: 16,
  } satisfies mysql.ConnectionOptions;
}

export function openPool(ref: TabletRef, credentials: Credentials, options: PoolOptions): Pool {
  const { tablet } = ref;
  const basics = connectionBasics(tablet, credentials, options.tls);
  const callbackPool = mysql.createPool({
    ...basics,
    database: options.withDatabase === false ? undefined : tablet.dbName,
    connectionLimit: options.connectionLimit,
    maxIdle: options.connectionLimit,
    multipleStatements: true,
    dateStrings: true,
    // Rows read in place into the copy's staging (see direct-reads.ts); a TLS connection wraps mysql2's own socket.
    stream: basics.ssl ? undefined : () => directSocket(tablet.host, tablet.port),
  });
  callbackPool.on('connection', (conn) => {
    // Queued before any query of the pool's users, since a connection runs its commands in order.
    conn.query(SESSION_SETUP, (err) => {
      // A session without these settings would not copy faithfully: better no connection at all.
      if (err) conn.destroy();
    });
    options.onConnection?.((sql, done) => {
      conn.query(sql, (err, results) => {
        if (err) return done(err, []);
        // A multi-statement's results are one array per statement: the last is the answer.
        const list = Array.isArray(results) && Array.isArray(results[results.length - 1]) ? results[results.length - 1] : results;
        done(null, (Array.isArray(list) ? list : []) as Record<string, unknown>[]);
      });
    });
  });
  return callbackPool.promise();
}

/** Runs one query, turning a failure into a TabletError that names the tablet. */
export async function queryOn<T>(pool: Pool, ref: TabletRef, doing: string, sql: string, values?: unknown[]): Promise<T> {
  try {
    const [rows] = await pool.query(sql, values);
    return rows as T;
  } catch (err) {
    throw new TabletError(ref, doing, err);
  }
}

/** A dedicated connection for a streaming read; a failure to get one names the tablet. */
export async function acquireConnection(pool: Pool, ref: TabletRef, doing: string): Promise<PoolConnection> {
  try {
    return await pool.getConnection();
  } catch (err) {
    throw new TabletError(ref, doing, err);
  }
}
