// The stream bench's steady load, in a process of its own so the streams' work in the bench process cannot slow
// it: `node --import tsx/esm bench/steady-load.ts '<json>'` with the source's port, the rate, the duration and
// where the bulk load's TransactionSource stopped. Every TICK_MS it sends what is due by then in one round trip,
// then prints the source's GTID sequence number after that commit and when it was acknowledged, one JSON line each;
// the last line is the totals.

import { withConnection } from '../src/sandbox/index.ts';
import { LOAD_SESSION, SEED_ROWS, seqOf, STREAM_DB, streamBenchTables, TransactionSource, type TransactionSourceState } from './stream-load.ts';
import { quoteId } from '../src/mysql/sql.ts';

export interface SteadyLoadConfig {
  port: number;
  transactionsPerSecond: number;
  seconds: number;
  tickMs: number;
  from: TransactionSourceState;
}

export type SteadyLoadLine = { seq: number; at: number } | { transactions: number; rowChanges: number; seconds: number };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const config = JSON.parse(process.argv[2] ?? '{}') as SteadyLoadConfig;
const source = new TransactionSource(streamBenchTables(), SEED_ROWS, config.from);
const print = (line: SteadyLoadLine) => process.stdout.write(`${JSON.stringify(line)}\n`);

await withConnection({ port: config.port }, async (conn) => {
  await conn.query(`${LOAD_SESSION}; USE ${quoteId(STREAM_DB)}`);
  const started = Date.now();
  let transactions = 0;
  let rowChanges = 0;
  for (let tick = 0; Date.now() - started < config.seconds * 1000; tick++) {
    // What is due by the end of this tick: a round trip that ran long is followed by a bigger one, so the rate holds.
    const due = Math.floor(((Date.now() - started + config.tickMs) / 1000) * config.transactionsPerSecond) - transactions;
    const batch: string[] = [];
    for (let n = 0; n < due; n++) {
      const t = source.next();
      batch.push(t.sql);
      rowChanges += t.rows;
    }
    if (batch.length > 0) {
      const [results] = await conn.query(`${batch.join('; ')}; SELECT @@GLOBAL.gtid_binlog_pos AS p`);
      const last = (results as unknown[]).at(-1) as { p: string }[];
      print({ seq: seqOf(last[0].p), at: Date.now() });
      transactions += batch.length;
    }
    await sleep(Math.max(0, started + (tick + 1) * config.tickMs - Date.now()));
  }
  print({ transactions, rowChanges, seconds: (Date.now() - started) / 1000 });
});
