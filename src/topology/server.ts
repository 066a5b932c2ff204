// The topology backend interface and its embedded implementation, a JSON file (`--topo file:PATH`).
// Writes are locked read-modify-writes: a lock file keeps processes apart, an in-process queue keeps
// concurrent callers of this process apart, and the file is replaced atomically (temp file + rename).

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import lockfile from 'proper-lockfile';
import writeFileAtomic from 'write-file-atomic';
import { TopologyError, readFailure } from './errors.ts';
import { parseTopologyText } from './json.ts';
import type { Topology } from './types.ts';
import { validateTopology } from './validate.ts';

export interface TopologyServer {
  /** A validated snapshot of the topology. */
  read(): Promise<Topology>;
  /**
   * Locked read-modify-write: `fn` mutates the fresh topology it is given; the result is validated and
   * written only if `fn` succeeds. Returns what `fn` returns.
   */
  update<T>(fn: (topo: Topology) => T | Promise<T>): Promise<T>;
  /** Where the topology lives, for logs and pages (e.g. `file:/srv/topo.json`). */
  describe(): string;
}

/** Opens the backend named by `spec`; only `file:PATH` exists so far. Reads it once so a bad file fails now. */
export async function openTopology(spec: string): Promise<TopologyServer> {
  const m = /^file:(.+)$/.exec(spec);
  if (!m) throw new TopologyError(`unsupported topology ${JSON.stringify(spec)}: expected file:PATH`);
  const server = new FileTopologyServer(path.resolve(m[1]));
  await server.read();
  return server;
}

// Wait up to about a minute for another process's lock; a lock not refreshed for 10 s counts as abandoned.
const LOCK_OPTIONS = {
  stale: 10_000,
  retries: { retries: 60, factor: 1.3, minTimeout: 10, maxTimeout: 1_000, randomize: true },
} as const;

// One queue per file for the whole process, so two servers on the same file also take turns.
const queues = new Map<string, Promise<unknown>>();

function serialized<T>(key: string, task: () => Promise<T>): Promise<T> {
  const previous = queues.get(key) ?? Promise.resolve();
  const run = previous.then(task, task);
  const tail = run.catch(() => undefined);
  queues.set(key, tail);
  void tail.then(() => {
    if (queues.get(key) === tail) queues.delete(key);
  });
  return run;
}

export class FileTopologyServer implements TopologyServer {
  readonly file: string;

  constructor(file: string) {
    this.file = file;
  }

  describe(): string {
    return `file:${this.file}`;
  }

  async read(): Promise<Topology> {
    // "topology file PATH: entry: why", so the message says which file it is even when the path does not.
    const label = `topology file ${this.file}`;
    return validateTopology(parseTopologyText(await this.readText(), label), label);
  }

  update<T>(fn: (topo: Topology) => T | Promise<T>): Promise<T> {
    return serialized(this.file, () => this.lockedUpdate(fn));
  }

  private async lockedUpdate<T>(fn: (topo: Topology) => T | Promise<T>): Promise<T> {
    let compromised: Error | undefined;
    let release: () => Promise<void>;
    try {
      release = await lockfile.lock(this.file, { ...LOCK_OPTIONS, onCompromised: (err) => void (compromised = err) });
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT') throw new TopologyError(`topology file ${this.file} does not exist`);
      throw new TopologyError(`cannot lock topology file ${this.file}: ${err.message}`);
    }
    try {
      const topo = await this.read();
      const result = await fn(topo);
      const checked = validateTopology(topo, `topology file ${this.file} (after update)`);
      if (compromised) throw new TopologyError(`lost the lock on topology file ${this.file}: ${compromised.message}`);
      await writeFileAtomic(this.file, JSON.stringify(checked, null, 2) + '\n', { fsync: true });
      return result;
    } finally {
      await release().catch(() => undefined); // a compromised lock is already gone
    }
  }

  private async readText(): Promise<string> {
    try {
      // A byte-order mark (some editors write one) is no JSON syntax error.
      return (await readFile(this.file, 'utf8')).replace(/^\uFEFF/, '');
    } catch (e) {
      const err = e as NodeJS.ErrnoException;
      if (err.code === 'ENOENT') throw new TopologyError(`topology file ${this.file} does not exist`);
      throw new TopologyError(`cannot read topology file ${this.file}: ${readFailure(err)}`);
    }
  }
}
