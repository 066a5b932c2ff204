// Chunking any primary key against a real mariadbd: string (a case-insensitive collation, equal prefixes), binary,
// DATETIME(6) and composite (VARCHAR, INT) keys cut into several ranges by a walk of the key, which together hold
// every row exactly once, the smallest and largest included, under the very conditions the copy, the resumed
// copy's delete and the diff use; and a read of such a chunk broken after any row resumes with exactly the rest.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { chunkCondition, chunkQuery, parseChunkPlan, planChunks, type ChunkRange } from '../../src/mysql/chunker.ts';
import { KeyCursor } from '../../src/mysql/key-cursor.ts';
import type { RawRow } from '../../src/mysql/wire/raw-rows.ts';
import type { TabletRef } from '../../src/mysql/connection.ts';
import { TabletLink, type TabletClient } from '../../src/mysql/tablet-client.ts';
import { readSchema, type TableDefinition } from '../../src/mysql/schema.ts';
import { onSource, rdonlyRef, sql, testCluster, type TestCluster } from '../helpers/cluster.ts';
import { KEY_TABLES, keyTablesSql } from '../helpers/key-tables.ts';

const db = 't_key_chunks';
const ROWS = 2000;
const opts = { chunkCount: 8, minRowsPerChunk: 100, minTableSizeForSplit: 0 };

let c: TestCluster;
let client: TabletClient;
let ref: TabletRef;
let tables: TableDefinition[];

before(async () => {
  c = await testCluster();
  await onSource(c, keyTablesSql(db, ROWS));
  ref = rdonlyRef(c);
  // No retry policy: a failure here is the test's to see.
  client = new TabletLink({ ref, credentials: {}, policy: () => null, signal: new AbortController().signal, counted: () => {} }).client(1, false);
  tables = (await readSchema(client, db)).tables;
});

after(async () => {
  await client?.close();
});

describe('chunks of non-integer keys', () => {
  for (const { name, key } of KEY_TABLES) {
    test(`${name}: several ranges that hold every row exactly once`, async () => {
      const table = tables.find((t) => t.name === name)!;
      // The diff starts on each chunk as the walk finds it: every chunk is heard, in order, with the plan's shape.
      const heard: ChunkRange[] = [];
      const plan = await planChunks(client, db, table, opts, undefined, (range, shape) => {
        assert.deepEqual(shape.key, table.primaryKey);
        heard.push(range);
      });
      assert.deepEqual(heard, plan.chunks);
      assert.deepEqual(plan.key, table.primaryKey);
      assert.ok(plan.chunks.length >= 4, `${plan.chunks.length} chunks`);
      // What a resumed copy reads back from _vt.copy_state.
      const stored = parseChunkPlan(JSON.stringify(plan), name);
      assert.deepEqual(stored, plan);
      const all = (await sql(c.rdonly, `SELECT ${key} AS k FROM ${db}.${name}`)).map((r) => String(r.k));
      const seen = new Map<string, number>();
      for (const [i, range] of stored.chunks.entries()) {
        const cond = chunkCondition(table, stored, range);
        const rows = await sql(c.rdonly, `SELECT ${key} AS k FROM ${db}.${name}${cond ? ` WHERE ${cond}` : ''}`);
        assert.ok(rows.length > 0, `chunk ${i} of ${name} is empty`);
        for (const r of rows) {
          const k = String(r.k);
          assert.equal(seen.get(k), undefined, `${name} row ${k} in chunks ${seen.get(k)} and ${i}`);
          seen.set(k, i);
        }
      }
      assert.equal(seen.size, all.length, `${name}: ${seen.size} rows in chunks, ${all.length} in the table`);
      for (const k of all) assert.ok(seen.has(k), `${name} row ${k} in no chunk`);
      // The smallest and largest keys: in the first and the last chunk.
      const [lo] = await sql(c.rdonly, `SELECT ${key} AS k FROM ${db}.${name} ORDER BY ${table.primaryKey.join(',')} LIMIT 1`);
      const [hi] = await sql(c.rdonly, `SELECT ${key} AS k FROM ${db}.${name} ORDER BY ${table.primaryKey.map((p) => `${p} DESC`).join(',')} LIMIT 1`);
      assert.equal(seen.get(String(lo.k)), 0);
      assert.equal(seen.get(String(hi.k)), stored.chunks.length - 1);
    });
  }

  test('the bounds are read with the case-insensitive collation: a bound of x also bounds X', async () => {
    const table = tables.find((t) => t.name === 'c')!;
    const plan = await planChunks(client, db, table, opts);
    const cond = chunkCondition(table, plan, plan.chunks[1])!;
    assert.match(cond, /`name` = _utf8mb4 X'/);
    // Rows of both cases inside one chunk: the bound compared in the column's collation, not by bytes.
    const rows = await sql(c.rdonly, `SELECT DISTINCT BINARY name AS name FROM ${db}.c WHERE ${cond}`);
    const names = rows.map((r) => String(r.name)).sort();
    assert.ok(names.includes('x') && names.includes('X'), JSON.stringify(names));
  });

  test('an integer key keeps its even split; a small table, a FLOAT key and a prefix key are one chunk', async () => {
    await onSource(
      c,
      `USE ${db}; CREATE TABLE i (id BIGINT PRIMARY KEY, v INT); INSERT INTO i SELECT seq, seq FROM seq_1_to_1000;
      CREATE TABLE f (k FLOAT PRIMARY KEY); INSERT INTO f SELECT seq / 3 FROM seq_1_to_1000;
      CREATE TABLE p (k VARCHAR(40) NOT NULL, PRIMARY KEY (k(4))); INSERT INTO p SELECT CONCAT(seq, '-', MD5(seq)) FROM seq_1_to_1000; ANALYZE TABLE i, f, p;`,
    );
    const more = (await readSchema(client, db)).tables;
    const i = await planChunks(client, db, more.find((t) => t.name === 'i')!, { ...opts, chunkCount: 4 });
    assert.deepEqual(i, {
      column: 'id',
      chunks: [
        { start: null, end: '251' },
        { start: '251', end: '501' },
        { start: '501', end: '751' },
        { start: '751', end: null },
      ],
    });
    const f = await planChunks(client, db, more.find((t) => t.name === 'f')!, opts);
    assert.deepEqual(f, { column: null, chunks: [{ start: null, end: null }] });
    // A key on a prefix of the column: not in the order of the full values, which a walk would sort at every step.
    const p = await planChunks(client, db, more.find((t) => t.name === 'p')!, opts);
    assert.deepEqual(p, { column: null, chunks: [{ start: null, end: null }] });
    const s = await planChunks(client, db, tables.find((t) => t.name === 's')!, { ...opts, minTableSizeForSplit: 1 << 30 });
    assert.equal(s.chunks.length, 1);
  });

  // The copy's own read (scanRows through the tablet client) and its cursor, as in clone/copier.ts: the read breaks
  // after the first, a middle and the last row of each chunk, and the read that resumes after the cursor's last key
  // must hand on exactly the chunk's remaining rows, in key order, none twice.
  for (const { name } of KEY_TABLES) {
    for (const binary of [false, true])
      test(`${name}: a read broken inside a chunk resumes after its last row (${binary ? 'binary' : 'text'} protocol)`, async () => {
        const table = tables.find((t) => t.name === name)!;
        const plan = await planChunks(client, db, table, opts);
        const keyOf = (row: RawRow) => table.primaryKey.map((k) => row.value(table.columns.findIndex((col) => col.name === k))!.toString('hex')).join(':');
        const read = async (range: (typeof plan.chunks)[number], after: string | null, stopAfter: number, cursor: KeyCursor | null): Promise<string[]> => {
          const keys: string[] = [];
          const abort = new AbortController();
          const broken = new Error('the read breaks here');
          await client
            .scan(
              'reading a chunk',
              async () => chunkQuery(db, table, plan, range, { after }),
              (row) => {
                cursor?.track(row);
                keys.push(keyOf(row));
                if (keys.length === stopAfter) throw broken;
              },
              { signal: abort.signal, binary },
            )
            .catch((err: unknown) => {
              if (err !== broken) throw err;
            });
          return keys;
        };
        for (const [i, range] of plan.chunks.entries()) {
          const whole = await read(range, null, -1, null);
          assert.ok(whole.length > 2, `chunk ${i} of ${name}: ${whole.length} rows`);
          for (const at of [1, Math.floor(whole.length / 2), whole.length]) {
            const cursor = new KeyCursor(table);
            const before = await read(range, null, at, cursor);
            assert.equal(before.length, at);
            const rest = await read(range, cursor.afterLast(), -1, null);
            assert.deepEqual([...before, ...rest], whole, `chunk ${i} of ${name} broken after row ${at}`);
          }
        }
      });
  }
});
