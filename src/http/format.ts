// Pure formatting for the pages: durations, percents, row counts, rates. The only formatting of the status page:
// its script places the texts GET /api/status/view sends (view-models.ts) and formats nothing itself.

/** Shown where a figure is unknown (an ETA before 1% is copied, a rate of a view). */
export const UNKNOWN = '—';

const pad2 = (n: number) => String(n).padStart(2, '0');

/**
 * A duration in whole seconds, two units at most: `45s`, `1m 05s`, `2h 03m`, `3d 04h`.
 * Negative durations read `0s`; null, NaN and infinities read `—`.
 */
export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return UNKNOWN;
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${pad2(s % 60)}s`;
  if (s < 86400) return `${Math.floor(s / 3600)}h ${pad2(Math.floor((s % 3600) / 60))}m`;
  return `${Math.floor(s / 86400)}d ${pad2(Math.floor((s % 86400) / 3600))}h`;
}

/** An integer count with thousands separators: `1,234,567`. */
export function formatCount(n: number | null | undefined): string {
  if (n === null || n === undefined || !Number.isFinite(n)) return UNKNOWN;
  const sign = n < 0 ? '-' : '';
  return sign + String(Math.round(Math.abs(n))).replace(/\B(?=(\d{3})+(?!\d))/g, ',');
}

/**
 * The fraction done, from 0 to 1. Something in state `done` is complete whatever the estimate said;
 * otherwise copied / estimated, capped at 1 (0 when nothing is estimated).
 */
export function progressFraction(rowsCopied: number, rowsEstimated: number, done = false): number {
  if (done) return 1;
  if (!(rowsEstimated > 0) || !(rowsCopied > 0)) return 0;
  return Math.min(1, rowsCopied / rowsEstimated);
}

/** A fraction (0..1) as a percent with one decimal: `42.0%`; never above `100.0%` and never rounded up to it. */
export function formatPercent(fraction: number): string {
  if (!Number.isFinite(fraction) || fraction <= 0) return '0.0%';
  if (fraction >= 1) return '100.0%';
  // The epsilon keeps 0.58 (57.99999…% in binary) from reading 57.9%.
  return `${Math.min(99.9, Math.floor(fraction * 1000 + 1e-9) / 10).toFixed(1)}%`;
}

/** Rows per second: `52,000 rows/s`, `3.5 rows/s` below 10, `0 rows/s`. */
export function formatRate(rowsPerSecond: number | null | undefined): string {
  if (rowsPerSecond === null || rowsPerSecond === undefined || !Number.isFinite(rowsPerSecond)) return UNKNOWN;
  if (rowsPerSecond <= 0) return '0 rows/s';
  if (rowsPerSecond < 10) return `${rowsPerSecond.toFixed(1)} rows/s`;
  return `${formatCount(rowsPerSecond)} rows/s`;
}

/** A byte size for a form field: `1MiB`, `512KiB`, or the plain number when it is no whole unit. */
export function formatSize(bytes: number): string {
  const units: Array<[string, number]> = [
    ['GiB', 1024 ** 3],
    ['MiB', 1024 ** 2],
    ['KiB', 1024],
  ];
  for (const [unit, size] of units) {
    if (bytes >= size && bytes % size === 0) return `${bytes / size}${unit}`;
  }
  return String(bytes);
}

/** An ISO timestamp as `2026-11-23 19:00:00 UTC`; `—` for null. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return UNKNOWN;
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return UNKNOWN;
  return `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;
}
