// The file backend's locks: a JSON file beside the topology (`PATH.locks`, lock name → holder), changed under the
// topology file's own lock. Limits (documented in docs/topology.md): a holder is judged dead only on this host
// (its pid is gone); a lock held from another host sharing the file stays until that host releases it or someone
// deletes its entry. There is no lease, so `lost` never fires.

import os from 'node:os';
import { readFile } from 'node:fs/promises';
import writeFileAtomic from 'write-file-atomic';
import { LockHeldError, parseLockOwner, type HeldLocks, type LockOwner, type LockService } from './coordination.ts';
import { TopologyError, readFailure } from './errors.ts';
import { withFileLock } from './file-mutex.ts';
import { processAlive } from './owner.ts';

type LockTable = Record<string, LockOwner>;

export class FileLocks implements LockService {
  readonly #topologyFile: string;
  readonly #file: string;
  /** Names this process holds, so close() can give them back. */
  readonly #mine = new Set<string>();

  constructor(topologyFile: string) {
    this.#topologyFile = topologyFile;
    this.#file = `${topologyFile}.locks`;
  }

  async acquire(names: readonly string[], owner: LockOwner): Promise<HeldLocks> {
    await this.#change((table) => {
      for (const name of names) {
        const held = table[name];
        if (held) throw new LockHeldError(name, held);
      }
      for (const name of names) table[name] = owner;
    });
    for (const name of names) this.#mine.add(name);
    let released = false;
    return {
      names: [...names],
      lost: new AbortController().signal,
      release: async () => {
        if (released) return;
        released = true;
        await this.#releaseOwned(names, owner);
      },
    };
  }

  async holder(name: string): Promise<LockOwner | undefined> {
    return withFileLock(this.#topologyFile, async () => this.#live(await this.#read())[name]);
  }

  /** Everything this process still holds (close()). */
  async releaseAll(): Promise<void> {
    if (this.#mine.size === 0) return;
    const names = [...this.#mine];
    await this.#change((table) => {
      for (const name of names) if (table[name]?.pid === process.pid && table[name]?.host === os.hostname()) delete table[name];
    });
    this.#mine.clear();
  }

  async #releaseOwned(names: readonly string[], owner: LockOwner): Promise<void> {
    await this.#change((table) => {
      for (const name of names) if (table[name]?.jobId === owner.jobId && table[name]?.pid === owner.pid) delete table[name];
    });
    for (const name of names) this.#mine.delete(name);
  }

  /** Read, drop dead holders, let `fn` change the table, write it back. */
  #change(fn: (table: LockTable) => void): Promise<void> {
    return withFileLock(this.#topologyFile, async () => {
      const table = this.#live(await this.#read());
      fn(table);
      await writeFileAtomic(this.#file, JSON.stringify(table, null, 2) + '\n', { fsync: true });
    });
  }

  /** The table without holders that ran on this host and whose process is gone (they crashed). */
  #live(table: LockTable): LockTable {
    const host = os.hostname();
    return Object.fromEntries(Object.entries(table).filter(([, o]) => o.host !== host || o.pid === process.pid || processAlive(o.pid)));
  }

  async #read(): Promise<LockTable> {
    let text: string;
    try {
      text = await readFile(this.#file, 'utf8');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT') return {};
      throw new TopologyError(`cannot read lock file ${this.#file}: ${readFailure(err)}`);
    }
    let raw: unknown;
    try {
      raw = JSON.parse(text);
    } catch (e) {
      throw new TopologyError(`lock file ${this.#file}: invalid JSON: ${(e as Error).message}; delete it if no job runs`);
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new TopologyError(`lock file ${this.#file}: must be a JSON object`);
    return Object.fromEntries(Object.entries(raw).map(([name, o]) => [name, parseLockOwner(JSON.stringify(o))]));
  }
}
