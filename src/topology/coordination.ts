// What several processes sharing one topology need besides read and update (DESIGN.md "Many daemons"): to see
// each other's changes, and locks that die with their holder. Every topology backend implements it: etcd with
// a watch and keys on a lease, the file backend with a file watch and a lock file (see file-locks.ts).

import { TopologyError } from './errors.ts';

/** Who holds a lock: enough for an operator to find it. */
export interface LockOwner {
  host: string;
  pid: number;
  /** The job it is held for; for a stream's lock, `stream SOURCE -> DESTINATION`. */
  jobId: string;
  /** When it was taken (ISO time). */
  since: string;
}

/** Locks taken together, held until released or until the holder's lease is lost. */
export interface HeldLocks {
  readonly names: readonly string[];
  /**
   * Aborted when the locks are no longer ours without release() (the etcd lease expired: this process could not
   * reach etcd for a TTL). Whatever they protect must stop: another holder may take them at once.
   */
  readonly lost: AbortSignal;
  /** Gives them back (idempotent; a lock already lost is left alone). */
  release(): Promise<void>;
}

export interface LockService {
  /**
   * Takes every lock in `names` for `owner`, all or none. Throws LockHeldError naming the holder of the first
   * one already held (by anyone, this process included).
   */
  acquire(names: readonly string[], owner: LockOwner): Promise<HeldLocks>;
  /** Who holds `name` now, if anyone. */
  holder(name: string): Promise<LockOwner | undefined>;
}

export interface Coordination {
  /** Locks shared by every process on this topology. */
  readonly locks: LockService;
  /**
   * Calls `listener` after the topology may have changed, by this process or another (at most about a second
   * late; a listener re-reads what it needs). Returns the unsubscribe.
   */
  onChange(listener: () => void): () => void;
  /** Stops watching and keeping alive, releases this process's locks. The server is unusable afterwards. */
  close(): Promise<void>;
}

/** A lock that another holder has (HTTP 409 for a job). */
export class LockHeldError extends TopologyError {
  readonly lock: string;
  readonly holder: LockOwner;
  constructor(lock: string, holder: LockOwner) {
    super(`${lock} is locked by ${describeLockOwner(holder)}`);
    this.name = 'LockHeldError';
    this.lock = lock;
    this.holder = holder;
  }
}

export function describeLockOwner(o: LockOwner): string {
  return `job ${o.jobId} (pid ${o.pid} on ${o.host}, since ${o.since})`;
}

/** The lock a job holds on a shard it reads or writes: `shard commerce/-80`. */
export function shardLockName(keyspace: string, shard: string): string {
  return `shard ${keyspace}/${shard}`;
}

/** The lock a daemon holds on a stream it runs: `stream commerce/-80/1` (destination shard, source uid). */
export function streamLockName(keyspace: string, shard: string, sourceUid: number): string {
  return `stream ${keyspace}/${shard}/${sourceUid}`;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A stored holder record, checked (a garbled one still names what it can rather than failing the caller). */
export function parseLockOwner(text: string): LockOwner {
  try {
    const v: unknown = JSON.parse(text);
    if (isObject(v) && typeof v.host === 'string' && typeof v.pid === 'number' && typeof v.jobId === 'string') {
      return { host: v.host, pid: v.pid, jobId: v.jobId, since: typeof v.since === 'string' ? v.since : '?' };
    }
  } catch {
    // fall through
  }
  return { host: '?', pid: 0, jobId: `unreadable holder record ${JSON.stringify(text.slice(0, 80))}`, since: '?' };
}
