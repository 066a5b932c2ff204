// What only the etcd backend has: its --topo spec, its key layout, and an update that keeps losing its race.

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { TopologyError } from '../../src/topology/errors.ts';
import { MAX_UPDATE_ATTEMPTS } from '../../src/topology/etcd/etcd-server.ts';
import { parseEtcdSpec } from '../../src/topology/etcd/etcd-spec.ts';
import { openTopology, type TopologyServer } from '../../src/topology/server.ts';
import { setTabletType } from '../../src/topology/shards.ts';
import { BACKENDS } from './fixtures/backends.ts';

describe('parseEtcdSpec', () => {
  it('takes members, a prefix and a lease TTL', () => {
    assert.deepEqual(parseEtcdSpec('etcd://h1:2379,10.0.0.2:2379/shardworker/prod'), {
      hosts: ['h1:2379', '10.0.0.2:2379'],
      root: '/shardworker/prod',
      leaseTtlSeconds: 15,
    });
    assert.deepEqual(parseEtcdSpec('etcd://[::1]:2379/p/?lease-ttl=5'), { hosts: ['[::1]:2379'], root: '/p', leaseTtlSeconds: 5 });
  });
  it('refuses a bad spec naming the bad part', () => {
    const cases: [string, string][] = [
      ['etcd://h1:2379', 'a PREFIX is required'],
      ['etcd://h1/p', '"h1" is no HOST:PORT'],
      ['etcd://h1:99999/p', '"h1:99999" is no HOST:PORT'],
      ['etcd://h1:2379,/p', '"" is no HOST:PORT'],
      ['etcd://h1:2379/a//b', 'prefix "a//b" may hold only'],
      ['etcd://h1:2379/p?ttl=3', 'unknown parameter "ttl"'],
      ['etcd://h1:2379/p?lease-ttl=1', 'lease-ttl must be whole seconds from 2 to 3600, got "1"'],
    ];
    for (const [spec, why] of cases) {
      assert.throws(
        () => parseEtcdSpec(spec),
        (e: unknown) => e instanceof TopologyError && e.message.includes(why) && e.message.includes(JSON.stringify(spec)),
        spec,
      );
    }
  });
});

describe('etcd backend races', () => {
  const opened: TopologyServer[] = [];
  after(async () => {
    await Promise.all(opened.map((t) => t.close()));
  });

  it('an update that loses every race fails naming the key and writes nothing', async () => {
    const spec = await BACKENDS.find((b) => b.name === 'etcd')!.create();
    const mine = await openTopology(spec);
    const rival = await openTopology(spec);
    opened.push(mine, rival);
    let rivalWrites = 0;
    await assert.rejects(
      mine.update(async (t) => {
        // Each time this update has read, another process changes the same tablet before it commits.
        await rival.update((r) => setTabletType(r, 'zone1-101', ++rivalWrites % 2 ? 'spare' : 'rdonly'));
        setTabletType(t, 'zone1-101', 'drained');
      }),
      (e: unknown) => {
        assert.ok(e instanceof TopologyError);
        assert.match(
          e.message,
          new RegExp(
            `update lost the race ${MAX_UPDATE_ATTEMPTS} times \\(key /shardworker-test/\\w+/topo/tablets/zone1-101 changed under it each time\\); nothing of it was written`,
          ),
        );
        return true;
      },
    );
    assert.equal(rivalWrites, MAX_UPDATE_ATTEMPTS);
    assert.equal((await mine.read()).tablets['zone1-101'].type, rivalWrites % 2 ? 'spare' : 'rdonly', "every rival write stands, none of the loser's");
  });
});
