// Turns the timed runs into the figures the bench prints and saves: rows/s per contender, the ratios, peak RSS.

import type { ContenderName } from './args.ts';
import type { PageCheck, RssCurve } from './contenders/shardworker.ts';
import type { CpuSeconds } from './cpu.ts';

export interface RunRecord {
  round: number;
  contender: ContenderName;
  seconds: number;
  rowsPerSecond: number;
  detail: Record<string, unknown>;
}

export interface Summary {
  /** Median over the rounds, per contender. */
  rowsPerSecond: Partial<Record<ContenderName, number>>;
  seconds: Partial<Record<ContenderName, number>>;
  /** Median CPU seconds per contender, by part: where each one's time goes on the shared cores. */
  cpu: Partial<Record<ContenderName, CpuSeconds>>;
  /**
   * shardworker / dump and shardworker / load: the median of the per-round ratios (each measured side by side,
   * minutes apart at most, so the machine's drift between rounds cancels out), the per-round ratios themselves,
   * and the ratios of the per-contender medians.
   */
  ratios: { vsDump?: number; vsLoad?: number; vsDumpByRound: number[]; vsLoadByRound: number[]; vsDumpOfMedians?: number; vsLoadOfMedians?: number };
  /** shardworker timed as a process (start-up included): rows/s and the same ratios. */
  wall?: { rowsPerSecond: number; seconds: number; vsDump?: number; vsLoad?: number };
  peakRssMb?: number;
  /** The worker's CPU seconds over the job (start-up excluded), median. */
  jobCpuSeconds?: number;
  /** The last shardworker run's RSS as the copy went on. */
  rssMb?: RssCurve | null;
  page?: PageCheck | null;
}

/** The middle value (the mean of the two middle ones for an even count). */
export const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const round2 = (x: number): number => Math.round(x * 100) / 100;

export function summarize(runs: RunRecord[]): Summary {
  const names = [...new Set(runs.map((r) => r.contender))];
  const out: Summary = { rowsPerSecond: {}, seconds: {}, cpu: {}, ratios: { vsDumpByRound: [], vsLoadByRound: [] } };
  for (const n of names) {
    const mine = runs.filter((r) => r.contender === n);
    out.rowsPerSecond[n] = Math.round(median(mine.map((r) => r.rowsPerSecond)));
    out.seconds[n] = round2(median(mine.map((r) => r.seconds)));
    const cpus = mine.map((r) => r.detail.cpu as CpuSeconds | undefined).filter((x): x is CpuSeconds => x !== undefined);
    if (cpus.length) {
      out.cpu[n] = {
        source: round2(median(cpus.map((x) => x.source))),
        destinations: round2(median(cpus.map((x) => x.destinations))),
        client: round2(median(cpus.map((x) => x.client))),
      };
    }
  }
  const sw = out.rowsPerSecond.shardworker;
  if (sw && out.rowsPerSecond.dump) out.ratios.vsDumpOfMedians = round2(sw / out.rowsPerSecond.dump);
  if (sw && out.rowsPerSecond.load) out.ratios.vsLoadOfMedians = round2(sw / out.rowsPerSecond.load);
  for (const round of new Set(runs.map((r) => r.round))) {
    const rate = (n: ContenderName) => runs.find((r) => r.round === round && r.contender === n)?.rowsPerSecond;
    const a = rate('shardworker');
    const b = rate('dump');
    const c = rate('load');
    if (a && b) out.ratios.vsDumpByRound.push(round2(a / b));
    if (a && c) out.ratios.vsLoadByRound.push(round2(a / c));
  }
  if (out.ratios.vsDumpByRound.length) out.ratios.vsDump = round2(median(out.ratios.vsDumpByRound));
  if (out.ratios.vsLoadByRound.length) out.ratios.vsLoad = round2(median(out.ratios.vsLoadByRound));
  const swRuns = runs.filter((r) => r.contender === 'shardworker');
  if (swRuns.length) {
    const wallSeconds = median(swRuns.map((r) => Number(r.detail.wallSeconds)));
    const rows = swRuns[0].rowsPerSecond * swRuns[0].seconds;
    const wallRate = rows / wallSeconds;
    out.wall = {
      rowsPerSecond: Math.round(wallRate),
      seconds: round2(wallSeconds),
      ...(out.rowsPerSecond.dump ? { vsDump: round2(wallRate / out.rowsPerSecond.dump) } : {}),
      ...(out.rowsPerSecond.load ? { vsLoad: round2(wallRate / out.rowsPerSecond.load) } : {}),
    };
    out.jobCpuSeconds = round2(median(swRuns.map((r) => Number(r.detail.jobCpuSeconds))));
    out.peakRssMb = Math.round(Math.max(...swRuns.map((r) => Number(r.detail.peakRssMb))));
    out.page = swRuns[swRuns.length - 1].detail.page as PageCheck | null;
    out.rssMb = swRuns[swRuns.length - 1].detail.rssMb as RssCurve | null;
  }
  return out;
}

const fmt = (n: number | undefined): string => (n === undefined ? '-' : Math.round(n).toLocaleString('en-US'));

export function summaryText(s: Summary): string {
  const lines = [
    `  (a) shardworker SplitClone        ${fmt(s.rowsPerSecond.shardworker).padStart(10)} rows/s  (${s.seconds.shardworker ?? '-'} s, the job's own time)`,
    `  (b) mariadb-dump --where | mariadb ${fmt(s.rowsPerSecond.dump).padStart(10)} rows/s  (${s.seconds.dump ?? '-'} s)`,
    `  (c) LOAD DATA + ADD INDEX (limit)  ${fmt(s.rowsPerSecond.load).padStart(10)} rows/s  (${s.seconds.load ?? '-'} s)`,
    `  shardworker / (b): ${s.ratios.vsDump ?? '-'} (median of the rounds ${s.ratios.vsDumpByRound.join(', ') || '-'}; ratio of the medians ${s.ratios.vsDumpOfMedians ?? '-'})   target >= 1.8`,
    `  shardworker / (c): ${s.ratios.vsLoad ?? '-'} (median of the rounds ${s.ratios.vsLoadByRound.join(', ') || '-'}; ratio of the medians ${s.ratios.vsLoadOfMedians ?? '-'})   target >= 0.85`,
  ];
  const names: [ContenderName, string][] = [
    ['shardworker', '(a)'],
    ['dump', '(b)'],
    ['load', '(c)'],
  ];
  for (const [n, label] of names) {
    const c = s.cpu[n];
    if (!c) continue;
    const client =
      n === 'shardworker'
        ? `worker ${c.client} (${s.jobCpuSeconds ?? '-'} in the job, the rest Node start-up)`
        : n === 'dump'
          ? `mariadb-dump and mariadb ${c.client}`
          : `client ${c.client}`;
    lines.push(`  ${label} CPU seconds: source ${c.source} + destinations ${c.destinations} + ${client} = ${round2(c.source + c.destinations + c.client)}`);
  }
  const a = s.cpu.shardworker;
  const c = s.cpu.load;
  if (a && c && s.seconds.load) {
    // The cores (c) kept busy, and the time (a) would need at that rate for its servers' work alone.
    const cores = (c.source + c.destinations + c.client) / s.seconds.load;
    const floor = (a.source + a.destinations) / cores;
    const vsDump = s.seconds.dump ? `, ${round2(s.seconds.dump / floor)} × (b)` : '';
    lines.push(
      `  with a worker that used no CPU at all, (a)'s servers alone would need about ${round2(floor)} s here: at best ${round2(s.seconds.load / floor)} × (c)${vsDump}`,
    );
  }
  if (s.wall)
    lines.push(
      `  (a) timed as a process, Node start-up included: ${fmt(s.wall.rowsPerSecond)} rows/s (${s.wall.seconds} s): / (b) ${s.wall.vsDump ?? '-'}, / (c) ${s.wall.vsLoad ?? '-'}`,
    );
  if (s.peakRssMb !== undefined) lines.push(`  shardworker peak RSS: ${s.peakRssMb} MB (target < 200)`);
  if (s.rssMb) lines.push(`  shardworker RSS at 25/50/75/100% of the rows: ${s.rssMb.at25} / ${s.rssMb.at50} / ${s.rssMb.at75} / ${s.rssMb.at100} MB`);
  if (s.page) {
    lines.push(
      `  status page rate ${fmt(s.page.pageRowsPerSecond)} rows/s vs destinations' own count ${fmt(s.page.serverRowsPerSecond)} rows/s over the same ${s.page.at} s (the page's window)`,
    );
  }
  return lines.join('\n');
}
