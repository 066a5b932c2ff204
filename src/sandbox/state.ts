// sandbox.json (what we started, so `down` stops exactly that) and a lock so two processes never race on a dir.

import { promises as fsp } from 'node:fs';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import { writeJsonAtomic } from './topology.ts';

export type InstanceRole = 'primary' | 'rdonly' | 'destination';

export interface InstanceRecord {
  name: string;
  role: InstanceRole;
  port: number;
  /** The instance's own directory (absolute). */
  dir: string;
  /** Last pid we saw; stop/kill still check /proc before signalling it. */
  pid: number;
  serverId: number;
  keyspace: string;
  shard: string;
  tabletAlias: string;
  /** Name of the instance it replicates from. */
  replicaOf?: string;
}

export interface SandboxState {
  version: 1;
  dir: string;
  basePort: number;
  keyspace: string;
  dbName: string;
  instances: InstanceRecord[];
  /** The last successful seed: which database, how many rows, when. */
  seed?: { dbName: string; rows: number; at: string };
  /** Instances of an earlier layout that `up` stopped; kept so `down --purge` removes their dirs too. */
  retired?: InstanceRecord[];
  topologyFile: string;
  credentialsFile: string;
  updatedAt: string;
}

export const STATE_FILE = 'sandbox.json';
export const TOPOLOGY_FILE = 'topology.json';
export const CREDENTIALS_FILE = 'credentials.json';

export async function readSandboxState(dir: string): Promise<SandboxState | undefined> {
  let text: string;
  try {
    text = await fsp.readFile(path.join(path.resolve(dir), STATE_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const state = JSON.parse(text) as SandboxState;
  if (state.version !== 1 || !Array.isArray(state.instances)) {
    throw new Error(`${path.join(dir, STATE_FILE)} is not a sandbox state file this version understands`);
  }
  return state;
}

export async function writeSandboxState(dir: string, state: SandboxState): Promise<void> {
  await writeJsonAtomic(path.join(path.resolve(dir), STATE_FILE), state);
}

/**
 * Runs `fn` holding an exclusive lock on the sandbox dir (a `<dir>/.lock` directory), so parallel test
 * files bringing up the same sandbox take turns instead of starting the same mariadbd twice.
 */
export async function withSandboxLock<T>(dir: string, fn: () => Promise<T>): Promise<T> {
  const abs = path.resolve(dir);
  await fsp.mkdir(abs, { recursive: true });
  const release = await lockfile.lock(abs, {
    realpath: false,
    lockfilePath: path.join(abs, '.lock'),
    stale: 30_000, // a holder that died: its lock is taken over after 30 s without refresh
    retries: { retries: 1000, factor: 1, minTimeout: 300, maxTimeout: 300 }, // up to ~5 min
  });
  try {
    return await fn();
  } finally {
    await release().catch(() => undefined);
  }
}
