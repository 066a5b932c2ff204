// Contender (a): `shardworker run SplitClone` as a child process, so that its peak RSS is its own. While it runs
// the bench polls its /api/status and, independently, the rows the destinations have inserted, to check that the
// rate the status page shows is the rate that happens.

import { spawn } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { AdminConnection as Connection } from '../../src/mysql/admin-connection.ts';
import { connect } from '../../src/sandbox/index.ts';
import type { StatusSnapshot } from '../../src/worker/status.ts';
import { KEYSPACE, writeFreshTopology, type BenchCluster } from '../cluster.ts';
import type { Dataset } from '../dataset.ts';

const BIN = path.resolve(import.meta.dirname, '../../bin/shardworker.js');
const TIME = '/usr/bin/time';
// Every poll costs CPU on the cores the copy runs on (at 250 ms the bench itself used 0.17 CPU-s over a 5 s copy,
// and the worker answers each request); twice a second still gives the page check and the RSS curve samples.
const POLL_MS = 500;

interface Sample {
  /** ms since spawn */
  t: number;
  state: string;
  rowsCopied: number;
  rowsPerSecond: number;
  /** Handler_write summed over the destinations: rows counted by the servers, not by the worker. */
  inserted: number;
}

export interface PageCheck {
  /** The compared window: from the page's first rate sample to the compared one, in seconds. */
  at: number;
  pageRowsPerSecond: number;
  serverRowsPerSecond: number;
  pagePerTable: Record<string, number>;
}

export interface ShardworkerResult {
  /** The job's own time, initializing → done (connecting, schema, copy, indexes, checkpoint, cleanup). */
  seconds: number;
  /** The process from spawn to exit: the job plus Node/tsx start-up and shutdown (about a second here). */
  wallSeconds: number;
  /** The worker's CPU seconds over the job alone (its start-up excluded), as it reports them. */
  jobCpuSeconds: number;
  peakRssMb: number;
  rssMb: RssCurve | null;
  page: PageCheck | null;
}

/** One connection per destination for the whole run: connecting at every poll would load the servers it times. */
async function rowsInserted(conns: Connection[]): Promise<number> {
  const counts = await Promise.all(
    conns.map(async (conn) => {
      const [rows] = await conn.query("SHOW GLOBAL STATUS LIKE 'Handler_write'");
      return Number((rows as { Value: string }[])[0].Value);
    }),
  );
  return counts.reduce((a, b) => a + b, 0);
}

/** A /proc/<pid>/status figure (VmHWM, VmRSS) of a live process, in KiB (0 once it is gone). */
async function procKb(pid: number, field: 'VmHWM' | 'VmRSS'): Promise<number> {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(await fsp.readFile(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** The worker's own pid: the child itself, or the one process GNU time runs. */
async function workerPid(child: number, underTime: boolean): Promise<number | undefined> {
  if (!underTime) return child;
  try {
    const pid = Number((await fsp.readFile(`/proc/${child}/task/${child}/children`, 'utf8')).trim().split(/\s+/)[0]);
    return pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** RSS when a quarter, half, three quarters and all of the rows were copied: flat if memory does not grow. */
export interface RssCurve {
  at25: number;
  at50: number;
  at75: number;
  at100: number;
}

/** `onUrl`: called once with the job's status URL base (`http://127.0.0.1:PORT`), as soon as it listens. */
export async function runShardworker(c: BenchCluster, d: Dataset, extraFlags: string[], onUrl?: (url: string) => void): Promise<ShardworkerResult> {
  await writeFreshTopology(c, d.db);
  // No tuning flags: the bench measures the defaults a user gets. `--sw` adds flags only when asked.
  const flags = [...extraFlags];
  const rssFile = path.join(await fsp.mkdtemp(path.join(os.tmpdir(), 'sw-bench-')), 'rss');
  // Run through its shebang, as `npx shardworker` does (which sets the Node flags it wants).
  const args = [
    '--topo',
    `file:${c.topologyFile}`,
    '--db-credentials-file',
    c.credentialsFile,
    '--port',
    '0',
    '--log-level',
    'warn',
    'run',
    'SplitClone',
    ...flags,
    `${KEYSPACE}/0`,
  ];
  // GNU time reports the exact peak RSS of the process it ran; without it, poll VmHWM.
  const useTime = existsSync(TIME);
  const counters = await Promise.all(c.dests.map((d) => connect(d.endpoint)));
  const started = performance.now();
  const child = useTime
    ? spawn(TIME, ['-f', '%M', '-o', rssFile, BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    : spawn(BIN, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  let url: string | undefined;
  child.stdout.on('data', (b: Buffer) => {
    stdout = (stdout + b.toString()).slice(-20_000);
    if (url === undefined) {
      url = /status page: (\S+)\/status/.exec(stdout)?.[1];
      if (url !== undefined) onUrl?.(url);
    }
  });
  child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-8000)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));

  const samples: Sample[] = [];
  const perTable = new Map<number, Record<string, number>>();
  const rss: { rows: number; kb: number }[] = [];
  let hwm = 0;
  let pid: number | undefined;
  let running = true;
  const poller = (async () => {
    while (running) {
      await new Promise((r) => setTimeout(r, POLL_MS));
      pid ??= child.pid === undefined ? undefined : await workerPid(child.pid, useTime);
      if (!useTime && pid) hwm = Math.max(hwm, await procKb(pid, 'VmHWM'));
      if (!url || !running) continue;
      try {
        const [status, inserted] = await Promise.all([fetch(`${url}/api/status`).then((r) => r.json() as Promise<StatusSnapshot>), rowsInserted(counters)]);
        if (pid) rss.push({ rows: status.totals.rowsCopied, kb: await procKb(pid, 'VmRSS') });
        samples.push({
          t: performance.now() - started,
          state: status.state,
          rowsCopied: status.totals.rowsCopied,
          rowsPerSecond: status.totals.rowsPerSecond,
          inserted,
        });
        perTable.set(samples.length - 1, Object.fromEntries(status.tables.map((t) => [t.name, t.rowsPerSecond])));
      } catch {
        // not listening yet, or the process is ending: its server is gone
      }
    }
  })();
  const code = await exited;
  const wallSeconds = (performance.now() - started) / 1000;
  running = false;
  await poller;
  await Promise.all(counters.map((conn) => conn.end()));
  if (code !== 0) throw new Error(`shardworker exited ${code}:\n${stderr}\n${stdout.slice(-3000)}`);
  const done = /done: \d+ rows copied in ([\d.]+)s \(worker CPU ([\d.]+) s\)/.exec(stdout);
  const seconds = Number(done?.[1] ?? NaN);
  const jobCpuSeconds = Number(done?.[2] ?? NaN);
  if (!(seconds > 0)) throw new Error(`shardworker did not report its time:\n${stdout.slice(-2000)}`);
  const peakKb = useTime ? Number((await fsp.readFile(rssFile, 'utf8')).trim().split('\n').pop()) : hwm;
  await fsp.rm(path.dirname(rssFile), { recursive: true, force: true });
  return { seconds, wallSeconds, jobCpuSeconds, peakRssMb: peakKb / 1024, rssMb: rssCurve(rss), page: comparePage(samples, perTable) };
}

function rssCurve(samples: { rows: number; kb: number }[]): RssCurve | null {
  const total = samples.reduce((m, s) => Math.max(m, s.rows), 0);
  if (total === 0) return null;
  const at = (f: number) => Math.round((samples.find((s) => s.rows >= total * f && s.kb > 0)?.kb ?? 0) / 1024);
  return { at25: at(0.25), at50: at(0.5), at75: at(0.75), at100: at(1) };
}

/**
 * The page's overall rate against the servers' own count over the same window (the page's: since its first
 * status request, at most 30 s), at the sample nearest three quarters of the copy: steady, and before tables
 * finish.
 */
function comparePage(samples: Sample[], perTable: Map<number, Record<string, number>>): PageCheck | null {
  const begin = samples.findIndex((s) => s.state === 'copying the data');
  if (begin < 0) return null;
  const copying = samples.slice(begin).filter((s) => s.state === 'copying the data');
  if (copying.length < 3) return null;
  const lastRows = copying[copying.length - 1].rowsCopied;
  const pick = copying.find((s) => s.rowsCopied >= lastRows * 0.75) ?? copying[copying.length - 1];
  // Where the page's window starts: its rate meter's first sample is the first status request (this bench's first
  // poll), and it keeps one sample at or before 30 s ago. So: the last sample 30 s or more before the pick, else
  // the first.
  const before = samples.slice(0, samples.indexOf(pick));
  const from = [...before].reverse().find((s) => pick.t - s.t >= 30_000) ?? before[0];
  if (!from) return null;
  const span = (pick.t - from.t) / 1000;
  if (span <= 0) return null;
  return {
    at: Math.round(span * 10) / 10,
    pageRowsPerSecond: pick.rowsPerSecond,
    serverRowsPerSecond: Math.round((pick.inserted - from.inserted) / span),
    pagePerTable: perTable.get(samples.indexOf(pick)) ?? {},
  };
}
