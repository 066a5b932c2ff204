// The status as `run` prints it every second: state, then one line per table (or, for many tables, those at work
// and a count of the rest), then totals.

import { formatCount, formatDuration, formatPercent, formatRate, progressFraction } from '../http/format.ts';
import { snapshotText } from '../http/view-models.ts';
import type { StatusSnapshot, TableState, TableStatus, Totals } from '../worker/status.ts';

/** Up to this many tables, `run` lists every one. */
export const LIST_ALL_TABLES = 50;
/** Beyond that, tables in these states are counted, not listed (a copy creates every table before it copies). */
const COUNTED: ReadonlySet<TableState> = new Set(['waiting', 'creating', 'done']);

function percent(copied: number, estimated: number, done: boolean): string {
  return formatPercent(progressFraction(copied, estimated, done));
}

function line(
  name: string,
  state: string,
  t: Pick<TableStatus | Totals, 'rowsCopied' | 'rowsEstimated' | 'rowsPerSecond' | 'etaSeconds'>,
  done: boolean,
): string {
  const rows = `${formatCount(t.rowsCopied)}/${formatCount(t.rowsEstimated)}`;
  return `  ${name.padEnd(24)} ${state.padEnd(9)} ${rows.padStart(23)} ${percent(t.rowsCopied, t.rowsEstimated, done).padStart(6)}  ${formatRate(t.rowsPerSecond).padStart(12)}  ETA ${formatDuration(t.etaSeconds)}`;
}

export function statusText(s: StatusSnapshot): string {
  const head = s.job ? `${s.job.command} ${s.job.keyspace}/${s.job.shard}: ${s.state}` : s.state;
  const out = [head];
  if (s.sources.length) out.push(`  sources: ${s.sources.join(', ')}  destinations: ${s.destinations.join(', ')}`);
  const c = s.control;
  if (c?.paused) out.push(`  paused since ${c.pausedSince} (shardworker ctl resume)`);
  else if (c?.throttled) out.push(`  throttled since ${c.throttledSince}: ${c.throttleReason}`);
  if (c && c.throttledSecondsTotal > 0) out.push(`  throttled ${c.throttledSecondsTotal.toFixed(1)} s in all`);
  // Every table while they fit a screen; beyond that the ones at work (or with something to say) and a count of
  // the rest by state: 2,000 tables printed every second were 3 MB of output and a tenth of the worker's CPU.
  const listAll = s.tables.length <= LIST_ALL_TABLES;
  const quiet = new Map<string, number>();
  for (const t of s.tables) {
    if (!listAll && COUNTED.has(t.state) && !t.note && !t.diff) {
      quiet.set(t.state, (quiet.get(t.state) ?? 0) + 1);
      continue;
    }
    out.push(line(t.kind === 'view' ? `${t.name} (view)` : t.name, t.state, t, t.state === 'done'));
    if (t.note) out.push(`    note: ${t.note}`);
    if (t.diff) out.push(`    diff: ${t.diff.summary}`);
  }
  if (quiet.size) out.push(`  … and ${[...quiet].map(([state, n]) => `${formatCount(n)} ${state}`).join(', ')}`);
  if (s.tables.length) out.push(line('total', '', s.totals, s.state === 'done'));
  for (const step of s.cutover?.steps ?? [])
    out.push(`  ${step.state.padEnd(8)} ${step.name}${step.ms === null ? '' : ` (${step.ms} ms)`}${step.detail ? `: ${step.detail}` : ''}`);
  if (s.cutover?.writePauseMs != null) out.push(`  write pause: ${s.cutover.writePauseMs} ms`);
  if (s.snapshot) out.push(`  snapshot: ${snapshotText(s)}`);
  if (s.error) out.push(`  error: ${s.error}`);
  return out.join('\n');
}
