// Small database chores tests need on sandbox instances: create, drop, reset, count rows.

import type { RowDataPacket } from '../mysql/admin-connection.ts';
import { quoteId } from '../mysql/sql.ts';
import { withConnection, type Endpoint } from './connect.ts';

export async function createDatabase(instance: Endpoint, dbName: string): Promise<void> {
  await withConnection(instance, (conn) => conn.query(`CREATE DATABASE IF NOT EXISTS ${quoteId(dbName)} CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci`));
}

export async function dropDatabase(instance: Endpoint, dbName: string): Promise<void> {
  await withConnection(instance, (conn) => conn.query(`DROP DATABASE IF EXISTS ${quoteId(dbName)}`));
}

/**
 * Empties a destination between tests: drops `dbName` and, by default, `_vt` (where a clone writes its
 * blp_checkpoint), so the next clone starts from nothing.
 */
export async function resetDestination(instance: Endpoint, dbName: string, options: { keepVt?: boolean } = {}): Promise<void> {
  await withConnection(instance, async (conn) => {
    await conn.query(`DROP DATABASE IF EXISTS ${quoteId(dbName)}`);
    if (!options.keepVt) await conn.query('DROP DATABASE IF EXISTS `_vt`');
  });
}

export async function databaseExists(instance: Endpoint, dbName: string): Promise<boolean> {
  return withConnection(instance, async (conn) => {
    const [rows] = await conn.query<RowDataPacket[]>('SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?', [dbName]);
    return rows.length > 0;
  });
}

/** Exact row count of every base table in `dbName` (views left out). */
export async function tableRowCounts(instance: Endpoint, dbName: string): Promise<Record<string, number>> {
  return withConnection(instance, async (conn) => {
    const [tables] = await conn.query<RowDataPacket[]>(
      `SELECT TABLE_NAME AS name FROM information_schema.TABLES
       WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME`,
      [dbName],
    );
    const counts: Record<string, number> = {};
    for (const t of tables) {
      const name = String(t.name);
      const [rows] = await conn.query<RowDataPacket[]>(`SELECT COUNT(*) AS n FROM ${quoteId(dbName)}.${quoteId(name)}`);
      counts[name] = Number(rows[0]?.n ?? 0);
    }
    return counts;
  });
}
