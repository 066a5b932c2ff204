// The streams table on /status: one row per stream, formatted. Pure; the page's first render and its script
// (through GET /api/status/view) both place these rows as they are.

import type { StreamSnapshot } from '../stream/status.ts';
import { UNKNOWN, formatCount, formatDuration, formatRate } from './format.ts';

/** One line of the streams table. */
export interface StreamRow {
  /** `destination source`: the row's `data-stream`, by which the script finds it again. */
  key: string;
  destination: string;
  source: string;
  sourceTablet: string;
  state: string;
  stateClass: string;
  /** `held by SplitDiff job …` while a diff holds the stream stopped, else empty. */
  held: string;
  /** The daemon holding the stream's lock: `pid P on H`, `(this daemon)` after it when it is this one. */
  owner: string;
  position: string;
  behind: string;
  transactions: string;
  rows: string;
  rate: string;
  lastError: string;
}

/** The row the page's `<template>` holds, filled in by its script. */
export const EMPTY_STREAM_ROW: StreamRow = {
  key: '',
  destination: '',
  source: '',
  sourceTablet: '',
  state: '',
  stateClass: '',
  held: '',
  owner: '',
  position: '',
  behind: '',
  transactions: '',
  rows: '',
  rate: '',
  lastError: '',
};

export function streamRows(streams: readonly StreamSnapshot[]): StreamRow[] {
  return streams.map((s) => {
    const destination = `${s.keyspace}/${s.shard}`;
    return {
      key: `${destination} ${s.source}`,
      destination,
      source: s.source,
      sourceTablet: s.sourceTablet ?? UNKNOWN,
      state: s.state,
      stateClass: `state-${s.state}`,
      held: s.heldBy ? `held by ${s.heldBy}` : '',
      owner: describeStreamOwner(s),
      position: s.position ?? UNKNOWN,
      behind: formatDuration(s.secondsBehind),
      transactions: formatCount(s.transactionsApplied),
      rows: formatCount(s.rowsApplied),
      rate: formatRate(s.rowsPerSecond),
      lastError: s.lastError ?? '',
    };
  });
}

export function describeStreamOwner(s: StreamSnapshot): string {
  if (!s.owner) return UNKNOWN;
  return `pid ${s.owner.pid} on ${s.owner.host}${s.owner.here ? ' (this daemon)' : ''}`;
}
