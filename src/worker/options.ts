// Command options: one table of definitions serves the CLI flags, the HTTP body (camelCase) and the forms.

import { WRITE_METHODS, type WriteMethodChoice } from '../clone/writer.ts';
import type { CommandName } from './status.ts';

export class OptionError extends Error {
  /** The option (camelCase) or field that was wrong. */
  readonly field: string;
  constructor(field: string, message: string) {
    super(message);
    this.name = 'OptionError';
    this.field = field;
  }
}

type Kind = 'integer' | 'size' | 'string' | 'list' | 'boolean' | 'duration';

export interface OptionDef {
  /** camelCase name, as in the HTTP body; the CLI flag is its kebab-case form. */
  name: string;
  kind: Kind;
  default: unknown;
  min?: number;
  max?: number;
  commands: readonly CommandName[];
  /** The commands for which it must be given (a non-empty list). */
  requiredFor?: readonly CommandName[];
  /** For a string: the values allowed. */
  choices?: readonly string[];
  help: string;
}

const CLONES = ['SplitClone', 'VerticalSplitClone'] as const;
const ALL = ['SplitClone', 'VerticalSplitClone', 'SplitDiff', 'VerticalSplitDiff'] as const;
const MIGRATE = ['MigrateServedTypes'] as const;
const MiB = 1024 * 1024;
/** How a clone holds its source still: see the `snapshot` option. */
export const SNAPSHOT_MODES = ['stop-replication', 'consistent'] as const;
export type SnapshotMode = (typeof SNAPSHOT_MODES)[number];

export const OPTION_DEFS: readonly OptionDef[] = [
  {
    name: 'excludeTables',
    kind: 'list',
    default: [],
    commands: ['SplitClone', 'SplitDiff', 'VerticalSplitDiff'],
    help: 'tables to leave out (names or /regexps/), comma-separated',
  },
  {
    name: 'tables',
    kind: 'list',
    default: [],
    commands: ALL,
    requiredFor: ['VerticalSplitClone'],
    help: 'tables (names or /regexps/), comma-separated: VerticalSplitClone moves these; for the others a filter (a diff takes what its clone copied)',
  },
  { name: 'strategy', kind: 'string', default: '-populate_blp_checkpoint', commands: CLONES, help: 'space-separated strategy flags' },
  {
    name: 'sourceReaderCount',
    kind: 'integer',
    default: 8,
    min: 1,
    max: 256,
    commands: ALL,
    help: 'clones: tables read at once per source, each by one reader, its chunks in key order; diffs: at most this many chunks at once',
  },
  {
    name: 'destinationWriterCount',
    kind: 'integer',
    default: 8,
    min: 1,
    max: 256,
    commands: CLONES,
    help: 'connections per destination, shared by the tables being written (the rows of each table go in key order on one of them)',
  },
  {
    name: 'minTableSizeForSplit',
    kind: 'size',
    default: 1 * MiB,
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    commands: ALL,
    help: 'tables smaller than this (bytes) are read as one chunk',
  },
  { name: 'chunkCount', kind: 'integer', default: 1000, min: 1, max: 1_000_000, commands: ALL, help: 'at most this many chunks per table' },
  {
    name: 'minRowsPerChunk',
    kind: 'integer',
    default: 10000,
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    commands: ALL,
    help: 'each chunk holds at least this many estimated rows',
  },
  {
    name: 'writeMethod',
    kind: 'string',
    default: 'auto',
    choices: [...WRITE_METHODS],
    commands: CLONES,
    help: 'how rows are written: auto (bulk on destinations that take it, else load-data), bulk (one prepared INSERT per batch, sent with COM_STMT_BULK_EXECUTE; MariaDB 10.2+; the source is then read through a prepared statement per chunk, numbers and dates in binary), load-data (LOAD DATA LOCAL INFILE from memory; needs local_infile on the destinations) or insert (multi-row INSERTs)',
  },
  { name: 'writeQueryMaxRows', kind: 'integer', default: 100, min: 1, max: 1_000_000, commands: CLONES, help: 'rows per INSERT at most (insert write method)' },
  {
    name: 'writeQueryMaxSize',
    kind: 'size',
    default: 1 * MiB,
    min: 1024,
    max: 1024 * MiB,
    commands: CLONES,
    help: 'bytes per INSERT, bulk or LOAD DATA batch at most (bulk: and half of the destination max_allowed_packet)',
  },
  {
    name: 'maxTps',
    kind: 'integer',
    default: 0,
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    commands: CLONES,
    help: 'write transactions per second per destination at most (0: unlimited)',
  },
  {
    name: 'maxReplicationLag',
    kind: 'duration',
    default: 0,
    min: 0,
    max: 24 * 3_600_000,
    commands: CLONES,
    help: 'hold writes while any replica of a destination shard is further behind than this (0: no bound; sampled every 0.5 s)',
  },
  {
    name: 'sourceTabletType',
    kind: 'string',
    default: 'rdonly',
    choices: ['rdonly', 'replica', 'primary'],
    commands: ALL,
    help: 'type of the source tablet to read from (rdonly, replica; primary too with --snapshot consistent)',
  },
  {
    name: 'snapshot',
    kind: 'string',
    default: 'stop-replication',
    choices: SNAPSHOT_MODES,
    commands: CLONES,
    help: 'how the source is held still while it is read: stop-replication (the source tablet is marked worker and its replication stopped for the copy) or consistent (every reader opens a transaction on one consistent snapshot of a live tablet, commits held back for milliseconds while they do; the tablet keeps serving and is never marked worker; MariaDB only, not with --resume)',
  },
  {
    name: 'parallelDiffsCount',
    kind: 'integer',
    default: 2,
    min: 1,
    max: 256,
    commands: ALL,
    help: 'chunks diffed at once, largest tables first (diffs, and clones with verify): the comparing is one thread, which two chunks keep busy (more only added garbage collection: docs/performance.md)',
  },
  {
    name: 'resume',
    kind: 'boolean',
    default: false,
    commands: CLONES,
    help: 'finish the interrupted copy of the same shards: retake its source tablet, skip its finished chunks, redo the others',
  },
  {
    name: 'verify',
    kind: 'boolean',
    default: false,
    commands: CLONES,
    help: 'diff every table against the source snapshot after the copy, before the source replica restarts',
  },
  {
    name: 'servedType',
    kind: 'string',
    default: '',
    choices: ['rdonly', 'replica', 'primary'],
    commands: MIGRATE,
    requiredFor: MIGRATE,
    help: 'the tablet type whose serving moves: rdonly, replica, then primary (the CLI takes it after keyspace/shard)',
  },
  {
    name: 'reverse',
    kind: 'boolean',
    default: false,
    commands: MIGRATE,
    help: 'move serving back from the destinations to the sources (for primary: the rollback, on the reverse streams)',
  },
  {
    name: 'maxLag',
    kind: 'duration',
    default: 10_000,
    min: 0,
    max: 3_600_000,
    commands: MIGRATE,
    help: 'primary: refused unless every stream is less than this far behind',
  },
  {
    name: 'waitTimeout',
    kind: 'duration',
    default: 30_000,
    min: 100,
    max: 3_600_000,
    commands: [...MIGRATE, 'SplitDiff', 'VerticalSplitDiff'],
    help: 'primary: how long the streams have to reach the stopped sources; past it the sources take writes again and nothing else changes. Diffs (under serve, streams running): how long a stream has to reach the position its source tablet stopped at',
  },
  {
    name: 'skipReverseReplication',
    kind: 'boolean',
    default: false,
    commands: MIGRATE,
    help: 'primary: record the reverse streams but leave them stopped (DontStart)',
  },
];

export interface CommonOptions {
  sourceReaderCount: number;
  minTableSizeForSplit: number;
  chunkCount: number;
  minRowsPerChunk: number;
  sourceTabletType: 'rdonly' | 'replica' | 'primary';
  parallelDiffsCount: number;
}

/** Every option, for any command: those that do not apply to it hold their defaults. */
export interface JobOptions extends CommonOptions {
  excludeTables: string[];
  tables: string[];
  strategy: string;
  destinationWriterCount: number;
  writeMethod: WriteMethodChoice;
  writeQueryMaxRows: number;
  writeQueryMaxSize: number;
  maxTps: number;
  /** ms; 0 is no bound. */
  maxReplicationLag: number;
  verify: boolean;
  resume: boolean;
  snapshot: SnapshotMode;
  /** MigrateServedTypes ('' for other commands). Durations in ms. */
  servedType: 'rdonly' | 'replica' | 'primary' | '';
  reverse: boolean;
  maxLag: number;
  waitTimeout: number;
  skipReverseReplication: boolean;
}

export function isRequired(def: OptionDef, command: CommandName): boolean {
  return def.requiredFor?.includes(command) === true;
}

export function optionsFor(command: CommandName): OptionDef[] {
  return OPTION_DEFS.filter((d) => d.commands.includes(command));
}

export function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => '-' + c.toLowerCase());
}

/** `30s`, `2m`, `2h`, `500ms` → milliseconds. */
export function parseDuration(text: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/.exec(text.trim());
  if (!m) return undefined;
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
  return Math.round(Number(m[1]) * unit);
}

const SIZE_RE = /^(\d+)\s*([kmg]i?b?|b)?$/i;
const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: MiB, g: 1024 * MiB };

/** Parses `1048576`, `1MiB`, `512k`, `2M` into bytes. */
export function parseSize(text: string): number | undefined {
  const m = SIZE_RE.exec(text.trim());
  if (!m) return undefined;
  const unit = (m[2] ?? '').toLowerCase().charAt(0);
  return Number(m[1]) * SIZE_UNITS[unit];
}

function coerce(def: OptionDef, value: unknown): unknown {
  const bad = (what: string) => new OptionError(def.name, `option ${def.name}: ${what}`);
  switch (def.kind) {
    case 'integer':
    case 'size': {
      let n: number | undefined;
      if (typeof value === 'number') n = value;
      else if (typeof value === 'string' && value.trim() !== '')
        n = def.kind === 'size' ? parseSize(value) : /^-?\d+$/.test(value.trim()) ? Number(value) : undefined;
      if (n === undefined || !Number.isInteger(n))
        throw bad(`expected ${def.kind === 'size' ? 'a size in bytes (e.g. 1048576 or 1MiB)' : 'an integer'}, got ${JSON.stringify(value)}`);
      if (def.min !== undefined && n < def.min) throw bad(`must be at least ${def.min}, got ${n}`);
      if (def.max !== undefined && n > def.max) throw bad(`must be at most ${def.max}, got ${n}`);
      return n;
    }
    case 'string':
      if (typeof value !== 'string') throw bad(`expected a string, got ${JSON.stringify(value)}`);
      if (def.choices && !def.choices.includes(value)) throw bad(`expected ${def.choices.join(' or ')}, got ${JSON.stringify(value)}`);
      return value;
    case 'duration': {
      // `10s`, `500ms`, `2m`; a bare number is seconds.
      const ms =
        typeof value === 'number'
          ? value * 1000
          : typeof value === 'string'
            ? /^\d+(\.\d+)?$/.test(value.trim())
              ? Number(value) * 1000
              : parseDuration(value)
            : undefined;
      if (ms === undefined || !Number.isFinite(ms)) throw bad(`expected a duration like 10s, 500ms or 2m, got ${JSON.stringify(value)}`);
      if (def.min !== undefined && ms < def.min) throw bad(`must be at least ${def.min} ms, got ${ms} ms`);
      if (def.max !== undefined && ms > def.max) throw bad(`must be at most ${def.max} ms, got ${ms} ms`);
      return Math.round(ms);
    }
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (value === 'true' || value === 'false') return value === 'true';
      throw bad(`expected true or false, got ${JSON.stringify(value)}`);
    case 'list': {
      const items = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : undefined;
      if (!items || items.some((s) => typeof s !== 'string')) throw bad(`expected a list of names, got ${JSON.stringify(value)}`);
      return (items as string[]).map((s) => s.trim()).filter((s) => s !== '');
    }
  }
}

/**
 * Validates raw options (camelCase keys, from the HTTP body or the CLI) for a command and fills the defaults.
 * Throws OptionError naming the first bad or unknown option.
 */
export function parseOptions(command: CommandName, raw: Record<string, unknown>): JobOptions {
  const defs = optionsFor(command);
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(raw)) {
    if (!defs.some((d) => d.name === key)) {
      const known = OPTION_DEFS.some((d) => d.name === key);
      throw new OptionError(key, known ? `option ${key} does not apply to ${command}` : `unknown option ${key}`);
    }
  }
  for (const def of OPTION_DEFS) {
    const given = raw[def.name];
    out[def.name] = given === undefined || !defs.includes(def) ? structuredClone(def.default) : coerce(def, given);
  }
  const tabletType = out.sourceTabletType;
  const consistent = out.snapshot === 'consistent';
  if (tabletType === 'primary' && !consistent) {
    throw new OptionError(
      'sourceTabletType',
      'option sourceTabletType: primary only with snapshot consistent (--snapshot consistent): without it the source tablet has its replication stopped and is taken out of service, which a primary cannot be',
    );
  }
  if (tabletType !== 'rdonly' && tabletType !== 'replica' && tabletType !== 'primary') {
    throw new OptionError(
      'sourceTabletType',
      `option sourceTabletType: expected rdonly, replica${consistent ? ' or primary' : ' (or primary with --snapshot consistent)'}, got ${JSON.stringify(tabletType)}`,
    );
  }
  if (consistent && out.resume === true) {
    throw new OptionError(
      'resume',
      "option resume cannot be used with snapshot consistent: the snapshot lived in the interrupted job's transactions, which ended with it, and no new transaction can open on it; empty the destinations and clone again",
    );
  }
  for (const def of defs) {
    if (isRequired(def, command) && (out[def.name] as unknown[]).length === 0) throw new OptionError(def.name, `option ${def.name} is required for ${command}`);
  }
  return out as unknown as JobOptions;
}
