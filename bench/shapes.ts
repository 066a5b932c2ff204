// `npm run bench -- --mode shapes`: every table shape of dataset.ts's shapes() copied by SplitClone side by side with
// its anchor in one run (the ingest limit, LOAD DATA + ADD INDEX; for 2,000 small tables the dump pipe), each result
// verified; then SplitDiff of the split set against the time to read both of its sides once.

import { spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openPool } from '../src/mysql/connection.ts';
import { scanRows } from '../src/mysql/wire/raw-rows.ts';
import { quoteTable } from '../src/mysql/sql.ts';
import type { BenchArgs, ContenderName } from './args.ts';
import { KEYSPACE, type BenchCluster } from './cluster.ts';
import { prepareLoadFiles, type LoadFiles } from './contenders/load.ts';
import { runVerified, type RunDetail } from './contend.ts';
import { ensureDataset, shapes, totalRows, type Dataset, type Shape } from './dataset.ts';
import { resetDestinations } from './verify.ts';
import { median } from './report.ts';

const BIN = path.resolve(import.meta.dirname, '../bin/shardworker.js');
const TIME = '/usr/bin/time';

export interface ShapeResult {
  shape: string;
  label: string;
  rows: number;
  tables: number;
  against: 'load' | 'dump';
  /** Medians over the rounds, seconds. */
  shardworkerSeconds: number;
  anchorSeconds: number;
  /** shardworker's rate over the anchor's (anchor seconds / shardworker seconds), and the issue's target. */
  ratio: number;
  target: number;
  peakRssMb: number;
  runs: { contender: ContenderName; seconds: number; detail: RunDetail }[];
}

export interface DiffResult {
  /** SplitDiff of each destination shard, one after the other: the jobs' own times, summed. */
  splitDiffSeconds: number;
  /** Per destination, a full read of every table on the source and on the destination at once; summed. */
  scanSeconds: number;
  ratio: number;
  target: number;
  peakRssMb: number;
  perShard: { shard: string; splitDiffSeconds: number; scanSeconds: number; workerCpuSeconds: number }[];
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

export async function runShapes(args: BenchArgs, c: BenchCluster, log: (m: string) => void): Promise<{ shapes: ShapeResult[]; diff: DiffResult | null }> {
  const results: ShapeResult[] = [];
  let diff: DiffResult | null = null;
  for (const shape of shapes(args.rows).filter((s) => args.shapes.length === 0 || args.shapes.includes(s.name))) {
    const d = shape.dataset;
    const expected = await ensureDataset(
      c.rdonly,
      d,
      c.dests.map((x) => x.shard),
      c.dir,
      log,
    );
    let files: LoadFiles | undefined;
    if (shape.against === 'load') {
      log(`${shape.name}: writing the per-shard files of the ingest-limit load (untimed)`);
      files = await prepareLoadFiles(c, d);
    }
    const contenders: ContenderName[] = ['shardworker', shape.against];
    const runs: ShapeResult['runs'] = [];
    for (let round = 1; round <= args.warmup + args.rounds; round++) {
      const timed = round > args.warmup;
      // Rotated each round, so neither always runs first.
      const order = round % 2 ? contenders : [...contenders].reverse();
      for (const contender of order) {
        const detail = await runVerified(c, d, expected, contender, args.shardworkerFlags, files);
        log(
          `${shape.name} ${timed ? `round ${round - args.warmup}/${args.rounds}` : 'warm-up (untimed)'}: ${contender} ${detail.seconds.toFixed(2)} s, verified${'peakRssMb' in detail ? `, peak RSS ${Math.round(Number(detail.peakRssMb))} MB` : ''}`,
        );
        if (timed) runs.push({ contender, seconds: detail.seconds, detail });
        // The diff compares against the split set's last copy, still on the destinations.
        if (shape.name === 'split' && contender === 'shardworker' && round === args.warmup + args.rounds) diff = await measureDiff(c, d, log);
      }
    }
    const sw = median(runs.filter((r) => r.contender === 'shardworker').map((r) => r.seconds));
    const anchor = median(runs.filter((r) => r.contender === shape.against).map((r) => r.seconds));
    results.push({
      shape: shape.name,
      label: shape.label,
      rows: totalRows(d),
      tables: d.tables.length,
      against: shape.against,
      shardworkerSeconds: round2(sw),
      anchorSeconds: round2(anchor),
      ratio: round2(anchor / sw),
      target: targetOf(shape),
      peakRssMb: Math.round(Math.max(...runs.filter((r) => r.contender === 'shardworker').map((r) => Number(r.detail.peakRssMb)))),
      runs,
    });
    await resetDestinations(c, d.db);
  }
  return { shapes: results, diff };
}

/** What issue 16 asks of each shape: 0.85x the ingest limit on the split set, 0.8x on a key shape, 2x the dump pipe on small tables. */
function targetOf(shape: Shape): number {
  if (shape.against === 'dump') return 2;
  return shape.name === 'split' ? 0.85 : 0.8;
}

/** SplitDiff of each destination of the split set's copy, and the two-sided scan it is measured against. */
async function measureDiff(c: BenchCluster, d: Dataset, log: (m: string) => void): Promise<DiffResult> {
  const perShard: DiffResult['perShard'] = [];
  let peakKb = 0;
  for (const dest of c.dests) {
    const job = await runJob(c, ['SplitDiff', `${KEYSPACE}/${dest.shard}`]);
    peakKb = Math.max(peakKb, job.peakKb);
    const scan = await scanBothSides(c, d, dest.endpoint.port);
    perShard.push({ shard: dest.shard, splitDiffSeconds: round2(job.seconds), scanSeconds: round2(scan), workerCpuSeconds: job.cpuSeconds });
    log(`diff of ${dest.shard}: SplitDiff ${job.seconds.toFixed(2)} s (worker CPU ${job.cpuSeconds} s), both sides read once ${scan.toFixed(2)} s`);
  }
  const splitDiffSeconds = round2(perShard.reduce((s, x) => s + x.splitDiffSeconds, 0));
  const scanSeconds = round2(perShard.reduce((s, x) => s + x.scanSeconds, 0));
  return { splitDiffSeconds, scanSeconds, ratio: round2(scanSeconds / splitDiffSeconds), target: 0.7, peakRssMb: Math.round(peakKb / 1024), perShard };
}

/** `shardworker run` of a command on the bench topology (as the clone left it): its own time, CPU and peak RSS. */
async function runJob(c: BenchCluster, command: string[]): Promise<{ seconds: number; cpuSeconds: number; peakKb: number }> {
  const rssFile = path.join(await fsp.mkdtemp(path.join(os.tmpdir(), 'sw-bench-')), 'rss');
  const args = ['--topo', `file:${c.topologyFile}`, '--db-credentials-file', c.credentialsFile, '--port', '0', '--log-level', 'warn', 'run', ...command];
  const useTime = existsSync(TIME);
  const child = useTime
    ? spawn(TIME, ['-f', '%M', '-o', rssFile, BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-20_000)));
  child.stderr.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-20_000)));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  if (code !== 0) throw new Error(`shardworker ${command.join(' ')} exited ${code}:\n${out.slice(-3000)}`);
  const done = /done: .* in ([\d.]+)s \(worker CPU ([\d.]+) s\)/.exec(out);
  if (!done) throw new Error(`shardworker ${command.join(' ')} did not report its time:\n${out.slice(-2000)}`);
  if (/\d+ (mismatched|extra on)/.test(out)) throw new Error(`shardworker ${command.join(' ')} found differences:\n${out.slice(-2000)}`);
  const peakKb = useTime ? Number((await fsp.readFile(rssFile, 'utf8')).trim().split('\n').pop()) : 0;
  await fsp.rm(path.dirname(rssFile), { recursive: true, force: true });
  return { seconds: Number(done[1]), cpuSeconds: Number(done[2]), peakKb };
}

/**
 * The least a diff of one destination must do: read every row of the source (its key range is no index: the whole
 * table) and of the destination once, both at once, through the copy's raw reader with nothing done per row.
 */
async function scanBothSides(c: BenchCluster, d: Dataset, destPort: number): Promise<number> {
  const side = async (port: number) => {
    const ref = {
      alias: `bench-${port}`,
      tablet: { keyspace: KEYSPACE, shard: '0', type: 'rdonly' as const, host: '127.0.0.1', port, dbName: d.db, user: 'root' },
    };
    const pool = openPool(ref, {}, { connectionLimit: 1, withDatabase: false });
    try {
      const signal = new AbortController().signal;
      for (const t of d.tables) await scanRows(pool, ref, `reading ${t.name}`, `SELECT * FROM ${quoteTable(d.db, t.name)}`, () => {}, { signal });
    } finally {
      await pool.end();
    }
  };
  const started = performance.now();
  await Promise.all([side(c.rdonly.port), side(destPort)]);
  return (performance.now() - started) / 1000;
}

export function shapesText(r: { shapes: ShapeResult[]; diff: DiffResult | null }): string {
  const lines = ['  shape                                  shardworker   anchor                              ratio  target  peak RSS'];
  for (const s of r.shapes) {
    const anchor = s.against === 'load' ? 'LOAD DATA + ADD INDEX' : 'mariadb-dump | mariadb';
    lines.push(
      `  ${`${s.label} (${s.rows.toLocaleString('en-US')} rows)`.padEnd(38)} ${`${s.shardworkerSeconds} s`.padStart(10)}   ${`${anchor} ${s.anchorSeconds} s`.padEnd(33)} ${`${s.ratio}x`.padStart(6)}  >= ${s.target}  ${s.peakRssMb} MB`,
    );
  }
  if (r.diff) {
    const x = r.diff;
    lines.push(
      `  ${'SplitDiff of the split set (2 shards)'.padEnd(38)} ${`${x.splitDiffSeconds} s`.padStart(10)}   ${`both sides read once ${x.scanSeconds} s`.padEnd(33)} ${`${x.ratio}x`.padStart(6)}  >= ${x.target}  ${x.peakRssMb} MB`,
    );
  }
  return lines.join('\n');
}
