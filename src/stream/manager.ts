// Runs every stream of the daemon: one per destination shard's `sourceShards` entry, as the topology says, each
// driven by its destination's `_vt.blp_checkpoint` row. Picks up new streams when a clone ends (and on a timer, for
// topology changes made elsewhere), starts them all again after a restart, and stops and starts them on request.

import type { Logger } from 'pino';
import type { StreamSnapshot } from './status.ts';
import { Stream, type StreamDeps } from './stream.ts';

export class UnknownStreamError extends Error {
  constructor(keyspace: string, shard: string) {
    super(`no stream feeds ${keyspace}/${shard}: its shard lists no sourceShards in the topology`);
    this.name = 'UnknownStreamError';
  }
}

export interface StreamManagerOptions extends StreamDeps {
  /** How often the topology is read again for streams added or removed elsewhere (ms; default 10 s; 0 never). */
  refreshMs?: number;
}

export class StreamManager {
  readonly #deps: StreamManagerOptions;
  readonly #log: Logger;
  /** By `keyspace/shard#uid` of the destination and source uid. */
  readonly #streams = new Map<string, Stream>();
  #timer: NodeJS.Timeout | null = null;
  #refreshing: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(deps: StreamManagerOptions) {
    this.#deps = deps;
    this.#log = deps.log;
  }

  /** Starts every stream the topology lists (each stays stopped if its row says DontStart), then keeps watching. */
  async open(): Promise<void> {
    await this.refresh();
    const every = this.#deps.refreshMs ?? 10_000;
    if (every > 0) {
      this.#timer = setInterval(() => void this.refresh().catch((err: unknown) => this.#log.warn({ err: String(err) }, 'reading the topology for streams failed')), every);
      this.#timer.unref();
    }
  }

  /**
   * Brings the streams in line with the topology: new `sourceShards` entries start, gone ones stop. With `restart`
   * (a clone has just written fresh checkpoint rows) every stream not running starts again from its row.
   */
  refresh(options: { restart?: boolean } = {}): Promise<void> {
    const next = this.#refreshing.then(() => this.#refresh(options));
    this.#refreshing = next.catch(() => {});
    return next;
  }

  async #refresh({ restart = false }: { restart?: boolean }): Promise<void> {
    if (this.#closed) return;
    const topo = await this.#deps.topo.read();
    const wanted = new Set<string>();
    for (const [keyspace, ks] of Object.entries(topo.keyspaces)) {
      for (const [shard, s] of Object.entries(ks.shards)) {
        for (const source of s.sourceShards ?? []) {
          const key = `${keyspace}/${shard}#${source.uid}`;
          wanted.add(key);
          const known = this.#streams.get(key);
          if (known && known.id.source.keyspace === source.keyspace && known.id.source.shard === source.shard) {
            if (restart && known.state !== 'running') known.start();
            continue;
          }
          if (known) await known.stop();
          const stream = new Stream({ keyspace, shard, source }, this.#deps);
          this.#streams.set(key, stream);
          this.#log.info({ stream: stream.name }, 'starting stream');
          stream.start();
        }
      }
    }
    for (const [key, stream] of this.#streams) {
      if (wanted.has(key)) continue;
      this.#log.info({ stream: stream.name }, 'stream no longer in the topology: stopping it');
      await stream.stop();
      this.#streams.delete(key);
    }
  }

  snapshot(): StreamSnapshot[] {
    const now = Date.now();
    return [...this.#streams.values()].map((s) => s.snapshot(now)).sort((a, b) => `${a.keyspace}/${a.shard}`.localeCompare(`${b.keyspace}/${b.shard}`) || a.sourceUid - b.sourceUid);
  }

  #of(keyspace: string, shard: string): Stream[] {
    const found = [...this.#streams.values()].filter((s) => s.id.keyspace === keyspace && s.id.shard === shard);
    if (found.length === 0) throw new UnknownStreamError(keyspace, shard);
    return found;
  }

  /** Stops the destination's streams and marks their rows DontStart, so a daemon restart keeps them stopped. */
  async stop(keyspace: string, shard: string): Promise<StreamSnapshot[]> {
    await this.refresh();
    const streams = this.#of(keyspace, shard);
    for (const s of streams) {
      await s.setDontStart(true);
      await s.stop();
    }
    return streams.map((s) => s.snapshot());
  }

  /** Clears DontStart and starts the destination's streams from their checkpoints. */
  async start(keyspace: string, shard: string): Promise<StreamSnapshot[]> {
    await this.refresh();
    const streams = this.#of(keyspace, shard);
    for (const s of streams) {
      await s.setDontStart(false);
      if (s.state !== 'running') s.start();
    }
    return streams.map((s) => s.snapshot());
  }

  /** For a cutover: stops the destination's streams where they stand; their rows and flags stay as they are. */
  async pause(keyspace: string, shard: string): Promise<void> {
    for (const s of this.#of(keyspace, shard)) await s.stop();
  }

  /** For a cutover: starts the destination's streams again from their rows (the undo of pause). */
  async resume(keyspace: string, shard: string): Promise<void> {
    for (const s of this.#of(keyspace, shard)) if (s.state !== 'running') s.start();
  }

  /** Stops every stream (their rows keep their flags: they start again with the next daemon). */
  async close(): Promise<void> {
    this.#closed = true;
    if (this.#timer) clearInterval(this.#timer);
    await this.#refreshing;
    await Promise.all([...this.#streams.values()].map((s) => s.stop()));
  }
}
