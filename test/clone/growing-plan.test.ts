import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GrowingPlan } from '../../src/clone/growing-plan.ts';
import type { ChunkPlan } from '../../src/mysql/chunker.ts';

/** A record that lands when the test says so, keeping what each held. */
function recorder() {
  const records: ChunkPlan[] = [];
  const landing: (() => void)[] = [];
  const record = (plan: ChunkPlan) => {
    records.push(structuredClone(plan));
    return new Promise<void>((resolve) => landing.push(resolve));
  };
  const land = async () => {
    landing.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { records, record, land };
}

const OPEN: ChunkPlan = { column: null, key: ['a'], chunks: [], open: { step: 10, maxChunks: 100 } };

/** An open plan, records at most every `recordEveryMs`, with its first chunk cut and its mark waiting for a record. */
function openWithOneChunk(recordEveryMs: number) {
  const r = recorder();
  const g = new GrowingPlan(r.record, recordEveryMs);
  g.start(OPEN, false);
  g.add({ start: null, end: ['61'] });
  return { r, g, first: g.recordedUpTo(1) };
}

describe('GrowingPlan', () => {
  it('a whole plan is recorded once, and a chunk of it is marked only after', async () => {
    const r = recorder();
    const g = new GrowingPlan(r.record);
    g.start(
      {
        column: 'id',
        chunks: [
          { start: null, end: '5' },
          { start: '5', end: null },
        ],
      },
      false,
    );
    await g.started;
    let marked = false;
    const mark = g.recordedUpTo(1).then(() => (marked = true));
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(marked, false);
    await r.land();
    await mark;
    assert.equal(r.records.length, 1);
    assert.equal((await g.done).chunks.length, 2);
  });

  it('an open plan is recorded as it grows, the chunks cut meanwhile in the next record, then whole', async () => {
    const { r, g, first } = openWithOneChunk(0);
    // Cut while the first record is being written: both wait for the next one.
    g.add({ start: ['61'], end: ['62'] });
    g.add({ start: ['62'], end: ['63'] });
    const second = g.recordedUpTo(2);
    const third = g.recordedUpTo(3);
    await r.land();
    await first;
    assert.deepEqual(r.records[0].chunks.length, 1);
    assert.deepEqual(r.records[0].open, OPEN.open);
    await r.land();
    await Promise.all([second, third]);
    assert.equal(r.records.length, 2, 'one record for the two chunks cut meanwhile');
    assert.equal(r.records[1].chunks.length, 3);
    g.complete();
    const last = g.recordedUpTo(4);
    await r.land();
    await last;
    const whole = await g.done;
    assert.equal(whole.open, undefined);
    assert.deepEqual(whole.chunks.at(-1), { start: ['63'], end: null });
    assert.deepEqual(r.records[2], whole);
  });

  it("an earlier run's open plan is not recorded again; read to its end it is one chunk more, recorded whole", async () => {
    const r = recorder();
    const g = new GrowingPlan(r.record);
    g.start({ ...OPEN, chunks: [{ start: null, end: ['61'] }] }, true);
    await g.recordedUpTo(1);
    assert.equal(r.records.length, 0);
    g.complete();
    await r.land();
    assert.deepEqual((await g.done).chunks, [
      { start: null, end: ['61'] },
      { start: ['61'], end: null },
    ]);
  });

  it('an open plan read to its end without a cut is the whole table in one chunk', async () => {
    const r = recorder();
    const g = new GrowingPlan(r.record);
    g.start(OPEN, false);
    g.complete();
    await r.land();
    assert.deepEqual((await g.done).chunks, [{ start: null, end: null }]);
  });

  it('a failure reaches whoever waits on the plan', async () => {
    const g = new GrowingPlan(() => Promise.resolve());
    g.fail(new Error('lost'));
    await assert.rejects(g.started, /lost/);
    await assert.rejects(g.done, /lost/);
    await assert.rejects(g.recordedUpTo(1), /lost/);
  });

  it('an open plan is recorded at most once an interval; a chunk waiting for the next record is released by the whole one', async () => {
    const { r, g, first } = openWithOneChunk(200);
    await r.land();
    await first;
    const started = performance.now();
    g.add({ start: ['61'], end: ['62'] });
    const second = g.recordedUpTo(2);
    await new Promise((resolve) => setTimeout(resolve, 50));
    assert.equal(r.records.length, 1, 'no second record within the interval');
    await new Promise((resolve) => setTimeout(resolve, 200));
    assert.equal(r.records.length, 2);
    assert.ok(performance.now() - started >= 200);
    await r.land();
    await second;
    // Within the next interval the plan is read to its end: the chunk's mark waits for the whole record only.
    g.add({ start: ['62'], end: ['63'] });
    const third = g.recordedUpTo(3);
    g.complete();
    await r.land();
    await third;
    assert.equal(r.records.length, 3);
    assert.equal(r.records[2].open, undefined);
  });
});
