// What the pages show, computed from a status snapshot and the topology: plain data the templates print as is.
// The status page's view (StatusView) is also what GET /api/status/view sends its script, which only places it: every
// text on that page is formatted here, once. Pure: no Fastify, no I/O.

import { isRequired, optionsFor, type OptionDef } from '../worker/options.ts';
import {
  COMMANDS,
  ENDED_STATES,
  type CommandName,
  type DiffExampleStatus,
  type StatusSnapshot,
  type TableDiffStatus,
  type TableStatus,
} from '../worker/status.ts';
import type { StreamSnapshot } from '../stream/status.ts';
import type { Topology } from '../topology/types.ts';
import { cutoverView, type CutoverView } from './cutover-view.ts';
import { streamRows, type StreamRow } from './stream-view.ts';
import { UNKNOWN, formatCount, formatDuration, formatPercent, formatRate, formatSize, formatTime, progressFraction } from './format.ts';

/** Prefix of the option fields' names in the index forms: `opt.chunkCount`. */
export const OPTION_FIELD_PREFIX = 'opt.';

const COMMAND_HELP: Record<CommandName, string> = {
  SplitClone: 'Copies every table (or those tables selects) of a serving source shard into the destination shards that split its key range.',
  VerticalSplitClone: 'Copies the given tables into a keyspace that is servedFrom another, from that keyspace.',
  SplitDiff: 'Proves a destination shard holds exactly the source rows of its key range, in the tables its clone copied.',
  VerticalSplitDiff: 'Proves the tables moved into a servedFrom keyspace (those on record in its sourceShards) are identical to the source.',
  MigrateServedTypes:
    "Cutover: moves serving of rdonly, replica, then primary from a split source shard to its destinations, or a vertical split's moved tables to its destination keyspace (or back, reverse). Primary stops the source writes (a vertical split: to the moved tables only), drains the streams, flips the topology and starts the reverse streams; it needs the streams of `shardworker serve`.",
};

const TARGET_LABEL: Record<CommandName, string> = {
  SplitClone: 'source shard (serving)',
  VerticalSplitClone: 'destination shard (keyspace servedFrom another)',
  SplitDiff: 'destination shard (not serving)',
  VerticalSplitDiff: 'destination shard (keyspace servedFrom another)',
  MigrateServedTypes: 'source shard of the split (vertical: the destination shard)',
};

/**
 * The `keyspace/shard` choices offered for a command: SplitClone reads a serving shard, SplitDiff checks a
 * non-serving shard of a sharded keyspace, the vertical commands act on the shards of keyspaces with servedFrom.
 */
export function targetsFor(command: CommandName, topology: Topology): string[] {
  const out: string[] = [];
  for (const [ksName, ks] of Object.entries(topology.keyspaces ?? {})) {
    for (const [shardName, shard] of Object.entries(ks.shards ?? {})) {
      const serving = (shard?.servedTypes ?? []).length > 0;
      const vertical = ks.servedFrom !== undefined;
      const fits =
        // The shards of a split, forward or back: a horizontal split's (the one to name is its source), a vertical
        // split's destination (fed by its source keyspace, or, after the primary moved, feeding it).
        command === 'MigrateServedTypes'
          ? vertical
            ? feeds(topology, ks.servedFrom?.keyspace ?? '', ksName, shardName)
            : feeds(topology, ksName, ksName, shardName)
          : command === 'SplitClone'
            ? serving && !vertical
            : command === 'SplitDiff'
              ? !serving && !vertical
              : vertical;
      if (fits) out.push(`${ksName}/${shardName}`);
    }
  }
  return out.sort();
}

/**
 * Whether `keyspace/shard` and a shard of `other` list each other in sourceShards (either way round); for a keyspace
 * with itself, whether the shard is part of a split recorded there.
 */
function feeds(topology: Topology, other: string, keyspace: string, shard: string): boolean {
  const own = topology.keyspaces?.[keyspace]?.shards?.[shard]?.sourceShards ?? [];
  if (own.some((s) => s.keyspace === other)) return true;
  return Object.values(topology.keyspaces?.[other]?.shards ?? {}).some((o) =>
    (o?.sourceShards ?? []).some((s) => s.keyspace === keyspace && s.shard === shard),
  );
}

export interface OptionField {
  name: string;
  inputName: string;
  label: string;
  inputType: 'number' | 'text' | 'checkbox' | 'select';
  value: string;
  /** For a select: the values offered (with an empty one first when the value is none of them). */
  choices: string[];
  checked: boolean;
  min?: number;
  max?: number;
  required: boolean;
  placeholder: string;
  help: string;
  invalid: boolean;
}

export interface CommandForm {
  command: CommandName;
  id: string;
  help: string;
  targetLabel: string;
  targets: Array<{ value: string; selected: boolean }>;
  options: OptionField[];
  /** Open the options: the command has a required one, or the form failed. */
  openOptions: boolean;
  error: string | null;
  /** The error is about the keyspace/shard picked. */
  targetInvalid: boolean;
}

/** What the user posted, given back to the form that failed. */
export interface Submission {
  command: string;
  target: string;
  /** Option fields by option name, as typed. */
  values: Record<string, string>;
  error: string;
  field: string | null;
}

/** An option's default as its form field shows it. */
export function optionDefaultText(def: OptionDef): string {
  const d = def.default;
  if (Array.isArray(d)) return d.join(', ');
  if (def.kind === 'size' && typeof d === 'number') return formatSize(d);
  if (def.kind === 'duration' && typeof d === 'number') return `${d / 1000}s`;
  return d === undefined || d === null ? '' : String(d);
}

function labelOf(name: string): string {
  return name.replace(/[A-Z]/g, (c) => ' ' + c.toLowerCase());
}

function optionField(def: OptionDef, command: CommandName, submission: Submission | null): OptionField {
  const typed = submission?.values[def.name];
  const value = typed !== undefined ? typed : optionDefaultText(def);
  return {
    name: def.name,
    inputName: OPTION_FIELD_PREFIX + def.name,
    label: labelOf(def.name),
    inputType: def.choices ? 'select' : def.kind === 'integer' ? 'number' : def.kind === 'boolean' ? 'checkbox' : 'text',
    value,
    choices: def.choices ? [...(def.choices.includes(value) ? [] : ['']), ...def.choices] : [],
    checked: def.kind === 'boolean' && (typed !== undefined ? typed === 'true' : def.default === true),
    min: def.kind === 'integer' ? def.min : undefined,
    max: def.kind === 'integer' && def.max !== undefined && def.max < Number.MAX_SAFE_INTEGER ? def.max : undefined,
    required: isRequired(def, command),
    placeholder:
      def.kind === 'list'
        ? 'table1, /regexp/'
        : def.kind === 'size'
          ? 'bytes, or 64KiB, 1MiB'
          : def.kind === 'duration'
            ? '10s, 500ms, 2m'
            : def.choices
              ? def.choices.join(' | ')
              : '',
    help: def.help,
    invalid: submission?.field === def.name,
  };
}

export interface JobSummary {
  state: string;
  stateClass: string;
  running: boolean;
  ended: boolean;
  command: string | null;
  target: string | null;
  percent: string;
  /** `copied`, or `read` for a diff job. */
  progressVerb: string;
  eta: string;
  error: string | null;
}

function stateClass(state: string): string {
  return 'state-' + state.replace(/[^a-z]+/g, '-');
}

function summary(s: StatusSnapshot): JobSummary {
  const ended = ENDED_STATES.has(s.state);
  const allDone = s.state === 'done';
  return {
    state: s.state,
    stateClass: stateClass(s.state),
    running: !ended && s.state !== 'not started',
    ended,
    command: s.job?.command ?? null,
    target: s.job ? `${s.job.keyspace}/${s.job.shard}` : null,
    percent: formatPercent(progressFraction(s.totals.rowsCopied, s.totals.rowsEstimated, allDone)),
    progressVerb: isDiffCommand(s.job?.command) ? 'read' : 'copied',
    eta: formatDuration(s.totals.etaSeconds),
    error: s.error,
  };
}

export interface IndexView {
  title: string;
  job: JobSummary;
  forms: CommandForm[];
  topologyError: string | null;
  error: string | null;
}

/** The index: the current job at a glance and one form per command. */
export function indexView(snapshot: StatusSnapshot, topology: Topology | null, topologyError: string | null, submission: Submission | null = null): IndexView {
  const forms = COMMANDS.map((command): CommandForm => {
    const mine = submission?.command === command ? submission : null;
    const targets = topology ? targetsFor(command, topology) : [];
    return {
      command,
      id: `form-${command}`,
      help: COMMAND_HELP[command],
      targetLabel: TARGET_LABEL[command],
      targets: targets.map((t) => ({ value: t, selected: mine?.target === t })),
      options: optionsFor(command).map((def) => optionField(def, command, mine)),
      openOptions: mine !== null || optionsFor(command).some((d) => isRequired(d, command)),
      error: mine?.error ?? null,
      targetInvalid: mine !== null && ['target', 'keyspace', 'shard'].includes(mine.field ?? ''),
    };
  });
  // An error about one command's form shows in that form; only one that fits no form shows on top.
  const orphan = submission !== null && !(COMMANDS as readonly string[]).includes(submission.command);
  return { title: 'shardworker', job: summary(snapshot), forms, topologyError, error: orphan ? submission.error : null };
}

export interface TableRow {
  name: string;
  kind: string;
  state: string;
  stateClass: string;
  /** Bar width in percent, 0..100. */
  width: number;
  percent: string;
  /** The bar's accessible name: `progress of customer`. */
  progressLabel: string;
  /** `copied / estimated` (`read / estimated` for a diff): `420,000 / 1,000,000`. */
  rows: string;
  chunks: string;
  rate: string;
  eta: string;
  /** The table's note ('' for none): a muted line under its name. */
  note: string;
  /** What the diff found so far, on a line of its own under the row; null before the table's diff started. */
  diff: DiffView | null;
}

/** The kinds of difference a diff counts, in the order the page lists them. */
export const DIFF_KINDS = [
  { kind: 'mismatched', label: 'mismatched' },
  { kind: 'extraOnSource', label: 'extra on source' },
  { kind: 'extraOnDestination', label: 'extra on destination' },
] as const;

/** How many examples of each kind the page lists (the worker keeps as many). */
export const DIFF_EXAMPLES_SHOWN = 10;

export interface DiffExampleRow {
  key: string;
  /** What follows the key: ` [a, b]` for the columns of a mismatch, ` on zone1-200` for the destination. */
  rest: string;
}

export interface DiffKindView {
  kind: string;
  /** `mismatched: 3` */
  title: string;
  examples: DiffExampleRow[];
  /** `… and 5 more` when the count exceeds the examples listed, else ''. */
  more: string;
}

export interface DiffView {
  /** No mismatched or extra rows (so far). */
  clean: boolean;
  /** `diff-ok` (green) or `diff-bad` (red). */
  cls: string;
  finished: boolean;
  /** `diffing… ` before the summary while the diff runs, else ''. */
  running: string;
  summary: string;
  /** `checked 1,000`, `matching 998`, …, `by primary key`. */
  counts: Array<{ cls: string; text: string }>;
  /** One per kind with a non-zero count. */
  kinds: DiffKindView[];
}

function exampleRow(e: DiffExampleStatus, kind: string): DiffExampleRow {
  const columns = kind === 'mismatched' && e.columns && e.columns.length ? ` [${e.columns.join(', ')}]` : '';
  return { key: e.key, rest: columns + (e.destination ? ` on ${e.destination}` : '') };
}

export function diffView(d: TableDiffStatus): DiffView {
  const clean = d.mismatched + d.extraOnSource + d.extraOnDestination === 0;
  const counts = [
    { cls: 'n-checked', text: `checked ${formatCount(d.processed)}` },
    { cls: 'n-matching', text: `matching ${formatCount(d.matching)}` },
    ...DIFF_KINDS.map(({ kind, label }) => ({ cls: d[kind] > 0 ? 'n-bad' : 'n-none', text: `${label} ${formatCount(d[kind])}` })),
    { cls: 'n-by', text: d.comparedBy === 'full row' ? 'by full row' : 'by primary key' },
  ];
  const kinds = DIFF_KINDS.filter(({ kind }) => d[kind] > 0).map(({ kind, label }): DiffKindView => {
    const examples = (d.examples?.[kind] ?? []).slice(0, DIFF_EXAMPLES_SHOWN).map((e) => exampleRow(e, kind));
    const rest = d[kind] - examples.length;
    return { kind, title: `${label}: ${formatCount(d[kind])}`, examples, more: rest > 0 ? `… and ${formatCount(rest)} more` : '' };
  });
  return { clean, cls: clean ? 'diff-ok' : 'diff-bad', finished: d.finished, running: d.finished ? '' : 'diffing… ', summary: d.summary, counts, kinds };
}

const progressLabel = (name: string) => `progress of ${name}`;
const rowsText = (copied: number, estimated: number) => `${formatCount(copied)} / ${formatCount(estimated)}`;

function tableRow(t: TableStatus): TableRow {
  const view = t.kind === 'view';
  const fraction = progressFraction(t.rowsCopied, t.rowsEstimated, t.state === 'done');
  return {
    name: t.name,
    kind: t.kind,
    state: t.state,
    stateClass: stateClass(t.state),
    width: Math.round(fraction * 1000) / 10,
    percent: formatPercent(fraction),
    progressLabel: progressLabel(t.name),
    rows: view ? `${UNKNOWN} / ${UNKNOWN}` : rowsText(t.rowsCopied, t.rowsEstimated),
    chunks: view ? UNKNOWN : `${formatCount(t.chunksDone)}/${formatCount(t.chunksTotal)}`,
    rate: view ? UNKNOWN : formatRate(t.rowsPerSecond),
    eta: view ? UNKNOWN : formatDuration(t.etaSeconds),
    note: t.note ?? '',
    diff: t.diff ? diffView(t.diff) : null,
  };
}

export interface StatusView {
  title: string;
  job: JobSummary;
  startedAt: string;
  endedAt: string;
  /** The raw start time: the page's script reloads the page when another job started. */
  startedAtIso: string;
  endedAtIso: string;
  /** Up to the end, or to when the view was made while the job runs. */
  elapsed: string;
  /** The rows column's heading: a diff job reads its rows, a clone copies them. */
  rowsHeading: string;
  options: Array<{ name: string; value: string }>;
  /** The tablets, comma-separated, or `—`. */
  sources: string;
  destinations: string;
  /** Transient failures retried: `none`, or the count and where. */
  retries: string;
  /** The shard locks the job holds and the daemon holding them, or `—`. */
  locks: string;
  /** What holds the writes up now (lock waits, a full redo log), one line each. */
  waits: string[];
  /** --snapshot consistent: the snapshot's age and position (see snapshotText), or `—`. */
  snapshot: string;
  tables: TableRow[];
  totals: TableRow;
  /** The recent log lines, one per line. */
  log: string;
  streams: StreamRow[];
  /** A MigrateServedTypes job's steps, pause and positions. */
  cutover: CutoverView | null;
  /** A copy's or diff's pause, throttle and tuning (the Controls card). */
  control: ControlView | null;
  /** Whether the page keeps polling: the job has not ended, or streams run on after it. */
  live: boolean;
}

export interface ControlView {
  /** `writing`, `paused` or `throttled`. */
  writes: string;
  /** One line: since when and why writes are held, or that they are not. */
  why: string;
  /** `12.5 s in all (last: replica …)`. */
  throttledTotal: string;
  pausedTotal: string;
  maxTps: string;
  maxReplicationLag: string;
  replicas: string[];
  /** `none in the topology` when there are no replicas, else ''. */
  noReplicas: string;
  paused: boolean;
  running: boolean;
}

/** The Controls card. */
export function controlView(s: StatusSnapshot): ControlView | null {
  const c = s.control;
  if (!c) return null;
  const since = (iso: string | null) => (iso ? ` since ${formatTime(iso)}` : '');
  const why = c.paused
    ? `paused by an operator${since(c.pausedSince)}; holding ${c.holding ?? 'its tablets'}`
    : c.throttled
      ? `throttled${since(c.throttledSince)}: ${c.throttleReason}`
      : 'not held';
  return {
    writes: c.paused ? 'paused' : c.throttled ? 'throttled' : 'writing',
    why,
    throttledTotal: `${c.throttledSecondsTotal.toFixed(1)} s in all${c.lastThrottleReason ? ` (last: ${c.lastThrottleReason})` : ''}`,
    pausedTotal: `${c.pausedSecondsTotal.toFixed(1)} s in all`,
    maxTps: c.maxTps > 0 ? `${c.maxTps} per destination` : 'unlimited',
    maxReplicationLag: c.maxReplicationLagSeconds > 0 ? `${c.maxReplicationLagSeconds} s` : 'none',
    replicas: c.replicas.map(
      (r) => `${r.tablet} (${r.shard}): ${r.lagSeconds === null ? `unknown${r.error ? ` — ${r.error}` : ''}` : `${r.lagSeconds.toFixed(1)} s behind`}`,
    ),
    noReplicas: c.replicas.length === 0 ? 'none in the topology' : '',
    paused: c.paused,
    running: !ENDED_STATES.has(s.state) && s.state !== 'not started',
  };
}

/** The rows the page's `<template>` holds, for its script to fill in for each table. */
export const EMPTY_ROW: TableRow = {
  name: '',
  kind: '',
  state: '',
  stateClass: '',
  width: 0,
  percent: '',
  progressLabel: '',
  rows: '',
  chunks: '',
  rate: '',
  eta: '',
  note: '',
  diff: null,
};

/** Whether a job reads rows to compare them rather than copying them. */
export function isDiffCommand(command: string | null | undefined): boolean {
  return command === 'SplitDiff' || command === 'VerticalSplitDiff';
}

function optionText(value: unknown): string {
  if (Array.isArray(value)) return value.join(', ');
  if (typeof value === 'object' && value !== null) return JSON.stringify(value);
  return String(value);
}

/** `none`, or `3 (zone1-200: 2, zone1-101: 1)`. */
export function retriesText(s: StatusSnapshot): string {
  const r = s.retries;
  if (!r || r.total === 0) return 'none';
  return `${r.total} (${Object.entries(r.byTablet)
    .map(([t, n]) => `${t}: ${n}`)
    .join(', ')})`;
}

/**
 * `held 1m 5s: zone1-100 at MariaDB/0-1-42 (commits held 4.1 ms)`, `let go after 2m` once the job ended, or `—`
 * (no consistent snapshot).
 */
export function snapshotText(s: StatusSnapshot): string {
  const snap = s.snapshot;
  if (!snap) return UNKNOWN;
  const tablets = snap.tablets.map((t) => `${t.tablet} at ${t.position} (commits held ${t.commitsHeldMs} ms)`).join('; ');
  return `${snap.closedAt ? 'let go after' : 'held'} ${formatDuration(snap.ageSeconds)}: ${tablets}`;
}

const listText = (items: readonly string[]) => (items.length ? items.join(', ') : UNKNOWN);

/**
 * The status page, from one snapshot of the job and the streams; `now` (ms) measures the elapsed time of a running
 * job. Both the page's first render (status.eta) and GET /api/status/view (for its script) are this.
 */
export function statusView(s: StatusSnapshot & { streams: readonly StreamSnapshot[] }, now: number = Date.now()): StatusView {
  const allDone = s.state === 'done';
  const job = summary(s);
  const started = s.startedAt ? Date.parse(s.startedAt) : NaN;
  const ended = s.endedAt ? Date.parse(s.endedAt) : now;
  const totalsFraction = progressFraction(s.totals.rowsCopied, s.totals.rowsEstimated, allDone);
  return {
    title: s.job ? `${s.job.command} ${s.job.keyspace}/${s.job.shard} — shardworker` : 'status — shardworker',
    job,
    startedAt: formatTime(s.startedAt),
    endedAt: formatTime(s.endedAt),
    startedAtIso: s.startedAt ?? '',
    endedAtIso: s.endedAt ?? '',
    elapsed: Number.isNaN(started) ? UNKNOWN : formatDuration((ended - started) / 1000),
    rowsHeading: `${isDiffCommand(s.job?.command) ? 'rows read' : 'rows copied'} / estimated`,
    options: Object.entries(s.job?.options ?? {}).map(([name, value]) => ({ name, value: optionText(value) })),
    sources: listText(s.sources),
    destinations: listText(s.destinations),
    retries: retriesText(s),
    waits: s.waits ?? [],
    snapshot: snapshotText(s),
    locks: s.locks ? `${s.locks.names.join(', ')} (this daemon: pid ${s.locks.holder.pid} on ${s.locks.holder.host})` : '—',
    cutover: s.cutover ? cutoverView(s.cutover) : null,
    control: controlView(s),
    tables: s.tables.map(tableRow),
    totals: {
      name: 'total',
      kind: '',
      state: '',
      stateClass: stateClass(s.state),
      width: Math.round(totalsFraction * 1000) / 10,
      percent: formatPercent(totalsFraction),
      progressLabel: progressLabel('total'),
      rows: rowsText(s.totals.rowsCopied, s.totals.rowsEstimated),
      chunks: `${formatCount(s.tables.reduce((n, t) => n + t.chunksDone, 0))}/${formatCount(s.tables.reduce((n, t) => n + t.chunksTotal, 0))}`,
      rate: formatRate(s.totals.rowsPerSecond),
      eta: formatDuration(s.totals.etaSeconds),
      note: '',
      diff: null,
    },
    log: s.log.join('\n'),
    streams: streamRows(s.streams),
    live: !job.ended || s.streams.length > 0,
  };
}
