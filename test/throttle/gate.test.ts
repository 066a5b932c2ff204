import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseGtidList } from '../../src/mysql/gtid.ts';
import { WriteGate } from '../../src/throttle/gate.ts';
import { PositionHistory } from '../../src/throttle/replication-lag.ts';
import { LiveControl } from '../../src/worker/live-control.ts';
import { OptionError } from '../../src/worker/options.ts';

const never = new AbortController().signal;

/** Whether `p` settles within `ms`. */
async function settles(p: Promise<unknown>, ms = 30): Promise<boolean> {
  return Promise.race([
    p.then(
      () => true,
      () => true,
    ),
    sleep(ms).then(() => false),
  ]);
}

describe('WriteGate', () => {
  it('lets reads and writes through when nothing holds them', async () => {
    const gate = new WriteGate();
    await gate.pass(never, 'write', 'a');
    await gate.pass(never, 'read');
  });

  it('holds reads and writes while paused, and lets them go on resume', async () => {
    const gate = new WriteGate();
    assert.equal(gate.pause(), true);
    assert.equal(gate.pause(), false, 'a second pause changes nothing');
    const w = gate.pass(never, 'write', 'a');
    const r = gate.pass(never, 'read');
    assert.equal(await settles(w), false);
    assert.equal(await settles(r), false);
    assert.equal(gate.resume(), true);
    assert.equal(await settles(w), true);
    assert.equal(await settles(r), true);
    assert.equal(gate.resume(), false);
  });

  it('holds writes, not reads, while throttled; counts the time and keeps the reason', async () => {
    let now = 1_000;
    const gate = new WriteGate({ now: () => now });
    gate.throttle('replica zone1-201 is 3.0 s behind (bound 2 s)');
    const w = gate.pass(never, 'write', 'a');
    assert.equal(await settles(gate.pass(never, 'read')), true);
    assert.equal(await settles(w), false);
    now += 2_500;
    let s = gate.snapshot();
    assert.equal(s.throttled, true);
    assert.equal(s.throttledSecondsTotal, 2.5);
    assert.match(s.throttleReason ?? '', /zone1-201/);
    gate.throttle(null);
    assert.equal(await settles(w), true);
    now += 10_000;
    s = gate.snapshot();
    assert.equal(s.throttled, false);
    assert.equal(s.throttledSecondsTotal, 2.5, 'the total stops when the throttle ends');
    assert.match(s.lastThrottleReason ?? '', /zone1-201/);
  });

  it('a pass waiting at a closed gate rejects when its signal aborts', async () => {
    const gate = new WriteGate();
    gate.pause();
    const abort = new AbortController();
    const w = gate.pass(abort.signal, 'write');
    abort.abort(new Error('canceled'));
    await assert.rejects(w, /canceled/);
  });

  it('spaces writes to maxTps per key, and a tune takes effect at once', async () => {
    const gate = new WriteGate({ maxTps: 20 });
    const t0 = Date.now();
    for (let i = 0; i < 30; i++) await gate.pass(never, 'write', 'a'); // 20 of burst, then 10 at 20/s
    const took = Date.now() - t0;
    assert.ok(took >= 400 && took < 1500, `30 writes at 20/s after a burst of 20 took ${took} ms`);
    // Another destination has a bucket of its own.
    const t1 = Date.now();
    for (let i = 0; i < 10; i++) await gate.pass(never, 'write', 'b');
    assert.ok(Date.now() - t1 < 100);
    // A waiting write is woken by a tune to unlimited.
    gate.setMaxTps(1);
    await gate.pass(never, 'write', 'a');
    const w = gate.pass(never, 'write', 'a');
    assert.equal(await settles(w, 50), false);
    gate.setMaxTps(0);
    assert.equal(await settles(w), true);
    assert.throws(() => gate.setMaxTps(-1), RangeError);
  });

  it('counts paused time', () => {
    let now = 0;
    const gate = new WriteGate({ now: () => now });
    gate.pause();
    now = 1_500;
    assert.equal(gate.snapshot().pausedSecondsTotal, 1.5);
    gate.resume();
    now = 9_000;
    assert.equal(gate.snapshot().pausedSecondsTotal, 1.5);
    assert.equal(gate.snapshot().pausedSince, null);
  });
});

describe('LiveControl.tune', () => {
  it('changes maxTps and maxReplicationLag, and names a bad field before changing anything', () => {
    const c = new LiveControl({ maxTps: 0, maxReplicationLag: 0 });
    assert.deepEqual(c.tune({ maxTps: 50, maxReplicationLag: '2s' }), { maxTps: 50, maxReplicationLag: 2000 });
    assert.equal(c.snapshot().maxTps, 50);
    assert.equal(c.snapshot().maxReplicationLagSeconds, 2);
    c.tune({ maxReplicationLag: 1.5 });
    assert.equal(c.maxReplicationLagMs, 1500);
    for (const [body, field] of [
      [{ maxTps: -1 }, 'maxTps'],
      [{ maxTps: 1.5 }, 'maxTps'],
      [{ maxTps: 5, maxReplicationLag: 'soon' }, 'maxReplicationLag'],
      [{ destinationWriterCount: 4 }, 'destinationWriterCount'],
      [{ speed: 1 }, 'speed'],
      [{}, 'body'],
    ] as const) {
      assert.throws(
        () => c.tune(body as Record<string, unknown>),
        (e: unknown) => e instanceof OptionError && e.field === field,
        JSON.stringify(body),
      );
    }
    assert.equal(c.snapshot().maxTps, 50, 'a refused tune changed nothing');
  });
});

describe('PositionHistory', () => {
  const g = parseGtidList;
  it('dates a replica by the oldest primary position it has not reached', () => {
    const h = new PositionHistory();
    h.record(0, g('0-1-10'));
    h.record(500, g('0-1-20'));
    h.record(1000, g('0-1-30'));
    h.record(1500, g('0-1-30')); // no change: no new sample
    assert.equal(h.lagSeconds(2000, g('0-1-30')), 0);
    assert.equal(h.lagSeconds(2000, g('0-1-25')), 1);
    assert.equal(h.lagSeconds(2000, g('0-1-15')), 1.5);
    assert.equal(h.lagSeconds(2000, g('0-1-5')), 2);
    assert.equal(h.lagSeconds(2000, g('')), 2);
    h.prune([g('0-1-20')]);
    assert.equal(h.lagSeconds(3000, g('0-1-20')), 2, 'the samples still needed survive a prune');
    assert.equal(h.lagSeconds(3000, g('0-1-30')), 0);
  });
});
