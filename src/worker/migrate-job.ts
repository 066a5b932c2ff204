// MigrateServedTypes (DESIGN.md "Cutover"): moves serving of one tablet type from a split's sources to its
// destinations, or back (--reverse). rdonly and replica are one topology change each. primary is the six steps
// below, in this order because each one's safety rests on the one before it:
//   1. writes stop on the shards giving up the primary (read_only; open write transactions ended): from here on
//      their binlog positions are final, and no acknowledged write can be missing from them;
//   2. every stream applies up to those positions (else: writes allowed again, nothing else changed);
//   3. the streams stop, the receiving primaries' positions are read (final: nothing else writes them), and the
//      reverse streams are recorded at those positions on the shards giving up the primary;
//   4. the topology flips (the point of no return: before it every step is undone on failure, after it none is);
//   5. the receiving primaries take writes (the write pause, from 1, ends here);
//   6. the reverse streams start (unless --skip-reverse-replication).
// --reverse primary runs the same steps the other way, on the reverse streams.
// A vertical split stops writes to the moved tables alone (deny triggers, write-control.ts), not to the whole source
// server with read_only: the source shard goes on serving its other tables, without a pause, and the triggers stay
// after the flip, so a write sent by a stale route to the moved tables' old home is refused rather than lost.

import type { Logger } from 'pino';
import { BLP_FLAG_DONT_START, CREATE_BLP_CHECKPOINT, populateBlpCheckpoint } from '../clone/checkpoint.ts';
import {
  type ShardRef,
  type SplitPair,
  CutoverRefusedError,
  destinationsServe,
  findSplitPair,
  flipPrimary,
  movePairServedType,
  reverseEntries,
  shardName,
  type ServedType,
} from '../cutover/plan.ts';
import type { StreamControl } from '../cutover/stream-control.ts';
import { describeTablet, type TabletRef } from '../mysql/connection.ts';
import { TabletLink, type TabletClient } from '../mysql/tablet-client.ts';
import { compareGtidLists, parseGtidList, parsePosition } from '../mysql/gtid.ts';
import { serverFlavor, type Flavor } from '../mysql/replication.ts';
import { parseTableMatchers } from '../clone/table-filter.ts';
import { allowTableWrites, binlogPosition, denyTableWrites, setReadOnly, stopWrites } from '../mysql/write-control.ts';
import { readStreamCheckpoints, type StreamCheckpoint } from '../stream/checkpoint-row.ts';
import type { StreamSnapshot } from '../stream/status.ts';
import { shardOf, tabletsOf } from '../topology/shards.ts';
import type { Topology } from '../topology/types.ts';
import { errorMessage, type JobPhases } from './job-runner.ts';
import type { JobStatus } from './job-status.ts';
import type { JobOptions } from './options.ts';
import type { CutoverStatus, CutoverStep } from './status.ts';
import type { JobDeps } from './tablet-session.ts';
import { UndoStack, type UndoReport } from './undo.ts';

/** How long a writer may hold up the read_only switch before its connection is killed (ms). */
const WRITE_STOP_GRACE_MS = 200;
/** How often the streams are looked at while they drain (ms). */
const DRAIN_POLL_MS = 5;

interface Primary {
  shard: ShardRef;
  ref: TabletRef;
  client: TabletClient;
  flavor: Flavor;
  /** Read before the pause (so the pause does not wait for them): its `_vt.blp_checkpoint` rows. */
  rowsBefore: StreamCheckpoint[];
}

const PRIMARY_STEPS = [
  'stop writes on the primaries giving up serving',
  'streams reach their positions',
  'record the reverse streams',
  'flip the topology',
  'allow writes on the new primaries',
  'start the reverse streams',
] as const;

export class MigrateJob implements JobPhases {
  readonly workState = 'migrating served types' as const;
  readonly #deps: JobDeps;
  readonly #status: JobStatus;
  readonly #keyspace: string;
  readonly #shard: string;
  readonly #type: ServedType;
  readonly #options: JobOptions;
  readonly #signal: AbortSignal;
  readonly #log: Logger;
  /** Steps 1 to 3, undone on a failure before the flip; emptied once the topology has flipped. */
  #undo = new UndoStack();
  readonly #clients: TabletClient[] = [];
  #pair: SplitPair | null = null;
  /** Shards serving moves away from, and to. */
  #from: ShardRef[] = [];
  #to: ShardRef[] = [];
  /** A vertical split's moved tables, as the shard giving up the primary has them (read in findTargets). */
  #moved: string[] = [];
  #cutover!: CutoverStatus;
  /** The streams that must drain: those feeding `to` from `from`. */
  #streams: StreamSnapshot[] = [];
  #fromPrimaries: Primary[] = [];
  #toPrimaries: Primary[] = [];

  constructor(deps: JobDeps, status: JobStatus, keyspace: string, shard: string, options: JobOptions, abort: AbortController, log: Logger) {
    this.#deps = deps;
    this.#status = status;
    this.#keyspace = keyspace;
    this.#shard = shard;
    if (options.servedType === '') throw new CutoverRefusedError('MigrateServedTypes needs a served type: rdonly, replica or primary');
    this.#type = options.servedType;
    this.#options = options;
    this.#signal = abort.signal;
    this.#log = log;
  }

  get #name(): string {
    return `MigrateServedTypes${this.#options.reverse ? ' --reverse' : ''} ${this.#keyspace}/${this.#shard} ${this.#type}`;
  }

  async initialize(): Promise<void> {
    const topo = await this.#deps.topo.read();
    const pair = findSplitPair(topo, this.#keyspace, this.#shard);
    this.#pair = pair;
    const reverse = this.#options.reverse;
    this.#from = reverse ? pair.destinations : pair.sources;
    this.#to = reverse ? pair.sources : pair.destinations;
    const names = (list: ShardRef[]) => list.map(shardName);
    this.#status.sources = names(this.#from);
    this.#status.destinations = names(this.#to);
    const steps = this.#type === 'primary' ? [...PRIMARY_STEPS] : [`move ${this.#type} serving in the topology`];
    this.#cutover = {
      servedType: this.#type,
      reverse,
      from: names(this.#from),
      to: names(this.#to),
      tables: [...pair.tables],
      steps: steps.map((name): CutoverStep => ({ name, state: 'waiting', detail: null, ms: null })),
      writePauseMs: null,
      positions: { from: {}, to: {} },
    };
    this.#status.cutover = this.#cutover;
    this.#refuseOutOfOrder(topo, pair);
    this.#log.info({ from: this.#from, to: this.#to, servedType: this.#type, reverse }, 'cutover planned');
  }

  /** The order of a reshard: rdonly and replica before primary, primary back before replica and rdonly. */
  #refuseOutOfOrder(topo: Topology, pair: SplitPair): void {
    const reverse = this.#options.reverse;
    const list = (refs: ShardRef[]) => refs.map(shardName).join(', ');
    if (this.#type === 'primary') {
      if (!reverse && pair.primaryMoved)
        throw new CutoverRefusedError(
          `${this.#name} refused: the primary has moved already (${list(pair.sources)} follows the destinations); --reverse primary moves it back`,
        );
      if (reverse && !pair.primaryMoved)
        throw new CutoverRefusedError(
          `${this.#name} refused: there are no reverse streams (no source shard lists the destinations in sourceShards), so the primary was never migrated`,
        );
      if (!reverse) {
        for (const type of ['rdonly', 'replica'] as const) {
          const serving = destinationsServe(topo, pair, type);
          const missing = pair.destinations.filter((d) => !serving.includes(d));
          if (missing.length)
            throw new CutoverRefusedError(
              `${this.#name} refused: ${type} is not migrated yet (${list(missing)} do not serve ${type}); migrate rdonly and replica first`,
            );
        }
      }
      return;
    }
    if (reverse && pair.primaryMoved)
      throw new CutoverRefusedError(
        `${this.#name} refused: the primary is still on the destinations; move it back first (MigrateServedTypes --reverse ${this.#keyspace}/${this.#shard} primary)`,
      );
    const serving = destinationsServe(topo, pair, this.#type);
    if (!reverse && serving.length) throw new CutoverRefusedError(`${this.#name} refused: ${list(serving)} serve ${this.#type} already`);
    if (reverse && pair.kind === 'vertical' && serving.length === 0)
      throw new CutoverRefusedError(
        `${this.#name} refused: ${list(pair.destinations)} does not serve ${this.#type}: it is served from ${list(pair.sources)} already`,
      );
  }

  async findTargets(): Promise<void> {
    if (this.#type !== 'primary') return;
    const streams = this.#streamControl();
    const topo = await this.#deps.topo.read();
    // The streams that must drain: every sourceShards entry of `to` naming a shard of `from`.
    const wanted = this.#to.flatMap((t) =>
      shardOf(topo, t.keyspace, t.shard)
        .sourceShards.filter((s) => this.#from.some((f) => f.keyspace === s.keyspace && f.shard === s.shard))
        .map((s) => ({ to: t, source: s })),
    );
    const all = streams.snapshot();
    const kind = this.#options.reverse ? 'reverse stream' : 'stream';
    this.#streams = wanted.map(({ to, source }) => {
      const found = all.find((s) => s.keyspace === to.keyspace && s.shard === to.shard && s.sourceUid === source.uid && s.source === shardName(source));
      if (!found) throw new CutoverRefusedError(`${this.#name} refused: the ${kind} ${shardName(source)} -> ${shardName(to)} does not run in this daemon`);
      return found;
    });
    if (this.#streams.length === 0) throw new CutoverRefusedError(`${this.#name} refused: no ${kind}s feed ${this.#cutover.to.join(', ')}`);
    for (const s of this.#streams) {
      const name = streamName(s);
      if (s.state === 'error') throw new CutoverRefusedError(`${this.#name} refused: ${kind} ${name} is in error: ${s.lastError ?? 'no reason recorded'}`);
      if (s.state !== 'running')
        throw new CutoverRefusedError(`${this.#name} refused: ${kind} ${name} is ${s.state} (start it: shardworker stream start ${s.keyspace}/${s.shard})`);
      if (s.secondsBehind === null)
        throw new CutoverRefusedError(`${this.#name} refused: how far ${kind} ${name} is behind is not known yet (it has applied nothing since it started)`);
      if (s.secondsBehind * 1000 >= this.#options.maxLag)
        throw new CutoverRefusedError(`${this.#name} refused: ${kind} ${name} is ${s.secondsBehind} s behind, over --max-lag ${this.#options.maxLag / 1000}s`);
    }
    this.#fromPrimaries = await Promise.all(this.#from.map((s) => this.#primary(topo, s)));
    this.#toPrimaries = await Promise.all(this.#to.map((s) => this.#primary(topo, s)));
    for (const p of [...this.#fromPrimaries, ...this.#toPrimaries]) {
      if (p.flavor !== 'MariaDB')
        throw new CutoverRefusedError(`${this.#name} refused: ${describeTablet(p.ref)} is MySQL; cutover waits on MariaDB GTID positions only so far`);
    }
    if (this.#pair?.kind === 'vertical') {
      this.#moved = await this.#movedTables(this.#fromPrimaries[0], this.#pair.tables);
      this.#cutover.tables = [...this.#moved];
    }
  }

  /** The base tables of the giving-up primary's database that the split's table list (names, /regexps/) names. */
  async #movedTables(p: Primary, patterns: string[]): Promise<string[]> {
    const rows = await p.client.query<{ name: string }[]>(
      'listing the moved tables',
      "SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_TYPE = 'BASE TABLE' ORDER BY TABLE_NAME",
      [p.ref.tablet.dbName],
    );
    const matchers = parseTableMatchers(patterns);
    const moved = rows.map((r) => String(r.name)).filter((t) => matchers.some((m) => m.test(t)));
    if (moved.length === 0)
      throw new CutoverRefusedError(`${this.#name} refused: no table of ${describeTablet(p.ref)} matches the split's tables (${patterns.join(', ')})`);
    return moved;
  }

  #streamControl(): StreamControl {
    const streams = this.#deps.streams;
    if (!streams)
      throw new CutoverRefusedError(
        `${this.#name} refused: the streams run under \`shardworker serve\`, not in this process; start it on the daemon (POST /api/jobs, or the index page)`,
      );
    return streams;
  }

  async #primary(topo: Topology, shard: ShardRef): Promise<Primary> {
    const found = tabletsOf(topo, shard.keyspace, shard.shard, 'primary');
    if (found.length === 0) throw new CutoverRefusedError(`${this.#name} refused: ${shardName(shard)} has no primary tablet`);
    const [alias, tablet] = found[0];
    const ref = { alias, tablet };
    // The control connection plus the watchdog that ends writers holding up read_only.
    // No retry: a cutover step that fails is undone at once rather than waited out while writes are stopped.
    const link = new TabletLink({ ref, credentials: this.#deps.credentials, tls: this.#deps.tls, policy: () => null, signal: this.#signal, counted: () => {} });
    const client = link.client(3, false);
    this.#clients.push(client);
    const flavor = await serverFlavor(client);
    // The table a shard's streams are recorded in, made ready now so the pause only writes rows.
    await client.query('creating _vt.blp_checkpoint', CREATE_BLP_CHECKPOINT.join('; '));
    return { shard, ref, client, flavor, rowsBefore: await readStreamCheckpoints(client) };
  }

  async work(): Promise<void> {
    if (this.#type !== 'primary') {
      const pair = this.#pair!;
      await this.#step(0, async () => {
        await this.#deps.topo.update((topo) => movePairServedType(topo, pair, this.#type, this.#options.reverse));
        return `${this.#cutover.to.join(', ')} serve ${this.#type}; ${this.#cutover.from.join(', ')} no longer do`;
      });
      return;
    }
    await this.#migratePrimary();
  }

  async #migratePrimary(): Promise<void> {
    const streams = this.#streamControl();
    let pauseStart = 0;
    try {
      // 1. Writes stop where the primary leaves (and stay stopped where it arrives until 5), positions read.
      await this.#step(0, async () => {
        pauseStart = performance.now();
        if (this.#moved.length) return this.#stopTableWrites();
        // Side by side on every primary: each round trip here is part of the pause. (The receiving primaries are
        // left as they are: nothing routes writes to them before the flip, and step 5 makes them writable.)
        for (const p of this.#fromPrimaries) this.#undo.push(`allow writes on ${p.ref.alias} again`, () => setReadOnly(p.client, false));
        const stopped = await Promise.all(
          this.#fromPrimaries.map(async (p) => {
            const { killed } = await stopWrites(p.client, { graceMs: WRITE_STOP_GRACE_MS, timeoutMs: this.#options.waitTimeout });
            this.#cutover.positions.from[p.ref.alias] = await binlogPosition(p.client, p.flavor);
            return killed;
          }),
        );
        const killed = stopped.reduce((a, b) => a + b, 0);
        return `read_only on ${this.#fromPrimaries.map((p) => p.ref.alias).join(', ')}; ${killed} open write transaction(s) ended; at ${this.#fromPrimaries.map((p) => `${p.ref.alias} ${this.#cutover.positions.from[p.ref.alias]}`).join(', ')}`;
      });
      // 2. Every stream reaches its source's position.
      await this.#step(1, () => this.#drain(streams));
      // 3. The streams stop where they are; the reverse streams are recorded at the receiving primaries' positions.
      await this.#step(2, () => this.#recordReverse(streams));
      // 4. The flip: one atomic topology write. Once it is written nothing is undone; a failure after it says what is
      // left to do.
      const pair = this.#pair!;
      await this.#step(3, async () => {
        await this.#deps.topo.update((topo) => flipPrimary(topo, pair, this.#options.reverse));
        return `${this.#cutover.to.join(', ')} serve primary; ${this.#cutover.from.join(', ')} follow them`;
      });
      this.#undo = new UndoStack();
    } catch (err) {
      const report = await this.#undo.runAll(this.#log);
      for (const step of this.#cutover.steps) if (step.state === 'done') step.state = 'undone';
      const undone = report.undone.length ? `; undone: ${report.undone.join(', ')}` : '';
      const notUndone = report.failed.length ? `; NOT undone: ${report.failed.map((f) => `${f.step} (${f.error})`).join(', ')}` : '';
      throw new Error(`${errorMessage(err)}${undone}${notUndone}; the topology is unchanged`, { cause: err });
    }
    // 5. The new primaries take writes: the pause ends.
    await this.#step(
      4,
      async () => {
        // A vertical split's receiving side may have refused writes to the moved tables (it gave them up before).
        if (this.#moved.length) await Promise.all(this.#toPrimaries.map((p) => allowTableWrites(p.client, this.#moved)));
        await Promise.all(this.#toPrimaries.map((p) => setReadOnly(p.client, false)));
        this.#cutover.writePauseMs = Math.round(performance.now() - pauseStart);
        return `read_only=0 on ${this.#toPrimaries.map((p) => p.ref.alias).join(', ')}; write pause ${this.#cutover.writePauseMs} ms`;
      },
      'the topology has flipped: set read_only=0 on the new primaries by hand',
    );
    this.#log.info({ writePauseMs: this.#cutover.writePauseMs }, 'write pause');
    // 6. The reverse streams start (their rows say DontStart with --skip-reverse-replication).
    await this.#step(
      5,
      async () => {
        await streams.refresh();
        if (this.#options.skipReverseReplication) return 'recorded, not started (--skip-reverse-replication): shardworker stream start starts them';
        const mine = streams.snapshot().filter((s) => this.#from.some((f) => f.keyspace === s.keyspace && f.shard === s.shard));
        return mine.map((s) => `${streamName(s)} ${s.state}`).join(', ');
      },
      'the topology has flipped and writes are allowed; start the reverse streams with shardworker stream start',
    );
  }

  /**
   * Step 1 of a vertical split: the moved tables refuse application writes where the primary leaves (the rest of
   * that server writes on); their open transactions end first, so the position read after is final for them.
   */
  async #stopTableWrites(): Promise<string> {
    const to = this.#cutover.to.join(', ');
    const message = `shardworker: table moved to ${to} (MigrateServedTypes); write it there`;
    await Promise.all(
      this.#fromPrimaries.map(async (p) => {
        this.#undo.push(`allow writes to ${this.#moved.join(', ')} on ${p.ref.alias} again`, () => allowTableWrites(p.client, this.#moved));
        await denyTableWrites(p.client, this.#moved, message, this.#options.waitTimeout);
        this.#cutover.positions.from[p.ref.alias] = await binlogPosition(p.client, p.flavor);
      }),
    );
    return `writes to ${this.#moved.join(', ')} refused on ${this.#fromPrimaries.map((p) => p.ref.alias).join(', ')} (other tables write on); at ${this.#fromPrimaries.map((p) => `${p.ref.alias} ${this.#cutover.positions.from[p.ref.alias]}`).join(', ')}`;
  }

  /** Step 2: waits until every stream stands at its source's stopped position, or fails naming the one behind. */
  async #drain(streams: StreamControl): Promise<string> {
    const targetOf = (s: StreamSnapshot) => {
      const primary = this.#fromPrimaries.find((p) => shardName(p.shard) === s.source)!;
      return this.#cutover.positions.from[primary.ref.alias];
    };
    const deadline = Date.now() + this.#options.waitTimeout;
    for (;;) {
      this.#signal.throwIfAborted();
      const now = streams.snapshot().filter((s) => this.#streams.some((w) => sameStream(w, s)));
      const failed = now.find((s) => s.state !== 'running');
      if (failed)
        throw new Error(
          `stream ${streamName(failed)} is ${failed.state}${failed.lastError ? `: ${failed.lastError}` : ''} (at ${failed.position}, needs ${targetOf(failed)})`,
        );
      const behind = now.filter((s) => !reached(s.position, targetOf(s)));
      if (behind.length === 0) return now.map((s) => `${streamName(s)} at ${s.position}`).join(', ');
      if (Date.now() >= deadline) {
        const what = behind.map(
          (s) =>
            `${streamName(s)} is behind by ${gtidGap(s.position, targetOf(s))} (at ${s.position}, needs ${targetOf(s)}; ${s.secondsBehind ?? '?'} s behind)`,
        );
        throw new Error(`the streams did not reach the sources' positions within --wait-timeout ${this.#options.waitTimeout / 1000}s: ${what.join('; ')}`);
      }
      await new Promise((resolve) => setTimeout(resolve, DRAIN_POLL_MS));
    }
  }

  /** Step 3: the streams stop, and each giving-up primary gets a row per receiving shard at its position. */
  async #recordReverse(streams: StreamControl): Promise<string> {
    for (const shard of this.#to) this.#undo.push(`restart the streams of ${shardName(shard)}`, () => streams.resume(shard.keyspace, shard.shard));
    await Promise.all(this.#to.map((shard) => streams.pause(shard.keyspace, shard.shard)));
    await Promise.all(this.#toPrimaries.map(async (p) => (this.#cutover.positions.to[p.ref.alias] = await binlogPosition(p.client, p.flavor))));
    const topo = await this.#deps.topo.read();
    const flags = this.#options.skipReverseReplication ? BLP_FLAG_DONT_START : '';
    const recorded: string[] = [];
    await Promise.all(
      this.#fromPrimaries.map(async (p) => {
        const rows: string[] = [];
        for (const entry of reverseEntries(topo, this.#pair!, this.#options.reverse, p.shard)) {
          const feeder = this.#toPrimaries.find((t) => t.shard.keyspace === entry.keyspace && t.shard.shard === entry.shard)!;
          const position = this.#cutover.positions.to[feeder.ref.alias];
          const old = p.rowsBefore.find((r) => r.uid === entry.uid);
          this.#undo.push(`${old ? 'restore' : 'remove'} the stream row uid ${entry.uid} on ${p.ref.alias}`, () => restoreRow(p, entry.uid, old));
          rows.push(populateBlpCheckpoint({ uid: entry.uid, position, timeUpdated: Date.now() / 1000, flags }));
          recorded.push(`${shardName(entry)} -> ${shardName(p.shard)} (uid ${entry.uid}) at ${position}`);
        }
        // One transaction: the shard follows all its new sources or none.
        await p.client.query('recording the reverse streams', ['BEGIN', ...rows, 'COMMIT'].join('; '));
      }),
    );
    return recorded.join(', ');
  }

  /** Runs step `index`, showing it as it happens; `after` says what an operator must do if it fails past the flip. */
  async #step(index: number, run: () => Promise<string>, after?: string): Promise<void> {
    const step = this.#cutover.steps[index];
    const started = performance.now();
    step.state = 'running';
    this.#log.info({ step: step.name }, 'cutover step');
    try {
      step.detail = await run();
      step.state = 'done';
      this.#log.info({ step: step.name, detail: step.detail }, 'cutover step done');
    } catch (err) {
      step.state = 'failed';
      step.detail = errorMessage(err);
      throw after
        ? new Error(`${step.name} failed: ${errorMessage(err)}; ${after}`, { cause: err })
        : new Error(`${step.name} failed: ${errorMessage(err)}`, { cause: err });
    } finally {
      step.ms = Math.round(performance.now() - started);
    }
  }

  async cleanup(): Promise<UndoReport> {
    // A failure before the flip has undone its steps already; what is left here is a cancel's.
    const report = await this.#undo.runAll(this.#log);
    await Promise.all(this.#clients.map((c) => c.close()));
    return report;
  }
}

async function restoreRow(p: Primary, uid: number, old: StreamCheckpoint | undefined): Promise<void> {
  if (old) {
    await p.client.query(
      'restoring a stream row',
      populateBlpCheckpoint({ uid, position: old.position, timeUpdated: old.timeUpdated, flags: old.flags.join(',') }),
    );
  } else {
    await p.client.query('removing a stream row', `DELETE FROM \`_vt\`.\`blp_checkpoint\` WHERE source_shard_uid = ${uid}`);
  }
}

function streamName(s: StreamSnapshot): string {
  return `${s.source} -> ${s.keyspace}/${s.shard}`;
}

function sameStream(a: StreamSnapshot, b: StreamSnapshot): boolean {
  return a.keyspace === b.keyspace && a.shard === b.shard && a.sourceUid === b.sourceUid && a.source === b.source;
}

/** Has a stream's position reached the target (in every GTID domain)? */
export function reached(position: string | null, target: string): boolean {
  if (!position) return false;
  return compareGtidLists(parseGtidList(parsePosition(position).value), parseGtidList(parsePosition(target).value)).kind !== 'behind';
}

/** How far `position` is behind `target`: `12 transactions (domain 0)`. */
export function gtidGap(position: string | null, target: string): string {
  const want = parseGtidList(parsePosition(target).value);
  const at = position ? parseGtidList(parsePosition(position).value) : new Map();
  const parts: string[] = [];
  for (const [domain, g] of want) {
    const have = at.get(domain)?.seq ?? 0n;
    if (have < g.seq) parts.push(`${g.seq - have} transaction(s) in domain ${domain}`);
  }
  return parts.join(', ') || 'nothing';
}
