// The bench's own sandbox: a source primary with its rdonly replica (the tablet every contender reads) and two
// destination primaries, in a dir of its own, recorded in sandbox.json so `shardworker sandbox down --dir` stops it.

import path from 'node:path';
import {
  SOURCE_PRIMARY_UID,
  SOURCE_RDONLY_UID,
  buildSandboxTopology,
  destinationUid,
  splitShardNames,
  startCluster,
  tabletAlias,
  withConnection,
  withSandboxLock,
  writeJsonAtomic,
  writeSandboxState,
  type Endpoint,
  type InstanceRecord,
} from '../src/sandbox/index.ts';
import { writeTopologyFile } from '../src/topology/server.ts';
import type { Durability } from './args.ts';

export const KEYSPACE = 'bench';

export interface BenchCluster {
  dir: string;
  primary: Endpoint;
  rdonly: Endpoint;
  dests: { endpoint: Endpoint; shard: string }[];
  topologyFile: string;
  credentialsFile: string;
}

export interface ClusterOptions {
  dir: string;
  basePort: number;
  bufferPoolMb: number;
  logFileMb: number;
  durability: Durability;
}

export async function benchClusterUp(opts: ClusterOptions): Promise<BenchCluster> {
  const dir = path.resolve(opts.dir);
  const shards = splitShardNames(2);
  const specs = [
    // The copy reads the rdonly; the stream bench's load writes the primary, sized as the others so its writes are
    // not what limits the steady phase.
    {
      name: 'src-primary',
      port: opts.basePort,
      serverId: SOURCE_PRIMARY_UID,
      bufferPoolMb: opts.bufferPoolMb,
      logFileMb: opts.logFileMb,
      role: 'primary' as const,
      shard: '0',
    },
    {
      name: 'src-rdonly',
      port: opts.basePort + 1,
      serverId: SOURCE_RDONLY_UID,
      replicaOf: 'src-primary',
      bufferPoolMb: opts.bufferPoolMb,
      logFileMb: opts.logFileMb,
      role: 'rdonly' as const,
      shard: '0',
    },
    ...shards.map((shard, i) => ({
      name: `dst-${i + 1}`,
      port: opts.basePort + 2 + i,
      serverId: destinationUid(i),
      bufferPoolMb: opts.bufferPoolMb,
      logFileMb: opts.logFileMb,
      role: 'destination' as const,
      shard,
    })),
  ];
  return withSandboxLock(dir, async () => {
    const byName = await startCluster({ dir, basePort: opts.basePort, instances: specs });
    const uid = (s: (typeof specs)[number]) => s.serverId;
    const records: InstanceRecord[] = specs.map((s) => ({
      name: s.name,
      role: s.role,
      port: s.port,
      dir: path.join(dir, s.name),
      pid: byName[s.name]!.pid,
      serverId: s.serverId,
      keyspace: KEYSPACE,
      shard: s.shard,
      tabletAlias: tabletAlias(uid(s)),
      ...('replicaOf' in s ? { replicaOf: s.replicaOf } : {}),
    }));
    const topologyFile = path.join(dir, 'topology.json');
    const credentialsFile = path.join(dir, 'credentials.json');
    await writeJsonAtomic(credentialsFile, { root: '' }, 0o600);
    await writeSandboxState(dir, {
      version: 1,
      dir,
      basePort: opts.basePort,
      keyspace: KEYSPACE,
      dbName: 'bench',
      instances: records,
      topologyFile,
      credentialsFile,
      updatedAt: new Date().toISOString(),
    });
    const cluster: BenchCluster = {
      dir,
      primary: { port: opts.basePort },
      rdonly: { port: opts.basePort + 1 },
      dests: shards.map((shard, i) => ({ endpoint: { port: opts.basePort + 2 + i }, shard })),
      topologyFile,
      credentialsFile,
    };
    await setDurability(cluster, opts.durability);
    return cluster;
  });
}

/** A topology with no job's traces (sourceShards, worker tablets): written before every SplitClone. */
export async function writeFreshTopology(c: BenchCluster, dbName: string): Promise<void> {
  await writeTopologyFile(
    c.topologyFile,
    buildSandboxTopology({
      keyspace: KEYSPACE,
      dbName,
      sourcePrimaryPort: c.primary.port,
      sourceRdonlyPort: c.rdonly.port,
      destinationPorts: c.dests.map((d) => d.endpoint.port),
      destinationShards: c.dests.map((d) => d.shard),
    }),
  );
}

/**
 * A global, so it holds on instances a kept-up sandbox left running too. MariaDB's default (1) writes and flushes
 * the redo log at every commit: what a production replica pays per transaction, and what grouping commits saves.
 * It is set where the contenders write (the rdonly, the destinations); the source primary only takes the stream
 * bench's load, whose one connection could not commit 2,000 transactions a second with a flush at each.
 */
async function setDurability(c: BenchCluster, durability: Durability): Promise<void> {
  const flush = durability === 'mariadb' ? 1 : 2;
  await Promise.all(
    [c.rdonly, ...c.dests.map((d) => d.endpoint)].map((at) =>
      withConnection(at, (conn) => conn.query('SET GLOBAL innodb_flush_log_at_trx_commit = ?', [flush])),
    ),
  );
}
