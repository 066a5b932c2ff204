// The etcd v3 topology backend (`--topo etcd://…`). Each update is a transaction: compare the mod revision of every
// key it changes and of the version key against what was read, put and delete the changed keys, bump the version.
// A lost race re-reads (the failed transaction returns the fresh keys) and runs `fn` again, a bounded number of
// times, then fails naming a key that moved. read() asks etcd (a linearizable read: after any daemon's update it
// sees it); a watch tells listeners of changes made elsewhere and keeps a cache that stands in while etcd does not
// answer.

import { Etcd3, type IKeyValue } from 'etcd3';
import { TopologyError } from '../errors.ts';
import type { TopologyServer } from '../server.ts';
import type { Topology } from '../types.ts';
import { validateTopology } from '../validate.ts';
import { EtcdLayout, type StoredValue } from './etcd-layout.ts';
import { EtcdLocks } from './etcd-locks.ts';
import { formatEtcdSpec, type EtcdSpec } from './etcd-spec.ts';

/** How many times an update re-reads and tries again after losing a race. */
export const MAX_UPDATE_ATTEMPTS = 30;
const CALL_DEADLINE_MS = 10_000;

interface Snapshot {
  kvs: Map<string, StoredValue>;
  revision: bigint;
}

export class EtcdTopologyServer implements TopologyServer {
  readonly locks: EtcdLocks;
  readonly #client: Etcd3;
  readonly #layout: EtcdLayout;
  readonly #label: string;
  /** Updates of this process take turns: only other processes can make one lose a race. */
  #queue: Promise<unknown> = Promise.resolve();
  #cache: Snapshot | null = null;
  #watch: Promise<void> | null = null;
  #watchLive = false;
  #stopWatch: (() => Promise<void>) | null = null;
  /** The revision of this process's last write: the cache serves reads only once it has seen it. */
  #ownRevision = 0n;
  readonly #listeners = new Set<() => void>();
  #closed = false;

  constructor(spec: EtcdSpec) {
    this.#label = `topology ${formatEtcdSpec(spec)}`;
    this.#client = new Etcd3({
      hosts: spec.hosts.map((h) => `http://${h}`),
      dialTimeout: 5_000,
      // A unary call that etcd cannot answer (no quorum) fails after a while instead of hanging the job.
      defaultCallOptions: (context) => (context.isStream ? {} : { deadline: Date.now() + CALL_DEADLINE_MS }),
    });
    this.#layout = new EtcdLayout(spec.root);
    this.locks = new EtcdLocks(this.#client, this.#layout, spec.leaseTtlSeconds, this.#label);
  }

  describe(): string {
    return this.#label.slice('topology '.length);
  }

  /**
   * The topology as the majority has it now (a read after any daemon's update sees it); only when etcd does not
   * answer (no quorum, a leader election past the call's deadline) the watched cache, if it is live, stands in.
   */
  async read(): Promise<Topology> {
    this.#startWatch();
    let snapshot: Snapshot;
    try {
      snapshot = await this.#fetch();
    } catch (err) {
      const cache = this.#cache;
      if (!cache || !this.#watchLive || cache.revision < this.#ownRevision) throw err;
      snapshot = cache;
    }
    return validateTopology(this.#layout.decode(snapshot.kvs, this.#label), this.#label);
  }

  update<T>(fn: (topo: Topology) => T | Promise<T>): Promise<T> {
    const run = this.#queue.then(
      () => this.#update(fn),
      () => this.#update(fn),
    );
    this.#queue = run.catch(() => undefined);
    return run;
  }

  onChange(listener: () => void): () => void {
    this.#startWatch();
    this.#listeners.add(listener);
    return () => void this.#listeners.delete(listener);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listeners.clear();
    await this.locks.close().catch(() => undefined); // an unreachable etcd lets the lease expire by itself
    // A watch still being set up (a read just before close) is let finish, so that it is canceled too: a watch
    // stream left open keeps the process alive.
    await this.#watch?.catch(() => undefined);
    await this.#stopWatch?.().catch(() => undefined);
    this.#client.close();
  }

  async #update<T>(fn: (topo: Topology) => T | Promise<T>): Promise<T> {
    if (this.#closed) throw new TopologyError(`${this.#label}: closed`);
    let read = await this.#fetch();
    for (let attempt = 1; ; attempt++) {
      const topo = validateTopology(this.#layout.decode(read.kvs, this.#label), this.#label);
      const result = await fn(topo);
      const next = this.#layout.encode(validateTopology(topo, `${this.#label} (after update)`));
      const changed = [...next].filter(([key, value]) => read.kvs.get(key)?.value !== value);
      const deleted = [...read.kvs.keys()].filter((key) => key !== this.#layout.versionKey && !next.has(key));
      if (changed.length === 0 && deleted.length === 0) return result;

      const touched = [...changed.map(([key]) => key), ...deleted, this.#layout.versionKey];
      let txn = this.#client.if(touched[0], 'Mod', '==', read.kvs.get(touched[0])?.modRevision ?? 0);
      for (const key of touched.slice(1)) txn = txn.and(key, 'Mod', '==', read.kvs.get(key)?.modRevision ?? 0);
      const response = await txn
        .then(
          ...changed.map(([key, value]) => this.#client.put(key).value(value)),
          ...deleted.map((key) => this.#client.delete().key(key)),
          this.#client.put(this.#layout.versionKey).value(String(read.revision + 1n)),
        )
        .else(this.#client.getAll().prefix(this.#layout.topoPrefix))
        .commit();
      if (response.succeeded) {
        this.#ownRevision = BigInt(response.header.revision);
        return result;
      }
      const fresh = snapshotOf(response.responses[0]?.response_range?.kvs ?? [], BigInt(response.header.revision));
      const moved = touched.find((key) => fresh.kvs.get(key)?.modRevision !== read.kvs.get(key)?.modRevision) ?? this.#layout.versionKey;
      const culprit = moved === this.#layout.versionKey ? (firstDifference(read.kvs, fresh.kvs) ?? moved) : moved;
      if (attempt >= MAX_UPDATE_ATTEMPTS) {
        throw new TopologyError(`${this.#label}: update lost the race ${attempt} times (key ${culprit} changed under it each time); nothing of it was written`);
      }
      read = fresh;
      await sleep(Math.min(200, 5 * attempt) * Math.random()); // jitter, so racers stop colliding
    }
  }

  /** Every topology key, linearizably (the majority's view). */
  async #fetch(): Promise<Snapshot> {
    try {
      const res = await this.#client.getAll().prefix(this.#layout.topoPrefix).exec();
      return snapshotOf(res.kvs, BigInt(res.header.revision));
    } catch (err) {
      throw new TopologyError(`cannot read ${this.#label}: ${(err as Error).message}`);
    }
  }

  /** Starts the watch that keeps the cache (once; again after it failed). */
  #startWatch(): void {
    if (this.#watch || this.#closed) return;
    this.#watch = this.#runWatch().catch(() => {
      this.#watch = null; // the next read starts over
      this.#cache = null;
      this.#watchLive = false;
    });
  }

  async #runWatch(): Promise<void> {
    const snapshot = await this.#fetch();
    const watcher = await this.#client
      .watch()
      .prefix(this.#layout.topoPrefix)
      .startRevision(String(snapshot.revision + 1n))
      .create();
    this.#stopWatch = () => watcher.cancel();
    if (this.#closed) return;
    this.#cache = snapshot;
    this.#watchLive = true;
    // Listeners run after the whole response is applied to the cache.
    const changed = () =>
      setImmediate(() => {
        for (const l of [...this.#listeners]) l();
      });
    watcher.on('put', (kv) => {
      snapshot.kvs.set(kv.key.toString(), { value: kv.value.toString(), modRevision: kv.mod_revision });
    });
    watcher.on('delete', (kv) => {
      snapshot.kvs.delete(kv.key.toString());
    });
    watcher.on('data', (res) => {
      const events = res.events ?? [];
      const last = events.length ? BigInt(events[events.length - 1].kv.mod_revision) : BigInt(res.header.revision);
      if (last > snapshot.revision) snapshot.revision = last;
      if (events.length) changed();
    });
    // While disconnected the client reconnects and resumes from the last revision it saw; reads go to etcd.
    watcher.on('disconnected', () => void (this.#watchLive = false));
    watcher.on('connected', () => void (this.#watchLive = true));
    watcher.on('error', () => {
      this.#watchLive = false;
      this.#cache = null;
      this.#watch = null;
      void watcher.cancel().catch(() => undefined);
    });
  }
}

function snapshotOf(kvs: readonly IKeyValue[], revision: bigint): Snapshot {
  return { kvs: new Map(kvs.map((kv) => [kv.key.toString(), { value: kv.value.toString(), modRevision: kv.mod_revision }])), revision };
}

/** A key whose value or revision differs between two reads (for naming what moved). */
function firstDifference(a: ReadonlyMap<string, StoredValue>, b: ReadonlyMap<string, StoredValue>): string | undefined {
  for (const [key, v] of b) if (a.get(key)?.modRevision !== v.modRevision && !key.endsWith('/version')) return key;
  for (const key of a.keys()) if (!b.has(key)) return key;
  return undefined;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
