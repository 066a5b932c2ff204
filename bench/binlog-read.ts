// How fast the binlog reader (src/mysql/wire/binlog) reads and decodes: a source takes N row changes in transactions of
// 1 to 10 rows (inserts, updates, deletes on a table shaped like the split bench's `customer`), then one source
// reads them from the position before, to the position after; prints events/s, rows/s and the peak RSS.
//
//   node --import tsx bench/binlog-read.ts --port 23300 [--changes 1000000] [--keep]
//
// Against a running sandbox's source primary (root, no password). Makes and drops the database binlog_bench.

import { parseArgs } from 'node:util';
import pino from 'pino';
import { openBinlogSource } from '../src/mysql/wire/binlog/source.ts';
import { connect } from '../src/sandbox/index.ts';

const { values } = parseArgs({
  options: { port: { type: 'string' }, changes: { type: 'string', default: '1000000' }, keep: { type: 'boolean', default: false } },
});
if (!values.port) throw new Error('--port: the source primary to load and read (a sandbox instance)');
const port = Number(values.port);
const target = Number(values.changes);
const DB = 'binlog_bench';

const conn = await connect({ port });
await conn.query("SET SESSION time_zone = '+00:00'");
await conn.query(`DROP DATABASE IF EXISTS ${DB}; CREATE DATABASE ${DB}; USE ${DB}`);
await conn.query(`CREATE TABLE customer (id BIGINT NOT NULL, keyspace_id BIGINT UNSIGNED NOT NULL, email VARCHAR(64) CHARACTER SET utf8mb4 NOT NULL,
  note VARCHAR(200) CHARACTER SET utf8mb4 NOT NULL, created DATETIME(6) NOT NULL, PRIMARY KEY (id)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4`);
const [[{ p: start }]] = (await conn.query('SELECT @@GLOBAL.gtid_binlog_pos AS p')) as unknown as [[{ p: string }]];

// The load: transactions of 1-10 row changes, sent a few hundred to a round trip.
let changes = 0;
let transactions = 0;
let nextId = 1;
let oldest = 1;
const loadStarted = Date.now();
while (changes < target) {
  const parts: string[] = [];
  for (let t = 0; t < 400 && changes < target; t++) {
    const k = Math.min(1 + ((transactions * 7) % 10), target - changes);
    const kind = transactions % 10;
    if (kind < 6 || nextId - oldest < 20) {
      const rows = Array.from({ length: k }, (_, i) => {
        const id = nextId + i;
        return `(${id}, ${(BigInt(id) * 11400714819323198485n) % 18446744073709551616n}, 'user${id}@example.com', 'note ${id} ✓', '2024-03-10 02:${String(id % 60).padStart(2, '0')}:00.${String(id % 1e6).padStart(6, '0')}')`;
      });
      parts.push(`BEGIN; INSERT INTO customer VALUES ${rows.join(',')}; COMMIT`);
      nextId += k;
    } else if (kind < 9) {
      const from = oldest + ((transactions * 13) % Math.max(1, nextId - oldest - k));
      parts.push(`BEGIN; UPDATE customer SET note = CONCAT('upd ', id, ' ', ${transactions}) WHERE id BETWEEN ${from} AND ${from + k - 1}; COMMIT`);
    } else {
      parts.push(`BEGIN; DELETE FROM customer WHERE id BETWEEN ${oldest} AND ${oldest + k - 1}; COMMIT`);
      oldest += k;
    }
    changes += k;
    transactions++;
  }
  await conn.query(parts.join(';'));
}
const [[{ p: end }]] = (await conn.query('SELECT @@GLOBAL.gtid_binlog_pos AS p')) as unknown as [[{ p: string }]];
console.log(`load: ${changes} row changes in ${transactions} transactions, ${((Date.now() - loadStarted) / 1000).toFixed(1)} s`);

const rssBefore = process.memoryUsage().rss;
let peakRss = rssBefore;
// Twice: the first read also brings the binlog files into the source's page cache.
for (const pass of [1, 2]) {
  const source = await openBinlogSource({
    tablet: { alias: 'bench-source', tablet: { keyspace: 'bench', shard: '0', type: 'primary', host: '127.0.0.1', port, dbName: DB, user: 'root' } },
    credentials: {},
    position: `MariaDB/${start}`,
    signal: new AbortController().signal,
    logger: pino({ level: 'warn' }),
  });
  let events = 0;
  let rows = 0;
  let commits = 0;
  const started = process.hrtime.bigint();
  const cpuBefore = process.cpuUsage();
  for await (const ev of source) {
    events++;
    if (ev.type === 'rows') rows += ev.rows.length;
    else if (ev.type === 'commit') {
      commits++;
      if ((commits & 1023) === 0) peakRss = Math.max(peakRss, process.memoryUsage().rss);
      if (ev.position === `MariaDB/${end}`) break;
    }
  }
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const cpu = process.cpuUsage(cpuBefore);
  await source.close();
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  console.log(
    `read ${pass}: ${events} events (${commits} transactions, ${rows} rows) in ${seconds.toFixed(2)} s: ${Math.round(events / seconds)} events/s, ${Math.round(rows / seconds)} rows/s, ${Math.round(commits / seconds)} transactions/s; reader CPU ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s (${Math.round(rows / ((cpu.user + cpu.system) / 1e6))} rows per CPU second)`,
  );
}
console.log(
  `peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MB while reading (maxRSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB over the run, ${(rssBefore / 2 ** 20).toFixed(0)} MB before reading)`,
);
if (!values.keep) await conn.query(`DROP DATABASE ${DB}`);
await conn.end();
