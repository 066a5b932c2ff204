// The test cluster: one set of real mariadbd instances shared by every integration test file (started once,
// reused), each test working in databases and topology files of its own.

import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import type { TabletRef } from '../../src/mysql/connection.ts';
import { connect, sandboxUp, waitForCatchUp, type Endpoint } from '../../src/sandbox/index.ts';
import { openTopology } from '../../src/topology/server.ts';
import type { Tablet, Topology } from '../../src/topology/types.ts';
import { JobController } from '../../src/worker/controller.ts';
import type { JobRequest, StatusSnapshot } from '../../src/worker/status.ts';

export const TEST_SANDBOX_DIR = process.env.SHARDWORKER_TEST_SANDBOX ?? path.resolve('.sandbox-test');
export const TEST_BASE_PORT = Number(process.env.SHARDWORKER_TEST_BASE_PORT ?? 16300);

export interface TestCluster {
  primary: Endpoint;
  rdonly: Endpoint;
  /** Three destination primaries. */
  dests: Endpoint[];
}

let cached: Promise<TestCluster> | undefined;

export function testCluster(): Promise<TestCluster> {
  cached ??= sandboxUp({ dir: TEST_SANDBOX_DIR, basePort: TEST_BASE_PORT, destinations: 3, seedRows: 1000 }).then((r) => ({
    primary: { port: r.instances.primary.port },
    rdonly: { port: r.instances.rdonly.port },
    dests: r.instances.destinations.map((d) => ({ port: d.port })),
  }));
  return cached;
}

/** The cluster's rdonly as a tablet, connected to no database: for reading through the row readers directly. */
export function rdonlyRef(c: TestCluster): TabletRef {
  return { alias: 'zone1-101', tablet: { keyspace: 'ks', shard: '0', type: 'rdonly', host: '127.0.0.1', port: c.rdonly.port, dbName: '', user: 'root' } };
}

export async function sql(at: Endpoint, text: string, values?: unknown[]): Promise<Record<string, unknown>[]> {
  const conn = await connect(at);
  try {
    await conn.query("SET SESSION time_zone = '+00:00', sql_mode = 'NO_AUTO_VALUE_ON_ZERO,STRICT_ALL_TABLES'");
    const [rows] = await conn.query(text, values);
    return rows as Record<string, unknown>[];
  } finally {
    await conn.end();
  }
}

/**
 * Locks `db`.`table` on `at` (LOCK TABLES … WRITE, on a connection of its own) as soon as a running job has created
 * it: a destination that stops taking that table's rows. Returns the unlock, which also closes the connection.
 */
export async function lockWhenCreated(at: Endpoint, db: string, table: string): Promise<() => Promise<void>> {
  const locker = await connect(at);
  try {
    for (let i = 0; ; i++) {
      const exists = await sql(at, 'SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?', [db, table]);
      if (exists.length) break;
      if (i >= 300) throw new Error(`the job never created ${db}.${table}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await locker.query(`LOCK TABLES \`${db}\`.\`${table}\` WRITE`);
  } catch (err) {
    await locker.end();
    throw err;
  }
  return async () => {
    await locker.query('UNLOCK TABLES').catch(() => {});
    await locker.end();
  };
}

/** Rows of `db`.`table` on the first `shards` destinations together: what a split into that many shards copied. */
export async function rowsOnDestinations(c: TestCluster, db: string, table: string, shards = 2): Promise<number> {
  let total = 0;
  for (const d of c.dests.slice(0, shards)) total += Number((await sql(d, `SELECT COUNT(*) AS n FROM \`${db}\`.\`${table}\``))[0].n);
  return total;
}

/** Runs SQL on the source primary and waits until the rdonly replica has it. */
export async function onSource(c: TestCluster, text: string): Promise<void> {
  await sql(c.primary, text);
  await waitForCatchUp(c.primary, c.rdonly, 60_000);
}

/** Drops and recreates a database on every destination (and the _vt checkpoint rows with it). */
export async function resetDestinations(c: TestCluster, dbName: string): Promise<void> {
  for (const d of c.dests) await sql(d, `DROP DATABASE IF EXISTS \`${dbName}\`; DROP DATABASE IF EXISTS \`_vt\``);
}

export interface ShardLayout {
  keyspace: string;
  shardingColumnType?: 'uint64' | 'bytes';
  /** Source shards: each gets the primary and the rdonly tablet, serving database `dbName`. */
  sources: { shard: string; dbName: string }[];
  /** Destination shards, each on dests[instance], serving database `dbName`. */
  destinations: { shard: string; instance: number; dbName: string }[];
  /** The MySQL user of every tablet (`root`, passwordless in the sandbox, unless given). */
  user?: string;
}

/** Writes a topology for a layout to a fresh temp file; returns its path. */
export function writeTopology(c: TestCluster, layout: ShardLayout): string {
  const tablets: Record<string, Tablet> = {};
  const base = { keyspace: layout.keyspace, host: '127.0.0.1', user: layout.user ?? 'root' };
  let uid = 100;
  for (const s of layout.sources) {
    tablets[`zone1-${uid++}`] = { ...base, shard: s.shard, type: 'primary', port: c.primary.port, dbName: s.dbName };
    tablets[`zone1-${uid++}`] = { ...base, shard: s.shard, type: 'rdonly', port: c.rdonly.port, dbName: s.dbName };
  }
  uid = 200;
  for (const d of layout.destinations) {
    tablets[`zone1-${uid}`] = { ...base, shard: d.shard, type: 'primary', port: c.dests[d.instance].port, dbName: d.dbName };
    uid += 100;
  }
  const shards: Topology['keyspaces'][string]['shards'] = {};
  for (const s of layout.sources) shards[s.shard] = { servedTypes: ['primary', 'replica', 'rdonly'], sourceShards: [] };
  for (const d of layout.destinations) shards[d.shard] = { servedTypes: [], sourceShards: [] };
  const topo: Topology = {
    keyspaces: { [layout.keyspace]: { shardingColumnName: 'keyspace_id', shardingColumnType: layout.shardingColumnType ?? 'uint64', shards } },
    tablets,
  };
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sw-topo-'));
  const file = path.join(dir, 'topology.json');
  writeFileSync(file, JSON.stringify(topo, null, 2));
  return file;
}

export async function readTopologyFile(file: string): Promise<Topology> {
  return (await openTopology(`file:${file}`)).read();
}

/** Runs one job in this process to its end, as `run` would, and returns the final status. */
export async function runJob(topoFile: string, request: JobRequest, onStarted?: (jobs: JobController) => void): Promise<StatusSnapshot> {
  const topo = await openTopology(`file:${topoFile}`);
  const logFile = path.join(path.dirname(topoFile), 'job.log');
  const destination = pino.destination({ dest: logFile, sync: true });
  const jobs = new JobController({ topo, credentials: {} }, { level: 'info', destination });
  await jobs.start(request);
  onStarted?.(jobs);
  await jobs.settled();
  return jobs.snapshot();
}

/** Writes a string to a file (a malformed topology, for instance) in a fresh temp dir. */
export function tempFile(name: string, content: string): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'sw-file-'));
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}
