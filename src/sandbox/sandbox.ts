// The local cluster: a source shard (primary + rdonly replica) and N destination primaries, seeded, with a
// topology file. Idempotent: `up` reuses what runs; `down` stops exactly what sandbox.json records.

import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';
import type { Logger } from 'pino';
import { writeTopologyFile } from '../topology/server.ts';
import type { Credentials, Topology } from '../topology/types.ts';
import { connect } from './connect.ts';
import { databaseExists, resetDestination } from './databases.ts';
import { instancePid, startInstance, stopInstance, type Instance, type InstanceSpec } from './instance.ts';
import { replicationStatus, startReplication, waitForCatchUp, type ReplicationStatus } from './replication.ts';
import { DEFAULT_SEED_ROWS, seedDemo, type SeedResult } from './seed.ts';
import {
  CREDENTIALS_FILE,
  STATE_FILE,
  TOPOLOGY_FILE,
  readSandboxState,
  withSandboxLock,
  writeSandboxState,
  type InstanceRecord,
  type InstanceRole,
  type SandboxState,
} from './state.ts';
import { SOURCE_PRIMARY_UID, SOURCE_RDONLY_UID, buildSandboxTopology, destinationUid, splitShardNames, tabletAlias, writeJsonAtomic } from './topology.ts';

export const DEFAULT_SANDBOX_DIR = '.sandbox';
export const DEFAULT_BASE_PORT = 15300;

// ---------------------------------------------------------------------------------------------------------
// startCluster: the composable layer (tests use it for their own layouts)

export interface ClusterInstanceSpec {
  name: string;
  /** Default: basePort + its index in the list. */
  port?: number;
  /** Default: 1 + its index. Must be unique among instances that replicate together. */
  serverId?: number;
  /** Name of another instance in the same cluster to replicate from (GTID, slave_pos). */
  replicaOf?: string;
  bufferPoolMb?: number;
  logFileMb?: number;
}

export interface StartClusterOptions {
  /** Parent dir; each instance lives in `<dir>/<name>`. */
  dir: string;
  basePort?: number;
  instances: ClusterInstanceSpec[];
  timeoutMs?: number;
  log?: Logger;
}

/** Starts (or reuses) every instance in parallel, then attaches replicas. Returns the instances by name. */
export async function startCluster(options: StartClusterOptions): Promise<Record<string, Instance>> {
  const dir = path.resolve(options.dir);
  const basePort = options.basePort ?? DEFAULT_BASE_PORT;
  const specs: InstanceSpec[] = options.instances.map((s, i) => ({
    name: s.name,
    dir: path.join(dir, s.name),
    port: s.port ?? basePort + i,
    serverId: s.serverId ?? i + 1,
    bufferPoolMb: s.bufferPoolMb,
    logFileMb: s.logFileMb,
  }));
  const names = new Set(specs.map((s) => s.name));
  if (names.size !== specs.length) throw new Error('instance names must be unique');
  for (const s of options.instances) {
    if (s.replicaOf !== undefined && !names.has(s.replicaOf)) {
      throw new Error(`${s.name} replicates from unknown instance ${s.replicaOf}`);
    }
  }

  const started = await Promise.allSettled(specs.map((spec) => startInstance(spec, { timeoutMs: options.timeoutMs, log: options.log })));
  const failures = started.flatMap((r) => (r.status === 'rejected' ? [(r.reason as Error).message] : []));
  if (failures.length > 0) throw new Error(`could not start the sandbox instances:\n- ${failures.join('\n- ')}`);

  const byName: Record<string, Instance> = {};
  started.forEach((r, i) => {
    if (r.status === 'fulfilled') byName[specs[i]!.name] = r.value;
  });
  await Promise.all(options.instances.filter((s) => s.replicaOf !== undefined).map((s) => startReplication(byName[s.replicaOf!]!, byName[s.name]!)));
  return byName;
}

// ---------------------------------------------------------------------------------------------------------
// The demo sandbox

export interface SandboxUpOptions {
  dir?: string;
  basePort?: number;
  /** Destination shards (each one primary); their names split the range evenly. Default 2. */
  destinations?: number;
  /** Rows of customer and of corder. Default 200,000. A value different from the last seed re-seeds. */
  seedRows?: number;
  /** Re-seed (and empty the destinations) even if the demo database exists. */
  reseed?: boolean;
  keyspace?: string;
  dbName?: string;
  timeoutMs?: number;
  log?: Logger;
}

export interface SandboxInstances {
  primary: Instance;
  rdonly: Instance;
  destinations: Instance[];
}

export interface SandboxUpResult {
  dir: string;
  state: SandboxState;
  instances: SandboxInstances;
  topologyFile: string;
  credentialsFile: string;
  /** Set when this call seeded the demo database. */
  seeded?: SeedResult;
  /** True when topology.json was (re)written by this call. */
  topologyWritten: boolean;
  ms: number;
}

interface PlannedInstance extends ClusterInstanceSpec {
  name: string;
  port: number;
  serverId: number;
  role: InstanceRole;
  shard: string;
  tabletAlias: string;
}

function plan(basePort: number, destinations: number): PlannedInstance[] {
  const shards = splitShardNames(destinations);
  return [
    { name: 'src-primary', role: 'primary', port: basePort, serverId: SOURCE_PRIMARY_UID, shard: '0', tabletAlias: tabletAlias(SOURCE_PRIMARY_UID) },
    {
      name: 'src-rdonly',
      role: 'rdonly',
      port: basePort + 1,
      serverId: SOURCE_RDONLY_UID,
      shard: '0',
      tabletAlias: tabletAlias(SOURCE_RDONLY_UID),
      replicaOf: 'src-primary',
    },
    ...shards.map(
      (shard, i): PlannedInstance => ({
        name: `dst-${i + 1}`,
        role: 'destination',
        port: basePort + 2 + i,
        serverId: destinationUid(i),
        shard,
        tabletAlias: tabletAlias(destinationUid(i)),
      }),
    ),
  ];
}

/** The topology for a sandbox's instances, serving `dbName` (default: the demo db). Tests use their own db. */
export function sandboxTopology(state: SandboxState, dbName = state.dbName): Topology {
  const role = (r: InstanceRole): InstanceRecord[] => state.instances.filter((i) => i.role === r);
  const primary = role('primary')[0];
  if (!primary) throw new Error(`sandbox state in ${state.dir} has no source primary`);
  const destinations = role('destination');
  return buildSandboxTopology({
    keyspace: state.keyspace,
    dbName,
    sourcePrimaryPort: primary.port,
    sourceRdonlyPort: role('rdonly')[0]?.port,
    destinationPorts: destinations.map((d) => d.port),
    destinationShards: destinations.map((d) => d.shard),
  });
}

/**
 * Brings the sandbox up: starts (or reuses) src-primary, src-rdonly (its replica) and dst-1..N, seeds the demo
 * database when it is missing or asked to, waits for the replica to catch up, and writes topology.json,
 * credentials.json and sandbox.json in `dir`.
 */
export async function sandboxUp(options: SandboxUpOptions = {}): Promise<SandboxUpResult> {
  const started = Date.now();
  const dir = path.resolve(options.dir ?? DEFAULT_SANDBOX_DIR);
  const basePort = options.basePort ?? DEFAULT_BASE_PORT;
  const keyspace = options.keyspace ?? 'commerce';
  const dbName = options.dbName ?? 'commerce';
  const log = options.log;
  const planned = plan(basePort, options.destinations ?? 2);

  return withSandboxLock(dir, async () => {
    const previous = await readSandboxState(dir);
    // A running instance keeps its port; refuse a plan that would need to move it.
    for (const p of planned) {
      const rec = previous?.instances.find((r) => r.name === p.name);
      if (rec && rec.port !== p.port && instancePid({ dir: rec.dir, pid: rec.pid }) !== undefined) {
        throw new Error(`${p.name} in ${dir} already runs on port ${rec.port} (asked for ${p.port}): run sandbox down first`);
      }
    }
    // Instances of an earlier, larger layout (e.g. `up` with fewer destinations): stopped, kept on record
    // so `down --purge` still removes their dirs.
    const plannedNames = new Set(planned.map((p) => p.name));
    const retired = [...(previous?.retired ?? []), ...(previous?.instances ?? [])].filter(
      (r, i, all) => !plannedNames.has(r.name) && all.findIndex((o) => o.name === r.name) === i,
    );
    await Promise.all(retired.map((r) => stopInstance({ dir: r.dir, pid: r.pid }, { log })));

    const record = (pids: Record<string, number>): InstanceRecord[] =>
      planned.map((p) => ({
        name: p.name,
        role: p.role,
        port: p.port,
        dir: path.join(dir, p.name),
        pid: pids[p.name] ?? 0,
        serverId: p.serverId,
        keyspace,
        shard: p.shard,
        tabletAlias: p.tabletAlias,
        ...(p.replicaOf ? { replicaOf: p.replicaOf } : {}),
      }));
    const baseState: SandboxState = {
      version: 1,
      dir,
      basePort,
      keyspace,
      dbName,
      instances: record({}),
      seed: previous?.seed,
      ...(retired.length > 0 ? { retired } : {}),
      topologyFile: path.join(dir, TOPOLOGY_FILE),
      credentialsFile: path.join(dir, CREDENTIALS_FILE),
      updatedAt: new Date().toISOString(),
    };
    // Recorded before starting anything: if start-up fails half way, `down` still finds what did start
    // (stop looks the pid up from each instance's pid file).
    await writeSandboxState(dir, baseState);

    const byName = await startCluster({ dir, basePort, instances: planned, timeoutMs: options.timeoutMs, log });
    const primary = byName['src-primary']!;
    const rdonly = byName['src-rdonly']!;
    const destinations = planned.filter((p) => p.role === 'destination').map((p) => byName[p.name]!);

    const seedRows = options.seedRows ?? previous?.seed?.rows ?? DEFAULT_SEED_ROWS;
    const mustSeed =
      options.reseed === true || previous?.seed?.dbName !== dbName || previous.seed.rows !== seedRows || !(await databaseExists(primary, dbName));

    // A destination whose key range changed, or that comes back from retirement, holds rows that are no
    // longer its own: empty it.
    const moved = destinations.filter((d) => {
      if (previous?.retired?.some((r) => r.name === d.name)) return true;
      const before = previous?.instances.find((r) => r.name === d.name);
      return before !== undefined && before.shard !== planned.find((p) => p.name === d.name)?.shard;
    });
    if (!mustSeed) await Promise.all(moved.map((d) => resetDestination(d, dbName)));

    let seeded: SeedResult | undefined;
    let seedInfo = previous?.seed?.dbName === dbName ? previous.seed : undefined;
    if (mustSeed) {
      log?.info({ dbName, rows: seedRows }, 'seeding demo data');
      // Forget the old seed first: a seed that dies half way must be redone by the next `up`.
      await writeSandboxState(dir, { ...baseState, seed: undefined });
      // Old destination data would not match the new source data.
      await Promise.all(destinations.map((d) => resetDestination(d, dbName)));
      const conn = await connect(primary);
      try {
        seeded = await seedDemo(conn, dbName, seedRows);
      } finally {
        await conn.end().catch(() => conn.destroy());
      }
      seedInfo = { dbName, rows: seedRows, at: new Date().toISOString() };
    }
    await waitForCatchUp(primary, rdonly, options.timeoutMs ?? 120_000);

    const state: SandboxState = {
      ...baseState,
      instances: record(Object.fromEntries(Object.entries(byName).map(([n, i]) => [n, i.pid]))),
      seed: seedInfo,
      updatedAt: new Date().toISOString(),
    };

    // Rewrite the topology only when it would otherwise be wrong: a worker may have recorded sourceShards
    // in it that still describe the destination data.
    const layoutChanged =
      !previous
      || previous.keyspace !== keyspace
      || previous.dbName !== dbName
      || JSON.stringify(previous.instances.map((i) => [i.name, i.port, i.shard])) !== JSON.stringify(state.instances.map((i) => [i.name, i.port, i.shard]));
    const topologyWritten = mustSeed || layoutChanged || !existsSync(state.topologyFile);
    if (topologyWritten) await writeTopologyFile(state.topologyFile, sandboxTopology(state));
    const credentials: Credentials = { root: '' };
    await writeJsonAtomic(state.credentialsFile, credentials, 0o600);
    await writeSandboxState(dir, state);

    return {
      dir,
      state,
      instances: { primary, rdonly, destinations },
      topologyFile: state.topologyFile,
      credentialsFile: state.credentialsFile,
      seeded,
      topologyWritten,
      ms: Date.now() - started,
    };
  });
}

export interface SandboxDownOptions {
  /** Also delete the instances' dirs and the files sandboxUp wrote (never anything else in `dir`). */
  purge?: boolean;
  log?: Logger;
}

export interface StoppedInstance {
  name: string;
  /** False when it was not running. */
  stopped: boolean;
}

/** Stops exactly the instances recorded in `<dir>/sandbox.json` (in parallel). */
export async function sandboxDown(dir = DEFAULT_SANDBOX_DIR, options: SandboxDownOptions = {}): Promise<StoppedInstance[]> {
  const abs = path.resolve(dir);
  if (!existsSync(path.join(abs, STATE_FILE))) return [];
  return withSandboxLock(abs, async () => {
    const state = await readSandboxState(abs);
    if (!state) return [];
    const retired = state.retired ?? [];
    const result = await Promise.all(
      state.instances.map(async (r) => ({
        name: r.name,
        stopped: await stopInstance({ dir: r.dir, pid: r.pid }, { log: options.log }),
      })),
    );
    await Promise.all(retired.map((r) => stopInstance({ dir: r.dir, pid: r.pid }, { log: options.log })));
    if (options.purge) {
      await Promise.all([...state.instances, ...retired].map((r) => fsp.rm(r.dir, { recursive: true, force: true })));
      for (const f of [TOPOLOGY_FILE, CREDENTIALS_FILE, STATE_FILE]) await fsp.rm(path.join(abs, f), { force: true });
    }
    return result;
    // biome-ignore lint/nursery/noMisusedPromises: finally() waits for the promise this returns, as intended
  }).finally(async () => {
    // After a purge the dir holds nothing of ours: remove it if it is empty.
    if (options.purge) await fsp.rmdir(abs).catch(() => undefined);
  });
}

export interface InstanceStatus {
  name: string;
  role: InstanceRole;
  tabletAlias: string;
  shard: string;
  port: number;
  dir: string;
  running: boolean;
  pid?: number;
  /** For a replica that runs: its replication state, or the error reading it. */
  replication?: ReplicationStatus | { error: string };
}

export interface SandboxStatus {
  dir: string;
  /** False when `dir` has no sandbox.json. */
  exists: boolean;
  keyspace?: string;
  dbName?: string;
  topologyFile?: string;
  seed?: SandboxState['seed'];
  instances: InstanceStatus[];
}

export async function sandboxStatus(dir = DEFAULT_SANDBOX_DIR): Promise<SandboxStatus> {
  const abs = path.resolve(dir);
  const state = await readSandboxState(abs);
  if (!state) return { dir: abs, exists: false, instances: [] };
  const instances = await Promise.all(
    state.instances.map(async (r): Promise<InstanceStatus> => {
      const pid = instancePid({ dir: r.dir, pid: r.pid });
      const status: InstanceStatus = {
        name: r.name,
        role: r.role,
        tabletAlias: r.tabletAlias,
        shard: r.shard,
        port: r.port,
        dir: r.dir,
        running: pid !== undefined,
        ...(pid !== undefined ? { pid } : {}),
      };
      if (r.replicaOf !== undefined && pid !== undefined) {
        status.replication = await replicationStatus({ port: r.port }).catch((err: Error) => ({ error: err.message }));
      }
      return status;
    }),
  );
  return {
    dir: abs,
    exists: true,
    keyspace: state.keyspace,
    dbName: state.dbName,
    topologyFile: state.topologyFile,
    seed: state.seed,
    instances,
  };
}

/** Human-readable status lines for the CLI. */
export function formatSandboxStatus(status: SandboxStatus): string {
  if (!status.exists) return `no sandbox in ${status.dir} (run: shardworker sandbox up)`;
  const lines = [`sandbox ${status.dir}: keyspace ${status.keyspace}, db ${status.dbName}, topology ${status.topologyFile}`];
  for (const i of status.instances) {
    let line = `  ${i.name.padEnd(12)} ${i.tabletAlias.padEnd(10)} shard ${i.shard.padEnd(6)} ${i.role.padEnd(11)} 127.0.0.1:${i.port}  ${i.running ? `running (pid ${i.pid})` : 'stopped'}`;
    if (i.replication) {
      line +=
        'error' in i.replication
          ? `  replication: ${i.replication.error}`
          : `  replication: ${i.replication.running ? 'running' : 'STOPPED'}${i.replication.secondsBehindMaster !== null ? `, ${i.replication.secondsBehindMaster}s behind` : ''}${i.replication.lastIoError || i.replication.lastSqlError ? `, ${i.replication.lastIoError || i.replication.lastSqlError}` : ''}`;
    }
    lines.push(line);
  }
  return lines.join('\n');
}

/**
 * The one sandbox test files share (reused across files and runs; `up` is locked, so parallel files take
 * turns): dir `$SHARDWORKER_TEST_SANDBOX_DIR` or `.sandbox-test`, base port `$SHARDWORKER_TEST_BASE_PORT`
 * or 17300, 2,000 seed rows. Tests add their own databases on these instances and their own topology files.
 */
export function sharedTestSandbox(options: Omit<SandboxUpOptions, 'dir' | 'basePort'> = {}): Promise<SandboxUpResult> {
  return sandboxUp({
    dir: process.env.SHARDWORKER_TEST_SANDBOX_DIR ?? '.sandbox-test',
    basePort: Number(process.env.SHARDWORKER_TEST_BASE_PORT ?? 17300),
    seedRows: 2000,
    ...options,
  });
}
