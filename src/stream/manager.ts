// Runs the daemon's streams: one per destination shard's `sourceShards` entry, as the topology says, each driven
// by its destination's `_vt.blp_checkpoint` row. Picks up new streams when a clone ends (and on a timer, for
// topology changes made elsewhere), starts them all again after a restart, and stops and starts them on request.
//
// Ownership (DESIGN.md "Many daemons"): a stream runs only in the daemon holding its lock (`stream KS/SHARD/UID`,
// on the daemon's lease); the others show it as `elsewhere`, naming the holder, and ask every claimMs whether it
// is free: when the holder dies its lease expires, the lock goes with it and the first daemon to ask takes the
// stream and resumes it from its checkpoint row (rows and position commit together). A daemon that loses its
// lease stops its streams at once: they may be someone else's now.

import os from 'node:os';
import type { Logger } from 'pino';
import { LockHeldError, streamLockName, type HeldLocks, type LockOwner } from '../topology/coordination.ts';
import type { StreamSnapshot } from './status.ts';
import { Stream, type OpenBinlog, type StreamDeps } from './stream.ts';
import { relationTo, RunUntilError, StreamHeldError, untilGate } from './until.ts';

export class UnknownStreamError extends Error {
  constructor(keyspace: string, shard: string) {
    super(`no stream feeds ${keyspace}/${shard}: its shard lists no sourceShards in the topology`);
    this.name = 'UnknownStreamError';
  }
}

/** A stop or start asked of a daemon that does not run the stream (HTTP 409): ask its owner. */
export class StreamOwnedElsewhereError extends Error {
  readonly owner: LockOwner;
  constructor(stream: string, owner: LockOwner) {
    super(`stream ${stream} runs in the daemon with pid ${owner.pid} on ${owner.host} (since ${owner.since}); stop or start it there`);
    this.name = 'StreamOwnedElsewhereError';
    this.owner = owner;
  }
}

export interface StreamManagerOptions extends StreamDeps {
  /** How often the topology is read again for streams added or removed elsewhere (ms; default 10 s; 0 never). */
  refreshMs?: number;
  /** How often a stream another daemon holds is checked for a free lock (ms; default 1 s; 0 never). */
  claimMs?: number;
}

/** A stream and its lock. */
interface Owned {
  stream: Stream;
  lock: string;
  /** Our lock while this daemon owns the stream. */
  held: HeldLocks | null;
  /** The holder as last seen: us while `held`, another daemon, or null (free, or not asked yet). */
  owner: LockOwner | null;
  /** The stop after a lost lease, awaited before the stream is taken again. */
  stopping: Promise<void>;
  /** Set while a job (a diff) holds the stream: nobody else starts or stops it; whether to start it on release. */
  hold: { by: string; wasRunning: boolean } | null;
  /** While set, the stream's binlog ends at this position (runUntil). */
  gate: { until: string | null };
}

/** How often runUntil looks at the stream's position (ms). */
const UNTIL_POLL_MS = 20;

export class StreamManager {
  readonly #deps: StreamManagerOptions;
  readonly #log: Logger;
  /** By `keyspace/shard#uid` of the destination and source uid. */
  readonly #streams = new Map<string, Owned>();
  #timers: NodeJS.Timeout[] = [];
  /** Every change of the streams and their locks runs in this queue, one at a time. */
  #queue: Promise<void> = Promise.resolve();
  #closed = false;

  constructor(deps: StreamManagerOptions) {
    this.#deps = deps;
    this.#log = deps.log;
  }

  /** Takes and starts every free stream the topology lists (each stays stopped if its row says DontStart), then keeps watching. */
  async open(): Promise<void> {
    await this.refresh();
    const every = (ms: number | undefined, fallback: number, what: string, fn: () => Promise<void>) => {
      const period = ms ?? fallback;
      if (period <= 0) return;
      const timer = setInterval(() => void this.#serial(fn).catch((err: unknown) => this.#log.warn({ err: String(err) }, what)), period);
      timer.unref();
      this.#timers.push(timer);
    };
    every(this.#deps.refreshMs, 10_000, 'reading the topology for streams failed', () => this.#refresh({}));
    every(this.#deps.claimMs, 1_000, 'checking the stream locks failed', () => this.#claimAll());
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#queue.then(fn);
    this.#queue = next.then(
      () => {},
      () => {},
    );
    return next;
  }

  /**
   * Brings the streams in line with the topology: new `sourceShards` entries are taken (if free) and start, gone
   * ones stop. With `restart` (a clone has just written fresh checkpoint rows) every stream this daemon owns and
   * that is not running starts again from its row.
   */
  refresh(options: { restart?: boolean } = {}): Promise<void> {
    return this.#serial(() => this.#refresh(options));
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
          if (known && known.stream.id.source.keyspace === source.keyspace && known.stream.id.source.shard === source.shard) {
            if (restart && known.held && !known.hold && known.stream.state !== 'running') known.stream.start();
            continue;
          }
          if (known) await this.#drop(known);
          const gate: Owned['gate'] = { until: null };
          const deps = { ...this.#deps, openBinlog: gated(this.#deps.openBinlog, gate) };
          const owned: Owned = {
            stream: new Stream({ keyspace, shard, source }, deps),
            lock: streamLockName(keyspace, shard, source.uid),
            held: null,
            owner: null,
            stopping: Promise.resolve(),
            hold: null,
            gate,
          };
          this.#streams.set(key, owned);
          await this.#claim(owned);
        }
      }
    }
    for (const [key, owned] of this.#streams) {
      if (wanted.has(key)) continue;
      this.#log.info({ stream: owned.stream.name }, 'stream no longer in the topology: stopping it');
      await this.#drop(owned);
      this.#streams.delete(key);
    }
  }

  async #claimAll(): Promise<void> {
    for (const owned of this.#streams.values()) {
      if (this.#closed) return;
      await this.#claim(owned);
    }
  }

  /**
   * Takes the stream's lock if nobody holds it and starts the stream (its row's DontStart still keeps it stopped);
   * otherwise notes who holds it. A failure to ask is logged and asked again at the next tick.
   */
  async #claim(owned: Owned): Promise<boolean> {
    if (owned.held) return true;
    if (this.#closed) return false;
    await owned.stopping;
    const name = owned.stream.name;
    try {
      const holder = await this.#deps.topo.locks.holder(owned.lock);
      if (holder) {
        if (!sameOwner(holder, owned.owner)) this.#log.info({ stream: name, owner: { host: holder.host, pid: holder.pid } }, 'stream runs in another daemon');
        owned.owner = holder;
        return false;
      }
      const me: LockOwner = { host: os.hostname(), pid: process.pid, jobId: `stream ${name}`, since: new Date().toISOString() };
      const held = await this.#deps.topo.locks.acquire([owned.lock], me);
      owned.held = held;
      owned.owner = me;
      held.lost.addEventListener('abort', () => this.#lost(owned, held), { once: true });
    } catch (err) {
      if (err instanceof LockHeldError) {
        owned.owner = err.holder;
        return false;
      }
      this.#log.debug({ stream: name, err: String(err) }, 'could not check the stream lock; trying again');
      return false;
    }
    if (owned.hold) return true; // a job holds it stopped: it starts when the job releases it
    this.#log.info({ stream: name }, 'took the stream: starting it from its checkpoint');
    owned.stream.start();
    return true;
  }

  /** This daemon's lease is gone: the stream may be another daemon's already, so it stops now. */
  #lost(owned: Owned, held: HeldLocks): void {
    if (owned.held !== held) return;
    owned.held = null;
    owned.owner = null;
    this.#log.error({ stream: owned.stream.name, err: String(held.lost.reason) }, 'lost the stream lock: stopping the stream');
    owned.stopping = owned.stream.stop();
  }

  /** Stops the stream and gives its lock back. */
  async #drop(owned: Owned): Promise<void> {
    await owned.stream.stop();
    await owned.stopping;
    const held = owned.held;
    owned.held = null;
    owned.owner = null;
    await held
      ?.release()
      .catch((err: unknown) => this.#log.warn({ stream: owned.stream.name, err: String(err) }, 'could not release the stream lock; it expires with the lease'));
  }

  snapshot(): StreamSnapshot[] {
    const now = Date.now();
    return [...this.#streams.values()]
      .map((o) => ownedSnapshot(o, now))
      .sort((a, b) => `${a.keyspace}/${a.shard}`.localeCompare(`${b.keyspace}/${b.shard}`) || a.sourceUid - b.sourceUid);
  }

  #of(keyspace: string, shard: string): Owned[] {
    const found = [...this.#streams.values()].filter((o) => o.stream.id.keyspace === keyspace && o.stream.id.shard === shard);
    if (found.length === 0) throw new UnknownStreamError(keyspace, shard);
    return found;
  }

  /** Refuses a stop or start of streams another daemon runs, or a job holds, before anything changes. */
  async #ownedHereOrFree(keyspace: string, shard: string): Promise<Owned[]> {
    await this.#refresh({});
    const found = this.#of(keyspace, shard);
    for (const o of found) {
      if (o.hold) throw new StreamHeldError(o.stream.name, o.hold.by);
      if (o.held) continue;
      await this.#claim(o);
      if (!o.held && o.owner) throw new StreamOwnedElsewhereError(o.stream.name, o.owner);
    }
    return found;
  }

  /** Stops the destination's streams and marks their rows DontStart, so a daemon restart keeps them stopped. */
  stop(keyspace: string, shard: string): Promise<StreamSnapshot[]> {
    return this.#serial(async () => {
      const found = await this.#ownedHereOrFree(keyspace, shard);
      for (const o of found) {
        await o.stream.setDontStart(true);
        await o.stream.stop();
      }
      return found.map((o) => ownedSnapshot(o));
    });
  }

  /** Clears DontStart and starts the destination's streams from their checkpoints. */
  start(keyspace: string, shard: string): Promise<StreamSnapshot[]> {
    return this.#serial(async () => {
      const found = await this.#ownedHereOrFree(keyspace, shard);
      for (const o of found) {
        await o.stream.setDontStart(false);
        if (o.held && o.stream.state !== 'running') o.stream.start();
      }
      return found.map((o) => ownedSnapshot(o));
    });
  }

  /**
   * For a cutover: stops the destination's streams where they stand; their rows and flags stay as they are. Only
   * streams this daemon owns can be paused here (a cutover runs beside its streams).
   */
  pause(keyspace: string, shard: string): Promise<void> {
    return this.#serial(async () => {
      for (const o of await this.#ownedHereOrFree(keyspace, shard)) await o.stream.stop();
    });
  }

  /** For a cutover: starts the destination's streams again from their rows (the undo of pause). */
  resume(keyspace: string, shard: string): Promise<void> {
    return this.#serial(async () => {
      for (const o of this.#of(keyspace, shard)) if (o.held && !o.hold && o.stream.state !== 'running') o.stream.start();
    });
  }

  /**
   * For a diff: stops the destination's streams where they stand (their rows and flags stay as they are) and keeps
   * them stopped until release: an operator's start or stop, a clone's restart and a cutover are refused meanwhile.
   * Refused, before anything changes, when a stream runs in another daemon or stands in error (a diff of a stream
   * that diverged would only say so again: its error names the row). Returns the streams as they stopped.
   */
  hold(keyspace: string, shard: string, by: string): Promise<StreamSnapshot[]> {
    return this.#serial(async () => {
      const found = await this.#ownedHereOrFree(keyspace, shard);
      for (const o of found) {
        if (o.stream.state === 'error')
          throw new RunUntilError(
            `stream ${o.stream.name} is in error (${o.stream.snapshot().lastError ?? 'no message'}): fix what it names and start it (shardworker stream start ${keyspace}/${shard}) before diffing`,
          );
        if (!o.held) throw new RunUntilError(`stream ${o.stream.name} has no owner yet (its lock could not be taken): try again`);
      }
      for (const o of found) {
        o.hold = { by, wasRunning: o.stream.state === 'running' };
        await o.stream.stop();
      }
      return found.map((o) => ownedSnapshot(o));
    });
  }

  /**
   * For a diff: runs a held stream from its checkpoint until it stands exactly at `position` (a source tablet's,
   * at or past the stream's), then stops it there. Fails if the stream is past it, stops in error, or does not get
   * there within `timeoutMs`; it is left stopped in every case.
   */
  async runUntil(keyspace: string, shard: string, sourceUid: number, position: string, opts: { signal: AbortSignal; timeoutMs: number }): Promise<void> {
    const o = this.#of(keyspace, shard).find((x) => x.stream.id.source.uid === sourceUid);
    if (!o?.hold) throw new RunUntilError(`stream of ${keyspace}/${shard} from source uid ${sourceUid} is not held: it cannot be run to a position`);
    const name = o.stream.name;
    o.gate.until = position;
    await this.#serial(async () => o.stream.start());
    const deadline = Date.now() + opts.timeoutMs;
    try {
      for (;;) {
        opts.signal.throwIfAborted();
        const snap = o.stream.snapshot();
        if (snap.position !== null && relationTo(snap.position, position).kind === 'equal') break;
        if (snap.state !== 'running')
          throw new RunUntilError(
            `stream ${name} stopped at ${snap.position ?? 'an unknown position'} before reaching ${position}${snap.lastError ? `: ${snap.lastError}` : ''}`,
          );
        if (Date.now() >= deadline)
          throw new RunUntilError(
            `stream ${name} did not reach ${position} within ${opts.timeoutMs / 1000}s (it stands at ${snap.position ?? 'an unknown position'}${snap.lastError ? `; last error: ${snap.lastError}` : ''})`,
          );
        await new Promise((resolve) => setTimeout(resolve, UNTIL_POLL_MS));
      }
      this.#log.info({ stream: name, position }, 'stream ran until the position');
    } finally {
      await o.stream.stop();
      o.gate.until = null;
    }
  }

  /** The end of a hold: the streams that ran before it start again from their rows (those gone from the topology meanwhile are gone). */
  release(keyspace: string, shard: string): Promise<void> {
    return this.#serial(async () => {
      for (const o of this.#streams.values()) {
        if (o.stream.id.keyspace !== keyspace || o.stream.id.shard !== shard) continue;
        const hold = o.hold;
        o.hold = null;
        o.gate.until = null;
        if (hold?.wasRunning && o.held && o.stream.state !== 'running') o.stream.start();
      }
    });
  }

  /** Stops every stream and gives their locks back (their rows keep their flags: they start again with the next daemon). */
  async close(): Promise<void> {
    this.#closed = true;
    for (const t of this.#timers) clearInterval(t);
    await this.#queue;
    await Promise.all([...this.#streams.values()].map((o) => this.#drop(o)));
  }
}

/** The stream's binlog, ending at the gate's position while one is set (see until.ts). */
function gated(open: OpenBinlog, gate: { until: string | null }): OpenBinlog {
  return async (request) => {
    const until = gate.until;
    const source = await open(request);
    return until === null ? source : untilGate(source, request.position, until);
  };
}

function sameOwner(a: LockOwner, b: LockOwner | null): boolean {
  return b !== null && a.host === b.host && a.pid === b.pid && a.since === b.since;
}

function ownedSnapshot(o: Owned, now = Date.now()): StreamSnapshot {
  const snap: StreamSnapshot = { ...o.stream.snapshot(now), ...(o.hold ? { heldBy: o.hold.by } : {}) };
  if (!o.owner) return snap;
  const owner = { host: o.owner.host, pid: o.owner.pid, since: o.owner.since, here: o.held !== null };
  // A stream another daemon holds does not run here (one stopping after a lost lease shows as it is).
  return { ...snap, state: owner.here || snap.state === 'running' ? snap.state : 'elsewhere', owner };
}
