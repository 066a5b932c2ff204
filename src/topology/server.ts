// The topology backend interface and its embedded implementation, a JSON file (`--topo file:PATH`).
// Writes are locked read-modify-writes: a lock file keeps processes apart, an in-process queue keeps
// concurrent callers of this process apart, and the file is replaced atomically (temp file + rename).

import { access, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import writeFileAtomic from 'write-file-atomic';
import type { Coordination } from './coordination.ts';
import { EtcdTopologyServer } from './etcd/etcd-server.ts';
import { parseEtcdSpec } from './etcd/etcd-spec.ts';
import { TopologyError, readFailure } from './errors.ts';
import { FileLocks } from './file-locks.ts';
import { withFileLock } from './file-mutex.ts';
import { watchFileChanges } from './file-watch.ts';
import { parseTopologyText } from './json.ts';
import type { Topology } from './types.ts';
import { validateTopology } from './validate.ts';

export interface TopologyServer extends Coordination {
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

/**
 * Opens the backend named by `spec`: `file:PATH` or `etcd://HOST:PORT[,HOST:PORT…]/PREFIX`. Reads it once so a bad
 * topology (or an unreachable etcd) fails now.
 */
export async function openTopology(spec: string): Promise<TopologyServer> {
  const file = /^file:(.+)$/.exec(spec);
  const server = file ? new FileTopologyServer(path.resolve(file[1])) : spec.startsWith('etcd://') ? new EtcdTopologyServer(parseEtcdSpec(spec)) : undefined;
  if (!server) throw new TopologyError(`unsupported topology ${JSON.stringify(spec)}: expected file:PATH or etcd://HOST:PORT[,HOST:PORT…]/PREFIX`);
  try {
    await server.read();
  } catch (err) {
    await server.close();
    throw err;
  }
  return server;
}

export class FileTopologyServer implements TopologyServer {
  readonly file: string;
  readonly locks: FileLocks;
  readonly #changes;

  constructor(file: string) {
    this.file = file;
    this.locks = new FileLocks(file);
    this.#changes = watchFileChanges(file);
  }

  onChange(listener: () => void): () => void {
    return this.#changes.subscribe(listener);
  }

  async close(): Promise<void> {
    this.#changes.close();
    await this.locks.releaseAll();
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
    return withFileLock(this.file, async (compromised) => {
      const topo = await this.read();
      const result = await fn(topo);
      const checked = validateTopology(topo, `topology file ${this.file} (after update)`);
      const lost = compromised();
      if (lost) throw new TopologyError(`lost the lock on topology file ${this.file}: ${lost.message}`);
      await writeFileAtomic(this.file, JSON.stringify(checked, null, 2) + '\n', { fsync: true });
      return result;
    });
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

/**
 * Lays `topology` down as the whole file `file` (validated first; the file created when absent): the sandbox and the
 * bench start from a fresh topology this way. An existing file is replaced under its lock, as update() writes it,
 * so a daemon's update is never interleaved with it.
 */
export async function writeTopologyFile(file: string, topology: Topology): Promise<void> {
  const checked = validateTopology(structuredClone(topology), `topology for ${file}`);
  const write = () => writeFileAtomic(file, JSON.stringify(checked, null, 2) + '\n', { fsync: true });
  await mkdir(path.dirname(file), { recursive: true });
  const exists = await access(file).then(
    () => true,
    () => false,
  );
  if (!exists) return write();
  await withFileLock(file, async (compromised) => {
    const lost = compromised();
    if (lost) throw new TopologyError(`lost the lock on topology file ${file}: ${lost.message}`);
    await write();
  });
}
