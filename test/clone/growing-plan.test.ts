import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GrowingPlan } from '../../src/clone/growing-plan.ts';

describe('GrowingPlan', () => {
  const shape = { column: null, key: ['a'] };
  /** A walk's whole plan: two chunks of key `a`, cut at `bound`. */
  const cutAt = (bound: string) => ({
    column: null,
    key: ['a'],
    chunks: [
      { start: null, end: [bound] },
      { start: [bound], end: null },
    ],
  });
  it('hands chunk i over as soon as it is known, and null past the end once complete', async () => {
    const g = new GrowingPlan();
    const first = g.chunk(0);
    const second = g.chunk(1);
    g.add({ start: null, end: ['61'] }, shape);
    assert.deepEqual(await first, { start: null, end: ['61'] });
    assert.deepEqual(g.plan.key, ['a']);
    const past = g.chunk(2);
    g.complete(cutAt('61'));
    assert.deepEqual(await second, { start: ['61'], end: null });
    assert.equal(await past, null);
    assert.equal((await g.done).chunks.length, 2);
  });

  it("a walk's failure reaches the readers waiting, and a plan that changed is refused", async () => {
    const g = new GrowingPlan();
    const waiting = g.chunk(0);
    g.fail(new Error('lost'));
    await assert.rejects(waiting, /lost/);
    await assert.rejects(g.done, /lost/);
    const h = new GrowingPlan();
    h.add({ start: null, end: ['61'] }, shape);
    h.complete(cutAt('62'));
    await assert.rejects(h.done, /changed while it was being copied/);
  });
});
