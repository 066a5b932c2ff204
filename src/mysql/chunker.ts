// Splits a table into chunks on its primary key, so that readers can work on it in parallel, a broken or crashed
// copy redoes one chunk rather than the table, and the progress has chunks to count.
//
// A chunk is a range [start, end) of the primary key, the first start and the last end unbounded: every row is in
// exactly one chunk whatever the bounds, the table's contents or the estimates said. Two ways to find the bounds:
// - a single integer column: MIN and MAX, then even steps between them (two index dives; no scan);
// - any other key whose order a literal can follow (strings in their collation, binary, temporal, decimal, and
//   composite keys of those): a walk of the primary key in key order, taking every `step`-th key as a bound.
// Keys whose order no literal can follow (ENUM, SET, BIT, FLOAT, JSON …, see key-cursor.ts) are one chunk.

import type { TabletClient } from './tablet-client.ts';
import { keyColumnsOf, keyCursorProblem, tupleCondition, type KeyColumn } from './key-cursor.ts';
import { buildChunkSelect, quoteId, quoteTable, type OrderTerm } from './sql.ts';
import type { TableDefinition } from './schema.ts';

export interface ChunkingOptions {
  /** At most this many chunks per table. */
  chunkCount: number;
  /** Each chunk holds at least this many estimated rows. */
  minRowsPerChunk: number;
  /** Tables smaller than this many bytes are one chunk. */
  minTableSizeForSplit: number;
}

/**
 * One bound of a chunk: in an integer plan a decimal integer as text; in a key plan the primary key's values, each
 * the hex of its bytes as the text protocol has them (a value of any charset or binary survives JSON). null is
 * unbounded.
 */
export type ChunkBound = string | readonly string[];

export interface ChunkRange {
  start: ChunkBound | null;
  end: ChunkBound | null;
}

/**
 * How a table is cut, stored as JSON in `_vt.copy_state` (a resumed copy reuses it) and read back by parseChunkPlan.
 * Integer plan: `column` set, bounds integers. Key plan: `key` set, bounds tuples. Whole: neither, one chunk.
 * Plans stored before key plans existed have no `key` and read as before.
 */
export interface ChunkPlan {
  /** The integer column bounds apply to (an integer plan); null otherwise. */
  column: string | null;
  /** The primary key columns, in order, bounds apply to (a key plan); absent otherwise. */
  key?: readonly string[];
  chunks: ChunkRange[];
  /**
   * A key plan still being cut by its copy's read (see KeyCut): `chunks` are the ones cut so far, each with its
   * end, and the rest of the table, after the last one, is still to be cut. Absent once the plan is whole.
   */
  open?: KeyCut;
}

/**
 * How a key plan is cut while the table is read in key order, instead of by a walk: a bound every `step` rows,
 * the row's own key (what the walk's `LIMIT 1 OFFSET step` finds), at most `maxChunks` chunks.
 */
export interface KeyCut {
  step: number;
  maxChunks: number;
}

const INTEGER_TYPES = new Set(['tinyint', 'smallint', 'mediumint', 'int', 'integer', 'bigint']);

/** Integer columns: the ones chunked by even steps, and the ones whose text the diff compares by value. */
export function isIntegerType(dataType: string): boolean {
  return INTEGER_TYPES.has(dataType);
}
const WHOLE: ChunkPlan = { column: null, chunks: [{ start: null, end: null }] };

/** How many chunks a table of this size gets: at most chunkCount, each of at least minRowsPerChunk rows. */
export function chunkCountFor(table: Pick<TableDefinition, 'rowsEstimate' | 'dataLength'>, opts: ChunkingOptions): number {
  if (table.dataLength < opts.minTableSizeForSplit) return 1;
  return Math.max(1, Math.min(opts.chunkCount, Math.floor(table.rowsEstimate / opts.minRowsPerChunk)));
}

/**
 * Evenly spaced bounds between min and max (inclusive) cut into `count` ranges. The first range has no start and
 * the last no end, so every row is in exactly one chunk whatever the estimate said.
 */
export function splitIntegerRange(min: bigint, max: bigint, count: number): ChunkRange[] {
  const span = max - min + 1n;
  const n = BigInt(Math.max(1, count)) > span ? span : BigInt(Math.max(1, count));
  const bounds: bigint[] = [];
  for (let i = 1n; i < n; i++) bounds.push(min + (span * i) / n);
  return rangesBetween(bounds.map(String));
}

/** Ranges from ascending bounds: [null, b1), [b1, b2) … [bn, null). */
function rangesBetween(bounds: readonly ChunkBound[]): ChunkRange[] {
  const ranges: ChunkRange[] = [];
  let start: ChunkBound | null = null;
  for (const b of bounds) {
    ranges.push({ start, end: b });
    start = b;
  }
  ranges.push({ start, end: null });
  return ranges;
}

/** Hears each chunk of a plan as soon as it is known, in order, with the plan's shape (a walk finds one per query). */
export type ChunkSink = (range: ChunkRange, shape: Omit<ChunkPlan, 'chunks'>) => void;

/**
 * Cuts the table into chunks (see the top of this file); one chunk when it is small or its key cannot be cut.
 * `signal` stops a walk between its queries; `onChunk` hears every chunk of the plan, a walk's as it finds them.
 */
export async function planChunks(
  client: TabletClient,
  dbName: string,
  table: TableDefinition,
  opts: ChunkingOptions,
  signal?: AbortSignal,
  onChunk?: ChunkSink,
): Promise<ChunkPlan> {
  const start = await startPlan(client, dbName, table, opts);
  let told = 0;
  const plan = start.open
    ? await walkKeyChunks(client, dbName, table, start.open, signal, (range, shape) => {
        told++;
        onChunk?.(range, shape);
      })
    : start;
  // The rest: a whole plan's chunks, or the one after a walk's last bound.
  for (const range of plan.chunks.slice(told)) onChunk?.(range, plan);
  return plan;
}

/**
 * The plan as far as it is known without reading the table: whole for an integer key (its bounds from MIN and
 * MAX) or a table of one chunk; for any other key an open plan with no chunks yet, to be cut by a walk (planChunks)
 * or by a read of the table in key order that cuts it as it goes (the copy's, clone/copier.ts).
 */
export async function startPlan(client: TabletClient, dbName: string, table: TableDefinition, opts: ChunkingOptions): Promise<ChunkPlan> {
  const count = chunkCountFor(table, opts);
  if (count <= 1 || keyCursorProblem(table) !== null) return WHOLE;
  const first = table.columns.find((c) => c.name === table.primaryKey[0])!;
  if (table.primaryKey.length === 1 && isIntegerType(first.dataType)) return planIntegerChunks(client, dbName, table, count);
  // A key on column prefixes (TEXT, BLOB, or `name(10)`) is not in the order of its full values: every step of a
  // walk would sort the rest of the table. Such a table stays one chunk.
  if (await hasPrefixKey(client, dbName, table)) return WHOLE;
  const key = keyColumnsOf(table, 'be cut into chunks on its primary key').map((c) => c.name);
  // On to the end of the table (up to --chunk-count chunks), not `count`: where the estimate is short, the last
  // chunk would hold the rest (41,000 rows after 45 chunks of 10,000 in a 500,000-row table estimated at 460,000),
  // read alone at the end of the copy.
  return { column: null, key, chunks: [], open: { step: Math.max(1, Math.ceil(table.rowsEstimate / count)), maxChunks: opts.chunkCount } };
}

async function hasPrefixKey(client: TabletClient, dbName: string, table: TableDefinition): Promise<boolean> {
  const rows = await client.query<unknown[]>(
    `reading the primary key of ${table.name}`,
    "SELECT 1 FROM information_schema.STATISTICS WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ? AND INDEX_NAME = 'PRIMARY' AND SUB_PART IS NOT NULL LIMIT 1",
    [dbName, table.name],
  );
  return rows.length > 0;
}

async function planIntegerChunks(client: TabletClient, dbName: string, table: TableDefinition, count: number): Promise<ChunkPlan> {
  const first = table.primaryKey[0];
  const rows = await client.query<{ lo: string | null; hi: string | null }[]>(
    `finding chunks of ${table.name}`,
    `SELECT MIN(${quoteId(first)}) AS lo, MAX(${quoteId(first)}) AS hi FROM ${quoteTable(dbName, table.name)}`,
  );
  const { lo, hi } = rows[0];
  if (lo === null || hi === null) return WHOLE;
  return { column: first, chunks: splitIntegerRange(BigInt(String(lo)), BigInt(String(hi)), count) };
}

/**
 * A walk of the primary key index in key order: from the last bound, skip `step` keys and take the next as a bound
 * (`WHERE key > last ORDER BY key LIMIT 1 OFFSET step-1`). Why a walk and not sampling: InnoDB offers no sample
 * through SQL (no TABLESAMPLE, no random page), and bounds interpolated between MIN and MAX only balance uniform
 * keys and cannot follow a collation (UUID text leaves most byte values unused; names and dates cluster). The walk
 * costs one pass over the primary key on the server, returning one row per chunk (no sort, no temporary table:
 * the ORDER BY is the index order and the condition is an index range), about what a COUNT(*) costs: cheap beside
 * the copy, which reads and sends every row. Its bounds are real keys read by the same ORDER BY the conditions
 * compare in, so they ascend in the column's collation and every chunk holds `step` rows as the table is now.
 */
async function walkKeyChunks(
  client: TabletClient,
  dbName: string,
  table: TableDefinition,
  { step, maxChunks }: KeyCut,
  signal: AbortSignal | undefined,
  onChunk: ChunkSink,
): Promise<ChunkPlan> {
  const columns = keyColumnsOf(table, 'be cut into chunks on its primary key');
  // The bytes of each key column as stored (CAST … AS BINARY: digits, the string in its own charset, temporal text).
  const select = columns.map((c, i) => `CAST(${quoteId(c.name)} AS BINARY) AS k${i}`).join(', ');
  const order = columns.map((c) => quoteId(c.name)).join(', ');
  const bounds: string[][] = [];
  let last: Buffer[] | null = null;
  while (bounds.length < maxChunks - 1) {
    signal?.throwIfAborted();
    const where: string = last ? ` WHERE ${tupleCondition(columns, last, '>')}` : '';
    // The first bound ends the first chunk: `step` keys after the start of the table (the others, after a bound).
    const skip = last ? step - 1 : step;
    const rows = await client.query<Record<string, Buffer | null>[]>(
      `finding chunks of ${table.name}`,
      `SELECT ${select} FROM ${quoteTable(dbName, table.name)}${where} ORDER BY ${order} LIMIT 1 OFFSET ${skip}`,
    );
    if (rows.length === 0) break;
    const key: Buffer[] = columns.map((c, i) => {
      const v = rows[0][`k${i}`];
      if (!Buffer.isBuffer(v)) throw new Error(`primary key column ${c.name} of ${table.name} read as ${v === null ? 'NULL' : typeof v}`);
      return v;
    });
    const bound = keyBoundOf(key, table.name);
    // The chunk this bound ends is known now (the last one, unbounded, once the walk is through).
    onChunk({ start: bounds.length ? bounds[bounds.length - 1] : null, end: bound }, { column: null, key: columns.map((c) => c.name) });
    bounds.push(bound);
    last = key;
  }
  if (bounds.length === 0) return WHOLE;
  return { column: null, key: columns.map((c) => c.name), chunks: rangesBetween(bounds) };
}

const INTEGER_RE = /^-?\d+$/;
const HEX_RE = /^(?:[0-9a-f]{2})*$/;

/**
 * The chunk's rows as SQL (`start <= key AND key < end`), or null for the whole table: the one condition the copy,
 * a resumed copy's delete of a chunk and the diff all use. A key plan's values compare as the primary key's ORDER
 * BY (key-cursor.ts). Throws when the plan does not fit the table (a stored plan of a table changed since).
 */
export function chunkCondition(table: TableDefinition, plan: ChunkPlan, range: ChunkRange): string | null {
  const parts: string[] = [];
  if (plan.key) {
    if (plan.key.join('\0') !== table.primaryKey.join('\0')) {
      throw new Error(`the chunks of ${table.name} were planned on the key (${plan.key.join(', ')}), but its primary key is (${table.primaryKey.join(', ')})`);
    }
    const columns = keyColumnsOf(table, 'be cut into chunks on its primary key');
    if (range.start !== null) parts.push(tupleCondition(columns, keyBound(table, columns, range.start), '>='));
    if (range.end !== null) parts.push(tupleCondition(columns, keyBound(table, columns, range.end), '<'));
  } else if (plan.column !== null) {
    const col = quoteId(plan.column);
    if (range.start !== null) parts.push(`${col} >= ${integerBound(table, range.start)}`);
    if (range.end !== null) parts.push(`${col} < ${integerBound(table, range.end)}`);
  }
  return parts.length ? parts.join(' AND ') : null;
}

function integerBound(table: TableDefinition, bound: ChunkBound): string {
  if (typeof bound !== 'string' || !INTEGER_RE.test(bound)) throw new Error(`chunk bound ${JSON.stringify(bound)} of ${table.name} is not an integer`);
  return bound;
}

/** A key plan's bound from a primary key's values, each as the text protocol has it (what keyBound reads back). */
export function keyBoundOf(key: readonly (Buffer | null)[], table: string): string[] {
  return key.map((v) => {
    if (v === null) throw new Error(`primary key of ${table} read as NULL`);
    return v.toString('hex');
  });
}

function keyBound(table: TableDefinition, columns: readonly KeyColumn[], bound: ChunkBound): Buffer[] {
  if (typeof bound === 'string' || bound.length !== columns.length || !bound.every((v) => typeof v === 'string' && HEX_RE.test(v))) {
    throw new Error(`chunk bound ${JSON.stringify(bound)} of ${table.name} is not ${columns.length} hex values`);
  }
  return bound.map((v) => Buffer.from(v, 'hex'));
}

/** A plan as stored in `_vt.copy_state` (by this version or an older one), checked: a bad one is named, not used. */
export function parseChunkPlan(text: string, table: string): ChunkPlan {
  const bad = (why: string) => new Error(`the stored chunk plan of ${table} ${why}: ${text.slice(0, 200)}`);
  let plan: unknown;
  try {
    plan = JSON.parse(text);
  } catch {
    throw bad('is not JSON');
  }
  if (typeof plan !== 'object' || plan === null) throw bad('is not an object');
  const p = plan as Record<string, unknown>;
  if (p.column !== null && typeof p.column !== 'string') throw bad('has a bad column');
  if (p.key !== undefined && !(Array.isArray(p.key) && p.key.length > 0 && p.key.every((k) => typeof k === 'string'))) throw bad('has a bad key');
  if (p.open !== undefined) {
    const o = p.open as Record<string, unknown> | null;
    const positive = (n: unknown) => Number.isSafeInteger(n) && (n as number) > 0;
    if (typeof o !== 'object' || o === null || !positive(o.step) || !positive(o.maxChunks) || p.key === undefined) throw bad('has a bad open cut');
  }
  if (!Array.isArray(p.chunks) || p.chunks.length === 0) throw bad('has no chunks');
  const isBound = (b: unknown) => b === null || typeof b === 'string' || (Array.isArray(b) && b.every((v) => typeof v === 'string'));
  for (const c of p.chunks as unknown[]) {
    const r = c as Record<string, unknown> | null;
    if (typeof r !== 'object' || r === null || !isBound(r.start) || !isBound(r.end)) throw bad('has a bad chunk');
  }
  return plan as ChunkPlan;
}

export interface ChunkReadOptions {
  /** By primary key unless given: the diff's own terms, which must read both sides in the very order it compares them. */
  orderBy?: readonly (string | OrderTerm)[];
  /** Rows after the last one already read (KeyCursor's condition). */
  after?: string | null;
  /** Only the rows this condition keeps (SelectSpec.filter). */
  filter?: string | null;
}

/** SQL that reads one chunk, shared by the copy and the diff. */
export function chunkQuery(dbName: string, table: TableDefinition, plan: ChunkPlan, range: ChunkRange, opts: ChunkReadOptions = {}): string {
  return buildChunkSelect({
    db: dbName,
    table: table.name,
    selectList: table.selectList,
    chunk: chunkCondition(table, plan, range),
    orderBy: opts.orderBy ?? table.primaryKey,
    after: opts.after ?? null,
    filter: opts.filter ?? null,
  });
}
