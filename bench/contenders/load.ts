// Contender (c), the ingest limit: per-shard files made beforehand (untimed), then on both destinations at once
// a server-side LOAD DATA into tables without secondary indexes, then ADD INDEX. No reading, no routing.

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import { quoteId, quoteString } from '../../src/mysql/sql.ts';
import { withConnection } from '../../src/sandbox/index.ts';
import type { BenchCluster } from '../cluster.ts';
import { shardWhere, type Dataset } from '../dataset.ts';

export interface LoadFiles {
  /** shard → table → absolute path of its tab-separated file. */
  files: Record<string, Record<string, string>>;
}

/** Writes each shard's rows of each table to a file with SELECT … INTO OUTFILE on the rdonly (untimed). */
export async function prepareLoadFiles(c: BenchCluster, d: Dataset): Promise<LoadFiles> {
  const dir = path.join(c.dir, 'files', d.db);
  await fsp.rm(dir, { recursive: true, force: true });
  await fsp.mkdir(dir, { recursive: true });
  const files: LoadFiles['files'] = {};
  await withConnection(c.rdonly, async (conn) => {
    const [rows] = await conn.query('SELECT @@secure_file_priv AS p');
    const priv = (rows as { p: string | null }[])[0].p;
    // MariaDB: unset (NULL) or empty means any path; a path restricts files to it.
    if (priv !== null && priv !== '' && !dir.startsWith(path.resolve(priv)))
      throw new Error(`the rdonly's secure_file_priv (${priv}) does not allow writing ${dir}`);
    await conn.query("SET SESSION time_zone = '+00:00'");
    for (const dest of c.dests) {
      files[dest.shard] = {};
      for (const t of d.tables) {
        const file = path.join(dir, `${dest.shard}.${t.name}.tsv`);
        const cols = t.columns.map(([name]) => quoteId(name)).join(', ');
        // The default FIELDS/LINES clauses on both sides: tab, newline, backslash escapes, \N for NULL.
        await conn.query(
          `SELECT ${cols} FROM ${quoteId(d.db)}.${quoteId(t.name)} WHERE ${shardWhere(dest.shard)} INTO OUTFILE ${quoteString(file)} CHARACTER SET binary`,
        );
        files[dest.shard][t.name] = file;
      }
    }
  });
  return { files };
}

export interface LoadTiming {
  seconds: number;
  /** Until the last LOAD DATA ended, and the ADD INDEX part after it, on the slower destination. */
  loadSeconds: number;
  indexSeconds: number;
}

export async function runLoad(c: BenchCluster, d: Dataset, prepared: LoadFiles): Promise<LoadTiming> {
  const started = performance.now();
  const phases = await Promise.all(
    c.dests.map((dest) =>
      withConnection(dest.endpoint, async (conn) => {
        await conn.query(
          `SET SESSION time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES'; CREATE DATABASE ${quoteId(d.db)} CHARACTER SET utf8mb4; USE ${quoteId(d.db)}`,
        );
        for (const t of d.tables) await conn.query(t.createBase);
        for (const t of d.tables) {
          const cols = t.columns.map(([name]) => quoteId(name)).join(', ');
          await conn.query(`LOAD DATA INFILE ${quoteString(prepared.files[dest.shard][t.name])} INTO TABLE ${quoteId(t.name)} CHARACTER SET binary (${cols})`);
        }
        const loaded = performance.now();
        for (const t of d.tables) if (t.addIndex) await conn.query(t.addIndex);
        return { loaded, indexed: performance.now() };
      }),
    ),
  );
  const loaded = Math.max(...phases.map((p) => p.loaded));
  const ended = Math.max(...phases.map((p) => p.indexed));
  return {
    seconds: (ended - started) / 1000,
    loadSeconds: (loaded - started) / 1000,
    indexSeconds: Math.max(...phases.map((p) => p.indexed - p.loaded)) / 1000,
  };
}
