// What the cutover tests share: a daemon in the test's process (the streams and the job controller wired as `serve`
// wires them), one MigrateServedTypes run to its end, and waiting for the streams to reach their sources.

import path from 'node:path';
import pino from 'pino';
import type { StreamManager } from '../../src/stream/manager.ts';
import { openTopology } from '../../src/topology/server.ts';
import { JobController } from '../../src/worker/controller.ts';
import { reached } from '../../src/worker/migrate-job.ts';
import type { JobRequest, StatusSnapshot } from '../../src/worker/status.ts';
import { readTopologyFile, sql } from './cluster.ts';
import { until } from './faults.ts';
import { testStreams } from './stream-exact.ts';

export interface TestDaemon {
  streams: StreamManager;
  jobs: JobController;
  close: () => Promise<void>;
}

export async function positionOf(port: number): Promise<string> {
  return `MariaDB/${String((await sql({ port }, 'SELECT @@gtid_binlog_pos AS p'))[0].p)}`;
}

export async function readOnly(port: number): Promise<boolean> {
  return Number((await sql({ port }, 'SELECT @@GLOBAL.read_only AS r'))[0].r) === 1;
}

/** A daemon in this process, its logs beside the topology file. */
export async function testDaemon(topoFile: string): Promise<TestDaemon> {
  const topo = await openTopology(`file:${topoFile}`);
  const streams = await testStreams(topoFile, { topo, log: 'daemon.log' });
  await streams.open();
  const jobs = new JobController(
    { topo, credentials: {}, retryDuration: 60_000, streams },
    { level: 'info', destination: pino.destination({ dest: path.join(path.dirname(topoFile), 'jobs.log'), sync: true }) },
  );
  return { streams, jobs, close: () => streams.close() };
}

/** Runs a job on the daemon to its end, and clears it for the next. */
export async function runOn(jobs: JobController, request: JobRequest): Promise<StatusSnapshot> {
  await jobs.start(request);
  await jobs.settled();
  const snap = jobs.snapshot();
  jobs.reset();
  return snap;
}

/** One MigrateServedTypes of `keyspace/shard`, run to its end. */
export function migrateOn(
  jobs: JobController,
  keyspace: string,
  shard: string,
  servedType: string,
  options: Record<string, unknown> = {},
): Promise<StatusSnapshot> {
  return runOn(jobs, { command: 'MigrateServedTypes', keyspace, shard, options: { servedType, ...options } });
}

/** Waits until every stream the manager runs stands at (or past) its source primary's position now. */
export async function streamsCaughtUp(streams: StreamManager, topoFile: string): Promise<void> {
  const topo = await readTopologyFile(topoFile);
  const portOf = (source: string) => Object.values(topo.tablets).find((t) => `${t.keyspace}/${t.shard}` === source && t.type === 'primary')!.port;
  const targets = new Map<string, string>();
  for (const s of streams.snapshot()) targets.set(s.source, await positionOf(portOf(s.source)));
  await until(
    `streams at their sources' positions: ${JSON.stringify(streams.snapshot().map((s) => [s.source, s.shard, s.state, s.position, s.lastError]))}`,
    () => {
      const snaps = streams.snapshot();
      const failed = snaps.find((s) => s.state === 'error');
      if (failed) throw new Error(`stream in error: ${failed.lastError}`);
      return snaps.length > 0 && snaps.every((s) => reached(s.position, targets.get(s.source)!));
    },
    120_000,
  );
}
