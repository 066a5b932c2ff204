// Running a stream to a position and no further (src/stream/until.ts, StreamManager hold / runUntil / release), the
// part of a diff with streams running that the diff relies on: the destination's checkpoint row, and its rows,
// stand exactly at the position asked. The gate on a synthetic binlog, then a real stream after a real SplitClone.
process.env.TZ = 'America/New_York';

import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import pino from 'pino';
import type { BinlogEvent } from '../../src/mysql/wire/binlog/events.ts';
import { StreamStopError } from '../../src/stream/applier.ts';
import { RunUntilError, StreamHeldError, untilGate } from '../../src/stream/until.ts';
import { resetDestinations, runJob, sql, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';
import { until } from '../helpers/faults.ts';
import { assertSplitExact, reached, sourcePosition, testStreams } from '../helpers/stream-exact.ts';
import { SyntheticBinlog } from '../helpers/synthetic-binlog.ts';
import { WriteLoad } from '../helpers/write-load.ts';

/** Takes events from a gated source until it has given nothing for `quietMs`. */
async function drain(source: AsyncIterable<BinlogEvent>, quietMs = 100): Promise<{ events: BinlogEvent[]; error: unknown }> {
  const events: BinlogEvent[] = [];
  const it = source[Symbol.asyncIterator]();
  for (;;) {
    const next = await Promise.race([
      it.next().then(
        (r) => r,
        (error: unknown) => ({ error }),
      ),
      new Promise<'quiet'>((r) => setTimeout(() => r('quiet'), quietMs)),
    ]);
    if (next === 'quiet') return { events, error: null };
    if ('error' in next) return { events, error: next.error };
    if (next.done) return { events, error: null };
    events.push(next.value);
  }
}

describe('untilGate (synthetic binlog)', () => {
  const signal = new AbortController().signal;
  const log = pino({ level: 'silent' });

  test('passes every event up to the commit at the target, then nothing until closed', async () => {
    const binlog = new SyntheticBinlog();
    const start = binlog.position;
    binlog.transaction();
    const target = binlog.transaction();
    binlog.transaction();
    binlog.idle();
    const gated = untilGate(await binlog.open({ ref: null as never, credentials: {}, position: start, signal, log }), start, target);
    const { events, error } = await drain(gated);
    assert.equal(error, null);
    assert.deepEqual(
      events.map((e) => e.type),
      ['begin', 'commit', 'begin', 'commit'],
    );
    assert.equal((events[3] as Extract<BinlogEvent, { type: 'commit' }>).position, target);
    await gated.close();
  });

  test('a stream already at the target gets nothing; one past it, or a source that jumps past it, stops in error', async () => {
    const binlog = new SyntheticBinlog();
    const start = binlog.position;
    const first = binlog.transaction();
    const second = binlog.transaction();
    const atTarget = await drain(untilGate(await binlog.open({ ref: null as never, credentials: {}, position: second, signal, log }), second, second));
    assert.deepEqual(atTarget, { events: [], error: null });
    const past = await drain(untilGate(await binlog.open({ ref: null as never, credentials: {}, position: second, signal, log }), second, first));
    assert.ok(past.error instanceof StreamStopError);
    assert.match(String(past.error), /stands at MariaDB\/0-100-2, past MariaDB\/0-100-1/);
    // A target no transaction of this source stands on (another server's sequence in the domain, say).
    const jumped = await drain(
      untilGate(await binlog.open({ ref: null as never, credentials: {}, position: start, signal, log }), start, 'MariaDB/0-100-1,1-5-3'),
    );
    assert.ok(jumped.error instanceof StreamStopError, String(jumped.error));
    assert.match(String(jumped.error), /went from before it to MariaDB\/0-100-2 without standing on it/);
    assert.deepEqual(
      jumped.events.map((e) => e.type),
      ['begin', 'commit', 'begin'],
      'the commit past the target is held back',
    );
  });
});

describe('hold, runUntil and release on a real stream', () => {
  let c: TestCluster;
  before(async () => {
    c = await testCluster();
  });

  test('a held stream stays stopped, runs exactly to the position asked, refuses one behind it, and resumes on release', async () => {
    const db = 'st_until';
    const shards = ['-55', '55-aa', 'aa-'];
    await resetDestinations(c, db);
    const load = new WriteLoad(c.primary, db, 31);
    await load.seed(300, c.rdonly);
    const topoFile = writeTopology(c, {
      keyspace: 'ks',
      sources: [{ shard: '0', dbName: db }],
      destinations: shards.map((shard, instance) => ({ shard, instance, dbName: db })),
    });
    const clone = await runJob(topoFile, { command: 'SplitClone', keyspace: 'ks', shard: '0', options: {} });
    assert.equal(clone.state, 'done', clone.error ?? '');
    const m = await testStreams(topoFile, { log: 'until.log' });
    await m.open();
    const signal = new AbortController().signal;
    const checkpoint = async () => `${String((await sql(c.dests[0], 'SELECT pos FROM _vt.blp_checkpoint'))[0].pos)}`;
    const count = async () => Number((await sql(c.dests[0], `SELECT COUNT(*) AS n FROM ${db}.types`))[0].n);
    try {
      load.start(1);
      await new Promise((r) => setTimeout(r, 1000));
      await load.stop();
      assert.deepEqual(load.errors, []);
      const start = await sourcePosition(c.primary);
      await until('streams at the source', () => m.snapshot().every((s) => reached(s.position, start)));
      const [held] = await m.hold('ks', '-55', 'SplitDiff job test');
      assert.equal(held.state, 'stopped');
      assert.equal(held.heldBy, 'SplitDiff job test');
      assert.equal(m.snapshot()[0].heldBy, 'SplitDiff job test');
      await assert.rejects(m.start('ks', '-55'), StreamHeldError);
      await assert.rejects(m.stop('ks', '-55'), /held by SplitDiff job test/);

      // Inserts of rows all in -55 (keyspace id 0): one transaction each, so every position is a row more.
      const positions: string[] = [];
      for (let i = 0; i < 6; i++) {
        await sql(c.primary, `INSERT INTO ${db}.types (id, keyspace_id) VALUES (${1_000_000 + i}, 0)`);
        positions.push(await sourcePosition(c.primary));
      }
      const before = await count();
      await m.runUntil('ks', '-55', 0, positions[2], { signal, timeoutMs: 30_000 });
      assert.equal(await checkpoint(), positions[2]);
      assert.equal(await count(), before + 3, 'the rows of the first three transactions, and no more');
      assert.equal(m.snapshot()[0].state, 'stopped');
      // The others ran on meanwhile.
      await until('the other streams at the source', () =>
        m
          .snapshot()
          .slice(1)
          .every((s) => reached(s.position, positions[5])),
      );

      await m.runUntil('ks', '-55', 0, positions[2], { signal, timeoutMs: 30_000 }); // there already: nothing to do
      assert.equal(await checkpoint(), positions[2]);
      await assert.rejects(m.runUntil('ks', '-55', 0, positions[1], { signal, timeoutMs: 30_000 }), (err: Error) => {
        assert.ok(err instanceof RunUntilError, String(err));
        assert.match(err.message, new RegExp(`past ${positions[1]}`));
        return true;
      });
      assert.equal(await checkpoint(), positions[2], 'a refused run moves nothing');
      await assert.rejects(m.runUntil('ks', '55-aa', 0, positions[5], { signal, timeoutMs: 1000 }), /not held/);

      await m.release('ks', '-55');
      assert.equal(m.snapshot()[0].heldBy, undefined);
      await until('the released stream at the source', () => reached(m.snapshot()[0].position, positions[5]));
      assert.equal(m.snapshot()[0].state, 'running');
      await assertSplitExact(c.primary, c.dests, shards, db);
    } finally {
      await m.close();
    }
  });
});
