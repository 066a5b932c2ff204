// One plain connection for administration outside any job: the sandbox setting its instances up, the bench loading
// its data set, tests preparing tables. Jobs never use it: they reach tablets through the tablet client.

import mysql from 'mysql2/promise';

export type { RowDataPacket } from 'mysql2/promise';
/** A connection from openAdminConnection; the caller ends it. */
export type AdminConnection = mysql.Connection;

export interface AdminEndpoint {
  host: string;
  port: number;
  user: string;
  password?: string;
  database?: string;
  /** @default 10_000 */
  connectTimeoutMs?: number;
}

/**
 * A connection with multipleStatements on, numbers above 2^53 as strings (keyspace ids are BIGINT UNSIGNED: never
 * rounded through a JS number) and dates as text.
 */
export async function openAdminConnection(e: AdminEndpoint): Promise<AdminConnection> {
  return mysql.createConnection({
    host: e.host,
    port: e.port,
    user: e.user,
    password: e.password ?? '',
    database: e.database,
    multipleStatements: true,
    connectTimeout: e.connectTimeoutMs ?? 10_000,
    supportBigNumbers: true,
    bigNumberStrings: true,
    dateStrings: true,
    charset: 'utf8mb4_general_ci',
  });
}

/** Runs `fn` on a fresh admin connection and always closes it. */
export async function withAdminConnection<T>(e: AdminEndpoint, fn: (conn: AdminConnection) => Promise<T>): Promise<T> {
  const conn = await openAdminConnection(e);
  try {
    return await fn(conn);
  } finally {
    await conn.end().catch(() => conn.destroy());
  }
}
