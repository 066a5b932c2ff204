// Tables keyed by other things than an integer, for the chunking tests: a case-insensitive string, binary, DATETIME(6)
// and a composite (VARCHAR, INT) key, each with equal prefixes, the smallest and largest values its type allows
// around the generated ones, and a keyspace_id for SplitClone to route by.

import assert from 'node:assert/strict';
import type { TestCluster } from './cluster.ts';
import { readRows } from './rows.ts';

const KS = (expr: string) => `CAST(CONV(SUBSTRING(MD5(${expr}),1,16),16,10) AS UNSIGNED)`;

/** The tables and the expression naming each row (its key, as text) for counting rows per chunk. */
export const KEY_TABLES: { name: string; key: string }[] = [
  { name: 's', key: 'HEX(k)' },
  { name: 'b', key: 'HEX(k)' },
  { name: 'd', key: 'CAST(k AS CHAR)' },
  { name: 'c', key: "CONCAT(HEX(name), ':', n)" },
];

/** Each table's SQL: created and filled with `rows` generated rows plus its edge rows. */
const TABLE_SQL: Record<string, (rows: number) => string> = {
  s: (
    rows,
  ) => `CREATE TABLE s (k VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, body VARCHAR(100) CHARACTER SET utf8mb4);
    INSERT INTO s SELECT CONCAT(ELT(seq % 5 + 1, 'abc', 'ABC', 'Abd', 'ä', 'a'), '-', seq), ${KS('seq')}, CONCAT('row ', seq, ' ✓') FROM seq_1_to_${rows};
    INSERT INTO s VALUES ('', ${KS("'s0'")}, 'smallest'), ('a', ${KS("'s1'")}, 'a alone'), ('ÿÿÿ', ${KS("'s2'")}, 'near the end'), ('😀', ${KS("'s3'")}, 'largest');`,
  b: (rows) => `CREATE TABLE b (k VARBINARY(20) NOT NULL PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, body VARBINARY(100));
    INSERT INTO b SELECT CONCAT(CHAR(seq % 7), seq), ${KS('seq')}, UNHEX(MD5(seq)) FROM seq_1_to_${rows};
    INSERT INTO b VALUES (X'', ${KS("'b0'")}, X'00'), (X'00', ${KS("'b1'")}, NULL), (X'0000', ${KS("'b2'")}, X''), (X'FF', ${KS("'b3'")}, X'FF'), (X'FFFFFFFF', ${KS("'b4'")}, X'FFFF');`,
  d: (rows) => `CREATE TABLE d (k DATETIME(6) NOT NULL PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, body VARCHAR(40));
    INSERT INTO d SELECT TIMESTAMP('2020-01-01') + INTERVAL seq * 997 SECOND + INTERVAL seq MICROSECOND, ${KS('seq')}, CONCAT('at ', seq) FROM seq_1_to_${rows};
    INSERT INTO d VALUES ('0000-00-00 00:00:00.000000', ${KS("'d0'")}, 'zero'), ('1000-01-01 00:00:00.000000', ${KS("'d1'")}, 'first'), ('9999-12-31 23:59:59.999999', ${KS("'d2'")}, 'last');`,
  // Wide rows: a read of a chunk of c outlasts what the sockets buffer, so a test can kill it mid-chunk.
  c: (
    rows,
  ) => `CREATE TABLE c (name VARCHAR(20) CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci NOT NULL, n INT NOT NULL, keyspace_id BIGINT UNSIGNED NOT NULL, pad VARBINARY(4000), PRIMARY KEY (name, n));
    INSERT INTO c SELECT ELT(seq % 3 + 1, 'x', 'X', 'y'), CAST(seq AS SIGNED) - ${Math.floor(rows / 2)}, ${KS('seq')}, UNHEX(REPEAT(MD5(seq), 250)) FROM seq_1_to_${rows};
    INSERT INTO c VALUES ('', -2147483648, ${KS("'c0'")}, 'smallest'), ('x', 2147483647, ${KS("'c1'")}, 'x last'), ('Y', -2147483648, ${KS("'c2'")}, 'Y first'), ('zzz', 2147483647, ${KS("'c3'")}, 'largest');`,
};

/** SQL that (re)creates `db` with these of the four tables (all by default). */
export function keyTablesSql(db: string, rows: number, names: readonly string[] = KEY_TABLES.map((t) => t.name)): string {
  return `DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db}; USE ${db};
    ${names.map((n) => TABLE_SQL[n](rows)).join('\n    ')}
    ANALYZE TABLE ${names.join(', ')};`;
}

/**
 * Each of the two destinations (-80, 80-) holds exactly the source rows of its half of the table, byte for byte,
 * none twice (rows as test/helpers/rows.ts reads them: numbers as text, everything else as hex, so '|' splits).
 */
export async function assertKeyTableExact(c: TestCluster, db: string, table: string): Promise<void> {
  const all = await readRows(c.primary, db, table);
  const ksIndex = table === 'c' ? 2 : 1;
  const half = (v: string) => (BigInt(v.split('|')[ksIndex]) < 1n << 63n ? 0 : 1);
  let total = 0;
  for (const [i, d] of c.dests.slice(0, 2).entries()) {
    const want = new Map([...all].filter(([, v]) => half(v) === i));
    const got = await readRows(d, db, table);
    assert.equal(got.size, want.size, `${table} on port ${d.port}: ${got.size} rows, want ${want.size}`);
    for (const [k, v] of want) assert.equal(got.get(k), v, `${table} row ${k} on port ${d.port}`);
    total += got.size;
  }
  assert.equal(total, all.size);
}
