// `npm run bench -- --mode stream`: the catch-up rate of filtered replication against MariaDB's own replica
// applying the same binlog. With the streams stopped (and the rdonly's replication stopped), the source primary
// takes N row changes; then, one after the other on a quiet box: the rdonly's replication starts and is timed
// until it reaches the source's position; the streams (one per destination, in this process, as `serve` runs
// them) start and are timed until each stands at that position. Both results are verified row for row.

import { promises as fsp } from 'node:fs';
import { spawn } from 'node:child_process';
import path from 'node:path';
import readline from 'node:readline';
import pino from 'pino';
import { CREATE_BLP_CHECKPOINT, populateBlpCheckpoint } from '../src/clone/checkpoint.ts';
import { quoteId } from '../src/mysql/sql.ts';
import { withConnection, type Endpoint } from '../src/sandbox/index.ts';
import { openSourceBinlog } from '../src/stream/binlog-reader.ts';
import { Stream } from '../src/stream/stream.ts';
import { openTopology } from '../src/topology/server.ts';
import type { Topology } from '../src/topology/types.ts';
import type { BenchArgs } from './args.ts';
import { KEYSPACE, writeFreshTopology, type BenchCluster } from './cluster.ts';
import { serverSeconds } from './cpu.ts';
import { checksum, shardWhere, type BenchTable } from './dataset.ts';
import { settle } from './settle.ts';
import type { SteadyLoadConfig, SteadyLoadLine } from './steady-load.ts';
import { LOAD_SESSION, runStreamLoad, SEED_ROWS, seqOf, STREAM_DB, streamBenchTables, TransactionSource } from './stream-load.ts';

/** The steady phase: transactions per second on the source while the streams follow, for how long. */
const STEADY_TPS = 2_000;
const STEADY_SECONDS = 30;
const TICK_MS = 50;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function gtidPos(at: Endpoint, variable: 'gtid_binlog_pos' | 'gtid_slave_pos'): Promise<string> {
  return withConnection(at, async (conn) => {
    const [rows] = await conn.query(`SELECT @@GLOBAL.${variable} AS p`);
    return String((rows as { p: string }[])[0].p);
  });
}

/** Waits until the rdonly has applied `pos` (its SQL thread), failing on a replication error. */
async function replicaReaches(rdonly: Endpoint, pos: string): Promise<void> {
  await withConnection(rdonly, async (conn) => {
    for (;;) {
      const [rows] = await conn.query('SELECT MASTER_GTID_WAIT(?, 5) AS r', [pos]);
      if (Number((rows as { r: number }[])[0].r) === 0) return;
      const [status] = await conn.query('SHOW SLAVE STATUS');
      const s = (status as Record<string, unknown>[])[0];
      if (s?.Last_SQL_Error || s?.Last_IO_Error) throw new Error(`the rdonly's replication failed: ${String(s.Last_SQL_Error || s.Last_IO_Error)}`);
    }
  });
}

interface CpuParts {
  primary: number;
  rdonly: number;
  destinations: number;
  self: number;
}

function cpuNow(c: BenchCluster): CpuParts {
  const u = process.cpuUsage();
  return {
    primary: serverSeconds(path.join(c.dir, 'src-primary')),
    rdonly: serverSeconds(path.join(c.dir, 'src-rdonly')),
    destinations: c.dests.reduce((s, _d, i) => s + serverSeconds(path.join(c.dir, `dst-${i + 1}`)), 0),
    self: (u.user + u.system) / 1e6,
  };
}

function cpuDelta(a: CpuParts, b: CpuParts): CpuParts {
  const r = (x: number) => Math.round(x * 100) / 100;
  return { primary: r(b.primary - a.primary), rdonly: r(b.rdonly - a.rdonly), destinations: r(b.destinations - a.destinations), self: r(b.self - a.self) };
}

/** The 1-minute load average: the box is shared, so every figure is printed with it. */
async function loadAverage(): Promise<string> {
  return (await fsp.readFile('/proc/loadavg', 'utf8')).split(' ').slice(0, 3).join(' ');
}

/** Source tables, destinations and checkpoints at one position, the rdonly caught up and stopped there. */
async function prepare(c: BenchCluster, tables: BenchTable[], log: (m: string) => void): Promise<string> {
  const create = (db: string) =>
    [
      `DROP DATABASE IF EXISTS ${quoteId(db)}`,
      `CREATE DATABASE ${quoteId(db)} CHARACTER SET utf8mb4`,
      `USE ${quoteId(db)}`,
      ...tables.flatMap((t) => [t.createBase, ...(t.addIndex ? [t.addIndex] : [])]),
    ].join('; ');
  const seed = tables.map((t) => t.insert(1, SEED_ROWS)).join('; ');
  log(`seeding ${SEED_ROWS.toLocaleString('en-US')} rows per table on the source and the destinations`);
  // The rdonly replicates the seed from the primary; each destination gets its shard's part, without a binlog.
  await withConnection(c.rdonly, (conn) => conn.query('START SLAVE'));
  await withConnection(c.primary, (conn) => conn.query(`${LOAD_SESSION}; ${create(STREAM_DB)}; ${seed}`));
  await Promise.all(
    c.dests.map((d) =>
      withConnection(d.endpoint, (conn) =>
        conn.query(
          `SET SESSION sql_log_bin = 0; ${LOAD_SESSION}; ${create(STREAM_DB)}; ${seed}; ${tables.map((t) => `DELETE FROM ${quoteId(t.name)} WHERE NOT (${shardWhere(d.shard)})`).join('; ')}`,
        ),
      ),
    ),
  );
  const pos = await gtidPos(c.primary, 'gtid_binlog_pos');
  await replicaReaches(c.rdonly, pos);
  await withConnection(c.rdonly, (conn) => conn.query('STOP SLAVE'));
  // The streams: one checkpoint row per destination at the source's position, and sourceShards in the topology.
  const position = `MariaDB/${pos}`;
  await Promise.all(
    c.dests.map((d) =>
      withConnection(d.endpoint, (conn) =>
        conn.query(
          [
            'SET SESSION sql_log_bin = 0',
            'DROP DATABASE IF EXISTS `_vt`',
            ...CREATE_BLP_CHECKPOINT,
            populateBlpCheckpoint({ uid: 0, position, timeUpdated: Date.now() / 1000, flags: '' }),
          ].join('; '),
        ),
      ),
    ),
  );
  await writeFreshTopology(c, STREAM_DB);
  const topo = JSON.parse(await fsp.readFile(c.topologyFile, 'utf8')) as Topology;
  for (const d of c.dests) topo.keyspaces[KEYSPACE].shards[d.shard].sourceShards = [{ uid: 0, keyspace: KEYSPACE, shard: '0', keyRange: '-', tables: [] }];
  await fsp.writeFile(c.topologyFile, JSON.stringify(topo, null, 2));
  return position;
}

/** Every destination holds exactly its range of the primary's rows; the rdonly holds all of them. */
async function verify(c: BenchCluster, tables: BenchTable[]): Promise<void> {
  // The rdonly replicates the steady load too, and at MariaDB's durability may trail it by seconds.
  await replicaReaches(c.rdonly, await gtidPos(c.primary, 'gtid_binlog_pos'));
  for (const t of tables) {
    const whole = await withConnection(c.primary, (conn) => checksum(conn, STREAM_DB, t));
    const replica = await withConnection(c.rdonly, (conn) => checksum(conn, STREAM_DB, t));
    if (replica.rows !== whole.rows || replica.sum !== whole.sum)
      throw new Error(`the rdonly's ${t.name} differs from the primary's: ${replica.rows} rows (${replica.sum}) against ${whole.rows} (${whole.sum})`);
    for (const d of c.dests) {
      const want = await withConnection(c.primary, (conn) => checksum(conn, STREAM_DB, t, shardWhere(d.shard)));
      const got = await withConnection(d.endpoint, (conn) => checksum(conn, STREAM_DB, t));
      if (got.rows !== want.rows || got.sum !== want.sum)
        throw new Error(
          `shard ${d.shard} ${STREAM_DB}.${t.name}: ${got.rows} rows (checksum ${got.sum}), the source's range has ${want.rows} (checksum ${want.sum})`,
        );
    }
  }
}

function assertRunning(streams: Stream[]): void {
  const failed = streams.find((s) => s.state !== 'running');
  if (failed) throw new Error(`stream ${failed.name} is ${failed.state}: ${failed.snapshot().lastError}`);
}

export interface SteadyResult {
  seconds: number;
  transactions: number;
  rowChanges: number;
  transactionsPerSecond: number;
  /**
   * How far the streams trailed the source, sampled every 100 ms per stream: the time since the oldest source
   * commit a stream had not applied yet (0 when it had applied all). Independent of the stream's own figure.
   */
  lag: { p50: number; p99: number; max: number };
  /** The largest seconds-behind the streams reported (what the status page shows). */
  maxSecondsBehindShown: number;
}

/**
 * STEADY_TPS transactions per second for STEADY_SECONDS from bench/steady-load.ts (its own process, continuing
 * `source`'s sequence), while sampling how far each stream trails the source; then waits until every stream has
 * applied the load's last transaction.
 */
async function steadyLag(c: BenchCluster, streams: Stream[], source: TransactionSource): Promise<SteadyResult> {
  /** The source's position after each of the load's commits, and when the commit was acknowledged. */
  const marks: { seq: number; at: number }[] = [];
  const lags: number[] = [];
  let maxShown = 0;
  let done = false;
  let failure: unknown = null;
  const sampler = (async () => {
    while (!done) {
      await sleep(100);
      const now = Date.now();
      assertRunning(streams);
      for (const s of streams) {
        const snap = s.snapshot(now);
        maxShown = Math.max(maxShown, snap.secondsBehind ?? 0);
        const applied = seqOf(snap.position ?? '0-0-0');
        const pending = marks.find((m) => m.seq > applied);
        lags.push(pending ? (now - pending.at) / 1000 : 0);
      }
    }
  })().catch((e: unknown) => {
    failure = e;
  });
  const config: SteadyLoadConfig = { port: c.primary.port, transactionsPerSecond: STEADY_TPS, seconds: STEADY_SECONDS, tickMs: TICK_MS, from: source.state };
  const child = spawn(process.execPath, ['--import', 'tsx/esm', 'bench/steady-load.ts', JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  try {
    let totals: { transactions: number; rowChanges: number; seconds: number } | null = null;
    for await (const text of readline.createInterface({ input: child.stdout })) {
      const line = JSON.parse(text) as SteadyLoadLine;
      if ('seq' in line) marks.push(line);
      else totals = line;
      if (failure) throw failure;
    }
    const code = await exited;
    if (code !== 0 || totals === null) throw new Error(`the steady load failed (exit ${code}): ${stderr.trim()}`);
    const finalSeq = marks.length ? marks[marks.length - 1].seq : 0;
    while (!streams.every((s) => seqOf(s.snapshot().position ?? '0-0-0') >= finalSeq)) {
      if (failure) throw failure;
      await sleep(20);
    }
    done = true;
    await sampler;
    if (failure) throw failure;
    const sorted = [...lags].sort((a, b) => a - b);
    const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
    return {
      ...totals,
      transactionsPerSecond: totals.transactions / totals.seconds,
      lag: { p50: at(0.5), p99: at(0.99), max: at(1) },
      maxSecondsBehindShown: maxShown,
    };
  } finally {
    done = true;
    child.kill();
    await sampler;
  }
}

export interface StreamBenchResult {
  rowChanges: number;
  transactions: number;
  loadSeconds: number;
  replica: { seconds: number; rowsPerSecond: number; cpu: CpuParts; loadAverage: string };
  streams: { seconds: number; rowsPerSecond: number; rowsApplied: number; cpu: CpuParts; peakRssMb: number; loadAverage: string };
  ratio: number;
  steady: SteadyResult;
}

export async function runStreamBench(c: BenchCluster, args: BenchArgs, log: (m: string) => void): Promise<StreamBenchResult> {
  const tables = streamBenchTables();
  const position = await prepare(c, tables, log);
  const transactionSource = new TransactionSource(tables, SEED_ROWS);

  log(`the load: ${args.rows.toLocaleString('en-US')} row changes on the source primary (streams and the rdonly's replication stopped)`);
  const load = await withConnection(c.primary, async (conn) => {
    await conn.query(`${LOAD_SESSION}; USE ${quoteId(STREAM_DB)}`);
    return runStreamLoad(conn, transactionSource, args.rows, log);
  });
  const target = await gtidPos(c.primary, 'gtid_binlog_pos');
  log(
    `  ${load.rowChanges.toLocaleString('en-US')} row changes in ${load.transactions.toLocaleString('en-US')} transactions, ${load.seconds.toFixed(1)} s; source at ${target}`,
  );

  // MariaDB's own replica, default settings: START SLAVE, timed until its SQL thread has applied the target.
  await settle(c);
  let cpu = cpuNow(c);
  const replicaLoad = await loadAverage();
  log(`MariaDB's replica (the rdonly) catching up (load average ${replicaLoad})`);
  let started = Date.now();
  await withConnection(c.rdonly, (conn) => conn.query('START SLAVE'));
  await replicaReaches(c.rdonly, target);
  const replicaSeconds = (Date.now() - started) / 1000;
  const replicaCpu = cpuDelta(cpu, cpuNow(c));
  log(
    `  ${replicaSeconds.toFixed(2)} s, ${Math.round(load.rowChanges / replicaSeconds).toLocaleString('en-US')} rows/s; CPU-s primary ${replicaCpu.primary} + rdonly ${replicaCpu.rdonly}`,
  );

  // The streams, as the daemon runs them (one per destination primary), timed until each is at the target.
  await settle(c);
  const topo = await openTopology(`file:${c.topologyFile}`);
  const deps = { topo, credentials: {}, openBinlog: openSourceBinlog, log: pino({ level: 'warn' }), retryDuration: 60_000 };
  const streams = c.dests.map(
    (d) => new Stream({ keyspace: KEYSPACE, shard: d.shard, source: { uid: 0, keyspace: KEYSPACE, shard: '0', keyRange: '-', tables: [] } }, deps),
  );
  const streamsLoad = await loadAverage();
  log(`the streams catching up from ${position} (load average ${streamsLoad})`);
  let peakRss = process.memoryUsage().rss;
  cpu = cpuNow(c);
  started = Date.now();
  const wanted = `MariaDB/${target}`;
  let streamSeconds = 0;
  let streamCpu = cpu;
  let steady: SteadyResult;
  let rowsApplied = 0;
  for (const s of streams) s.start();
  try {
    for (let polls = 0; ; polls++) {
      // process.memoryUsage() walks the heap: only the RSS, and only every 100 ms.
      if (polls % 5 === 0) peakRss = Math.max(peakRss, process.memoryUsage.rss());
      assertRunning(streams);
      if (streams.every((s) => s.snapshot().position === wanted)) break;
      await sleep(20);
    }
    streamSeconds = (Date.now() - started) / 1000;
    streamCpu = cpuDelta(cpu, cpuNow(c));
    rowsApplied = streams.reduce((s, x) => s + x.snapshot().rowsApplied, 0);
    log(
      `  ${streamSeconds.toFixed(2)} s, ${Math.round(load.rowChanges / streamSeconds).toLocaleString('en-US')} source rows/s (${rowsApplied.toLocaleString('en-US')} rows applied on the destinations); CPU-s primary ${streamCpu.primary} + destinations ${streamCpu.destinations} + streams ${streamCpu.self}; peak RSS ${Math.round(peakRss / 2 ** 20)} MB`,
    );
    // The catch-up leaves dirty pages and purge work on every server: the steady load starts on a quiet box.
    await settle(c);
    log(`steady load: ${STEADY_TPS.toLocaleString('en-US')} transactions/s on the source for ${STEADY_SECONDS} s, the streams following`);
    steady = await steadyLag(c, streams, transactionSource);
    log(
      `  ${steady.transactions.toLocaleString('en-US')} transactions (${Math.round(steady.transactionsPerSecond).toLocaleString('en-US')}/s, ${steady.rowChanges.toLocaleString('en-US')} rows); lag behind the source p50 ${steady.lag.p50.toFixed(2)} s, p99 ${steady.lag.p99.toFixed(2)} s, max ${steady.lag.max.toFixed(2)} s; seconds behind shown at most ${steady.maxSecondsBehindShown}`,
    );
  } finally {
    await Promise.all(streams.map((s) => s.stop()));
  }

  log('verifying: every destination against its range of the source, the rdonly against the source');
  await verify(c, tables);
  log('  verified');
  return {
    rowChanges: load.rowChanges,
    transactions: load.transactions,
    loadSeconds: load.seconds,
    replica: { seconds: replicaSeconds, rowsPerSecond: load.rowChanges / replicaSeconds, cpu: replicaCpu, loadAverage: replicaLoad },
    streams: {
      seconds: streamSeconds,
      rowsPerSecond: load.rowChanges / streamSeconds,
      rowsApplied,
      cpu: streamCpu,
      peakRssMb: Math.round(peakRss / 2 ** 20),
      loadAverage: streamsLoad,
    },
    ratio: replicaSeconds / streamSeconds,
    steady,
  };
}

export function streamSummaryText(r: StreamBenchResult): string {
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  return [
    `  source load: ${n(r.rowChanges)} row changes in ${n(r.transactions)} transactions (1–10 rows each), written in ${r.loadSeconds.toFixed(1)} s`,
    `  MariaDB's replica: ${r.replica.seconds.toFixed(2)} s, ${n(r.replica.rowsPerSecond)} rows/s (load average ${r.replica.loadAverage})`,
    `  streams (2 destinations): ${r.streams.seconds.toFixed(2)} s, ${n(r.streams.rowsPerSecond)} rows/s, peak RSS ${r.streams.peakRssMb} MB (load average ${r.streams.loadAverage})`,
    `  streams / replica: ${r.ratio.toFixed(2)}×`,
    `  steady load, ${n(r.steady.transactionsPerSecond)} transactions/s for ${r.steady.seconds.toFixed(0)} s: streams behind the source p50 ${r.steady.lag.p50.toFixed(2)} s, p99 ${r.steady.lag.p99.toFixed(2)} s, max ${r.steady.lag.max.toFixed(2)} s (seconds behind shown: at most ${r.steady.maxSecondsBehindShown})`,
  ].join('\n');
}
