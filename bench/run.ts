// `npm run bench`: shardworker's SplitClone against the everyday dump pipeline and the destinations' ingest limit,
// alternating in one run on the same instances, each result verified before its time counts.

import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { promises as fsp } from 'node:fs';
import { sandboxDown } from '../src/sandbox/index.ts';
import { HelpRequested, USAGE, parseBenchArgs, type BenchArgs, type ContenderName } from './args.ts';
import { benchClusterUp, type BenchCluster } from './cluster.ts';
import { runVerified } from './contend.ts';
import { prepareLoadFiles, type LoadFiles } from './contenders/load.ts';
import { dataset, ensureDataset, totalRows } from './dataset.ts';
import { summarize, summaryText, type RunRecord } from './report.ts';
import { runShapes, shapesText } from './shapes.ts';
import { runStreamBench, streamSummaryText } from './stream.ts';
import { resetDestinations } from './verify.ts';

const log = (m: string): void => {
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);
};

async function main(): Promise<void> {
  let args: ReturnType<typeof parseBenchArgs>;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (err) {
    if (err instanceof HelpRequested) {
      process.stdout.write(USAGE + '\n');
      return;
    }
    throw err;
  }
  const benchStarted = Date.now();
  log(`bringing up the bench sandbox in ${args.dir} (ports ${args.basePort}-${args.basePort + 3}, durability ${args.durability})`);
  const c = await benchClusterUp(args);
  try {
    if (args.mode === 'stream') {
      const result = await runStreamBench(c, args, log);
      const jsonFile = path.resolve(args.json ?? path.join(c.dir, 'bench-stream.json'));
      await fsp.writeFile(
        jsonFile,
        JSON.stringify({ date: new Date().toISOString(), machine: machine(), mode: args.mode, durability: args.durability, ...result }, null, 2) + '\n',
      );
      process.stdout.write(
        `\nshardworker bench, stream mode: catch-up of filtered replication (1→2 split) against MariaDB's replica, durability ${args.durability}\n${streamSummaryText(result)}\n  results in ${jsonFile}\n`,
      );
      return;
    }
    if (args.mode === 'shapes') {
      await shapesMode(args, c, benchStarted);
      return;
    }
    const d = dataset(args.mode, args.rows);
    const rows = totalRows(d);
    const prepStarted = Date.now();
    const expected = await ensureDataset(
      c.rdonly,
      d,
      c.dests.map((x) => x.shard),
      c.dir,
      log,
    );
    let files: LoadFiles | undefined;
    if (args.contenders.includes('load')) {
      log('writing the per-shard files of the ingest-limit load (untimed)');
      files = await prepareLoadFiles(c, d);
    }
    const prepSeconds = (Date.now() - prepStarted) / 1000;

    const runOnce = (contender: ContenderName) => runVerified(c, d, expected, contender, args.shardworkerFlags, files);
    // Untimed: the first run after the instances start pays for touching their buffer pools and for cold caches
    // (measured: twice the destinations' CPU), whichever contender it is.
    for (let w = 1; w <= args.warmup; w++) {
      for (const contender of args.contenders) {
        log(`warm-up ${w}/${args.warmup}: ${contender} (untimed)`);
        const detail = await runOnce(contender);
        log(`  ${contender}: ${detail.seconds.toFixed(2)} s, not counted`);
      }
    }
    const runs: RunRecord[] = [];
    for (let round = 1; round <= args.rounds; round++) {
      // Rotate the order each round, so no contender always runs first (or after the same one).
      const k = (round - 1) % args.contenders.length;
      const order = [...args.contenders.slice(k), ...args.contenders.slice(0, k)];
      for (const contender of order) {
        log(`round ${round}/${args.rounds}: ${contender}`);
        const detail = await runOnce(contender);
        const record: RunRecord = { round, contender, seconds: detail.seconds, rowsPerSecond: rows / detail.seconds, detail };
        runs.push(record);
        log(
          `  ${contender}: ${detail.seconds.toFixed(2)} s, ${Math.round(record.rowsPerSecond).toLocaleString('en-US')} rows/s, verified, CPU-s source ${detail.cpu.source} + destinations ${detail.cpu.destinations} + client ${detail.cpu.client}${'peakRssMb' in detail ? `, peak RSS ${Math.round(Number(detail.peakRssMb))} MB` : ''}`,
        );
      }
    }
    await resetDestinations(c, d.db);

    const summary = summarize(runs);
    const result = {
      date: new Date().toISOString(),
      machine: machine(),
      mode: args.mode,
      durability: args.durability,
      rows,
      tables: Object.fromEntries(d.tables.map((t) => [t.name, t.rows])),
      rounds: args.rounds,
      warmup: args.warmup,
      shardworkerFlags: args.shardworkerFlags,
      summary,
      runs,
      durations: { prepareSeconds: Math.round(prepSeconds), totalSeconds: Math.round((Date.now() - benchStarted) / 1000) },
    };
    const jsonFile = path.resolve(args.json ?? path.join(c.dir, `bench-${args.mode}.json`));
    await fsp.writeFile(jsonFile, JSON.stringify(result, null, 2) + '\n');
    process.stdout.write(`\nshardworker bench, ${args.mode} mode: ${rows.toLocaleString('en-US')} rows, 1→2 split, ${args.rounds} round(s), medians\n`);
    process.stdout.write(summaryText(summary) + '\n');
    process.stdout.write(`  preparation ${result.durations.prepareSeconds} s, whole bench ${result.durations.totalSeconds} s; results in ${jsonFile}\n`);
  } finally {
    if (!args.keepUp) {
      log('stopping the bench sandbox (its data stays for the next run)');
      await sandboxDown(c.dir);
    }
  }
}

async function shapesMode(args: BenchArgs, c: BenchCluster, benchStarted: number): Promise<void> {
  const r = await runShapes(args, c, log);
  const totalSeconds = Math.round((Date.now() - benchStarted) / 1000);
  const result = {
    date: new Date().toISOString(),
    machine: machine(),
    load: os.loadavg().map(round2),
    mode: args.mode,
    durability: args.durability,
    rowsPerShape: args.rows,
    rounds: args.rounds,
    warmup: args.warmup,
    shardworkerFlags: args.shardworkerFlags,
    ...r,
    durations: { totalSeconds },
  };
  const jsonFile = path.resolve(args.json ?? path.join(c.dir, 'bench-shapes.json'));
  await fsp.writeFile(jsonFile, JSON.stringify(result, null, 2) + '\n');
  process.stdout.write(
    `\nshardworker bench, shapes mode: each shape copied 1→2 beside its anchor, ${args.rounds} round(s), medians, durability ${args.durability}; load average ${result.load.join(' ')}\n`,
  );
  process.stdout.write(shapesText(r) + '\n');
  process.stdout.write(`  whole bench ${totalSeconds} s; results in ${jsonFile}\n`);
}

const round2 = (x: number): number => Math.round(x * 100) / 100;

function machine(): Record<string, unknown> {
  let mariadb = '';
  try {
    mariadb = execFileSync('mariadbd', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    try {
      mariadb = execFileSync('/usr/sbin/mariadbd', ['--version'], { encoding: 'utf8' }).trim();
    } catch {
      mariadb = 'unknown';
    }
  }
  return {
    cpus: os.cpus().length,
    cpu: os.cpus()[0]?.model,
    memoryGb: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    mariadb,
    kernel: os.release(),
  };
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
