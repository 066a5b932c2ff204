// Locks on an etcd lease, as Vitess's etcd topology keeps them: each lock a key under ROOT/locks/, created only if
// absent (compare create revision 0) and attached to this process's lease. The client keeps the lease alive while
// the process lives; when the process dies (or cannot reach etcd for the TTL) the lease expires and etcd deletes
// every key on it, so a dead holder's locks free themselves. One lease per process, granted at the first lock
// and granted anew if it was lost.

import type { Etcd3, Lease } from 'etcd3';
import { LockHeldError, parseLockOwner, type HeldLocks, type LockOwner, type LockService } from '../coordination.ts';
import { TopologyError } from '../errors.ts';
import type { EtcdLayout } from './etcd-layout.ts';

interface LiveLease {
  lease: Lease;
  id: string;
  /** Aborted when etcd says the lease is gone (or keep-alives failed past its TTL). */
  lost: AbortController;
}

export class EtcdLocks implements LockService {
  readonly #client: Etcd3;
  readonly #layout: EtcdLayout;
  readonly #ttlSeconds: number;
  readonly #label: string;
  #lease: Promise<LiveLease> | null = null;

  constructor(client: Etcd3, layout: EtcdLayout, ttlSeconds: number, label: string) {
    this.#client = client;
    this.#layout = layout;
    this.#ttlSeconds = ttlSeconds;
    this.#label = label;
  }

  async acquire(names: readonly string[], owner: LockOwner): Promise<HeldLocks> {
    if (names.length === 0) throw new TopologyError('no locks named');
    const { id, lost } = await this.#liveLease();
    const keys = names.map((n) => this.#layout.lockKey(n));
    const value = JSON.stringify(owner);
    let txn = this.#client.if(keys[0], 'Create', '==', 0);
    for (const key of keys.slice(1)) txn = txn.and(key, 'Create', '==', 0);
    const response = await txn
      .then(...keys.map((key) => this.#client.put(key).value(value).lease(id)))
      .else(...keys.map((key) => this.#client.get(key)))
      .commit();
    if (!response.succeeded) {
      const i = response.responses.findIndex((r) => (r.response_range?.kvs?.length ?? 0) > 0);
      const kv = response.responses[i]?.response_range?.kvs?.[0];
      // Held a moment ago and free now: say so rather than name nobody; the caller may try again.
      if (!kv) throw new TopologyError(`${this.#label}: the locks on ${names.join(', ')} were changing; try again`);
      throw new LockHeldError(names[i], parseLockOwner(kv.value.toString()));
    }
    const created = response.header.revision; // every key of this transaction was created at its revision
    let released = false;
    return {
      names: [...names],
      lost: lost.signal,
      release: async () => {
        if (released || lost.signal.aborted) return;
        released = true;
        // Delete only what is still the key we created (a key recreated by someone else is theirs).
        await Promise.all(keys.map((key) => this.#client.if(key, 'Create', '==', created).then(this.#client.delete().key(key)).commit()));
      },
    };
  }

  async holder(name: string): Promise<LockOwner | undefined> {
    const value = await this.#client.get(this.#layout.lockKey(name)).string();
    return value === null ? undefined : parseLockOwner(value);
  }

  /** Revokes the lease: etcd deletes every lock of this process at once. */
  async close(): Promise<void> {
    const current = this.#lease;
    this.#lease = null;
    if (!current) return;
    const live = await current.catch(() => null);
    if (live && !live.lost.signal.aborted) await live.lease.revoke();
  }

  #liveLease(): Promise<LiveLease> {
    if (this.#lease) return this.#lease;
    const lease = this.#client.lease(this.#ttlSeconds, { autoKeepAlive: true });
    const lost = new AbortController();
    const pending = lease.grant().then((id) => ({ lease, id, lost }));
    this.#lease = pending;
    lease.on('lost', (err) => {
      lost.abort(new TopologyError(`${this.#label}: lost this process's lease (${err.message}); its locks may be someone else's now`));
      if (this.#lease === pending) this.#lease = null; // the next lock is taken on a new lease
    });
    pending.catch(() => {
      if (this.#lease === pending) this.#lease = null;
    });
    return pending.catch((err: unknown) => {
      throw new TopologyError(`${this.#label}: cannot get a lease: ${(err as Error).message}`);
    });
  }
}
