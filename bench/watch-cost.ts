// `npm run bench:watch`: what watching costs the work (issue 20). A SplitClone of ROWS rows alone, and the same
// with `rate` status requests a second against its daemon (pages, JSON and metrics in turn, from 20 clients of
// their own address, by bench/watch-load.ts in a process of its own on the same machine, started before the job: its CPU is in the
// measurement), alternated round by round, each copy verified. Reports each run and the ratio of the medians.
//
// usage: npm run bench:watch -- [--rows N] [--rounds N] [--rate N] [--clients N] [--base-port P] [--dir D] [--keep-up]

import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { sandboxDown, withConnection } from '../src/sandbox/index.ts';
import { benchClusterUp } from './cluster.ts';
import { runShardworker } from './contenders/shardworker.ts';
import { dataset, ensureDataset } from './dataset.ts';
import { settle } from './settle.ts';
import { resetDestinations, verifyDestinations } from './verify.ts';
import { median } from './report.ts';

const log = (m: string): void => void process.stderr.write(`[watch ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

function flag(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  if (i < 0) return fallback;
  const n = Number(process.argv[i + 1]);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name}: expected a non-negative integer, got ${JSON.stringify(process.argv[i + 1])}`);
  return n;
}

async function main(): Promise<void> {
  const rows = flag('--rows', 600_000);
  const rounds = flag('--rounds', 3);
  const rate = flag('--rate', 500);
  const clients = flag('--clients', 20);
  const basePort = flag('--base-port', 15600);
  const dirIndex = process.argv.indexOf('--dir');
  const dir = dirIndex >= 0 ? process.argv[dirIndex + 1] : '.sandbox-watch';
  const keepUp = process.argv.includes('--keep-up');
  log(`sandbox in ${dir}, ports ${basePort}-${basePort + 3}`);
  const c = await benchClusterUp({ dir, basePort, bufferPoolMb: 256, logFileMb: 128, durability: 'sandbox' });
  try {
    const d = dataset('split', rows);
    const expected = await ensureDataset(
      c.rdonly,
      d,
      c.dests.map((x) => x.shard),
      c.dir,
      log,
    );
    const once = async (watched: boolean) => {
      await resetDestinations(c, d.db);
      await Promise.all(c.dests.map((x) => withConnection(x.endpoint, (conn) => conn.query('RESET MASTER'))));
      await settle(c);
      let load: ReturnType<typeof spawn> | null = null;
      let out = '';
      if (watched) {
        // Started and ready before the job (its Node and tsx start-up is not watching), given the URL once known.
        load = spawn(process.execPath, ['--import', 'tsx/esm', path.join(import.meta.dirname, 'watch-load.ts'), '-', String(rate), String(clients)], {
          stdio: ['pipe', 'pipe', 'inherit'],
        });
        const child = load;
        await new Promise<void>((resolve, reject) => {
          child.stdout!.on('data', (b: Buffer) => {
            out += b.toString();
            if (out.startsWith('ready\n')) resolve();
          });
          child.on('exit', (code) => reject(new Error(`the watchers exited (${code}) before they were ready`)));
        });
      }
      const result = await runShardworker(c, d, [], (url) => {
        load?.stdin?.write(`${url}\n`);
      });
      let watchers: Record<string, number> | null = null;
      if (load) {
        const child = load as ReturnType<typeof spawn>;
        const ended = new Promise((r) => child.on('exit', r));
        child.kill('SIGTERM');
        await ended;
        watchers = JSON.parse(out.trim().split('\n').pop() ?? '{}') as Record<string, number>;
      }
      await verifyDestinations(c, d, expected);
      return { seconds: result.seconds, wallSeconds: result.wallSeconds, watchers };
    };
    log('warm-up (untimed)');
    await once(false);
    const alone: number[] = [];
    const watched: number[] = [];
    for (let round = 1; round <= rounds; round++) {
      // Alternate which goes first, so neither always follows the other.
      for (const w of round % 2 ? [false, true] : [true, false]) {
        const load = os.loadavg()[0].toFixed(2);
        const r = await once(w);
        (w ? watched : alone).push(r.seconds);
        log(
          `round ${round}/${rounds} ${w ? 'watched' : 'alone  '}: job ${r.seconds.toFixed(2)} s (process ${r.wallSeconds.toFixed(2)} s), load average before ${load}${r.watchers ? `; watchers ${JSON.stringify(r.watchers)}` : ''}`,
        );
      }
    }
    const ratio = median(watched) / median(alone);
    process.stdout.write(
      `\nSplitClone of ${rows.toLocaleString('en-US')} rows, ${rounds} alternated rounds, ${rate} status requests/s from ${clients} clients while watched\n`,
    );
    process.stdout.write(`  alone:   ${alone.map((s) => s.toFixed(2)).join(', ')} s (median ${median(alone).toFixed(2)})\n`);
    process.stdout.write(`  watched: ${watched.map((s) => s.toFixed(2)).join(', ')} s (median ${median(watched).toFixed(2)})\n`);
    process.stdout.write(
      `  watched / alone: ${ratio.toFixed(2)}x (target <= 1.2x); load average now ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(' ')}\n`,
    );
  } finally {
    if (!keepUp) await sandboxDown(c.dir);
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
