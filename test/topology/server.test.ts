import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TopologyError } from '../../src/topology/errors.ts';
import { jsonErrorOffset } from '../../src/topology/json.ts';
import { LockHeldError, shardLockName } from '../../src/topology/coordination.ts';
import { openTopology, type TopologyServer } from '../../src/topology/server.ts';
import { setTabletType } from '../../src/topology/shards.ts';
import type { Topology } from '../../src/topology/types.ts';
import { bumpCounter } from './fixtures/bump.ts';
import { BACKENDS } from './fixtures/backends.ts';
import { exampleTopology } from './fixtures/topology.ts';

const here = path.dirname(fileURLToPath(import.meta.url));
let dir: string;
let n = 0;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'shardworker-topo-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function topoFile(content: unknown = exampleTopology()): Promise<string> {
  const file = path.join(dir, `topo-${++n}.json`);
  await writeFile(file, typeof content === 'string' ? content : JSON.stringify(content, null, 2));
  return file;
}

async function rejectsWith(p: Promise<unknown>, ...parts: (string | RegExp)[]) {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof TopologyError, `expected a TopologyError, got ${String(e)}`);
    for (const part of parts) {
      if (typeof part === 'string') assert.ok(e.message.includes(part), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(part)}`);
      else assert.match(e.message, part);
    }
    return true;
  });
}

describe('openTopology', () => {
  it('opens file:PATH and describes it', async () => {
    const file = await topoFile();
    const topo = await openTopology(`file:${file}`);
    assert.equal(topo.describe(), `file:${file}`);
    assert.deepEqual(await topo.read(), exampleTopology());
  });
  it('refuses other backends naming the spec', async () => {
    for (const spec of ['etcd:http://localhost:2379', '/tmp/topo.json', 'file:', '', 'consul://x:1/p']) {
      await rejectsWith(openTopology(spec), `unsupported topology ${JSON.stringify(spec)}`);
    }
  });
  it('names a missing file', async () => {
    const file = path.join(dir, 'nope.json');
    await rejectsWith(openTopology(`file:${file}`), `topology file ${file} does not exist`);
  });
  it('names the file and place of invalid JSON', async () => {
    const file = await topoFile('{\n  "keyspaces": {},\n  "tablets": { x }\n}\n');
    await rejectsWith(openTopology(`file:${file}`), `${file}: invalid JSON at line 3 column 16`);
    const cut = await topoFile('{"keyspaces": {');
    await rejectsWith(openTopology(`file:${cut}`), `${cut}: invalid JSON at line 1 column 16`);
  });
  it('names the file of an invalid topology', async () => {
    const bad = exampleTopology();
    bad.tablets['zone1-101'].keyspace = 'comerce';
    const file = await topoFile(bad);
    await rejectsWith(openTopology(`file:${file}`), `${file}: tablets.zone1-101: unknown keyspace "comerce"`);
  });
  it('names an unreadable file', async () => {
    const file = path.join(dir, 'a-directory.json');
    await mkdir(file);
    await rejectsWith(openTopology(`file:${file}`), `cannot read topology file ${file}`);
  });
});

describe('jsonErrorOffset', () => {
  it('finds the first error V8 gives no position for', () => {
    assert.equal(jsonErrorOffset('{"a":}'), 5);
    assert.equal(jsonErrorOffset('[1,]'), 3);
    assert.equal(jsonErrorOffset('{"a": tru}'), 6);
    assert.equal(jsonErrorOffset('{"a": [1, {"b": null}], "c": "\\u00e9"}'), -1);
    assert.equal(jsonErrorOffset(''), 0);
  });
});

describe('update', () => {
  it('writes what fn changed, returns its result, and keeps the file valid and pretty', async () => {
    const file = await topoFile();
    const topo = await openTopology(`file:${file}`);
    const previous = await topo.update((t) => setTabletType(t, 'zone1-101', 'worker', { jobId: 'j1', previousType: 'rdonly', since: 'now' }));
    assert.equal(previous, 'rdonly');
    const text = await readFile(file, 'utf8');
    assert.ok(text.endsWith('}\n') && text.includes('\n  "keyspaces": {'));
    const t = JSON.parse(text) as Topology;
    assert.equal(t.tablets['zone1-101'].type, 'worker');
    assert.deepEqual(t.tablets['zone1-101'].workerJob, { jobId: 'j1', previousType: 'rdonly', since: 'now' });
    assert.deepEqual(await topo.read(), t);
  });

  it('writes nothing when fn throws, and releases the lock', async () => {
    const file = await topoFile();
    const before = await readFile(file, 'utf8');
    const topo = await openTopology(`file:${file}`);
    await assert.rejects(
      topo.update((t) => {
        t.tablets['zone1-101'].type = 'spare';
        throw new Error('changed my mind');
      }),
      /changed my mind/,
    );
    assert.equal(await readFile(file, 'utf8'), before);
    await assert.rejects(stat(`${file}.lock`), { code: 'ENOENT' });
    assert.equal(await topo.update(() => 42), 42);
  });

  it('refuses a change that makes the topology invalid, naming it, and writes nothing', async () => {
    const file = await topoFile();
    const before = await readFile(file, 'utf8');
    const topo = await openTopology(`file:${file}`);
    await rejectsWith(
      topo.update((t) => setTabletType(t, 'zone1-101', 'primary')),
      `${file} (after update): tablets.zone1-101: shard commerce/0 already has primary zone1-100`,
    );
    assert.equal(await readFile(file, 'utf8'), before);
  });

  it('names a file that disappeared', async () => {
    const file = await topoFile();
    const topo = await openTopology(`file:${file}`);
    await rm(file);
    await rejectsWith(
      topo.update(() => undefined),
      `topology file ${file} does not exist`,
    );
  });

  it('takes over a stale lock left by a dead process', async () => {
    const file = await topoFile();
    await mkdir(`${file}.lock`);
    const old = new Date(Date.now() - 60_000);
    await utimes(`${file}.lock`, old, old);
    const topo = await openTopology(`file:${file}`);
    assert.equal(await topo.update(bumpCounter), 1);
  });
});

// The contract every backend keeps (file and etcd alike).
for (const backend of BACKENDS) {
  describe(`${backend.name} backend`, () => {
    const opened: TopologyServer[] = [];
    const open = async (spec: string) => {
      const topo = await openTopology(spec);
      opened.push(topo);
      return topo;
    };
    after(async () => {
      await Promise.all(opened.map((t) => t.close()));
    });

    it('reads back what it stores, and describes itself', async () => {
      const spec = await backend.create();
      const topo = await open(spec);
      assert.equal(topo.describe(), spec);
      assert.deepEqual(await topo.read(), exampleTopology());
    });

    it('update writes what fn changed and returns its result; another server sees it', async () => {
      const spec = await backend.create();
      const topo = await open(spec);
      const previous = await topo.update((t) => setTabletType(t, 'zone1-101', 'worker', { jobId: 'j1', previousType: 'rdonly', since: 'now' }));
      assert.equal(previous, 'rdonly');
      const t = await (await open(spec)).read();
      assert.equal(t.tablets['zone1-101'].type, 'worker');
      assert.deepEqual(t.tablets['zone1-101'].workerJob, { jobId: 'j1', previousType: 'rdonly', since: 'now' });
      assert.deepEqual(await topo.read(), t);
    });

    it('update writes nothing when fn throws', async () => {
      const topo = await open(await backend.create());
      const before = await topo.read();
      await assert.rejects(
        topo.update((t) => {
          t.tablets['zone1-101'].type = 'spare';
          throw new Error('changed my mind');
        }),
        /changed my mind/,
      );
      assert.deepEqual(await topo.read(), before);
      assert.equal(await topo.update(() => 42), 42);
    });

    it('refuses a change that makes the topology invalid, naming it, and writes nothing', async () => {
      const topo = await open(await backend.create());
      const before = await topo.read();
      await rejectsWith(
        topo.update((t) => setTabletType(t, 'zone1-101', 'primary')),
        '(after update): tablets.zone1-101: shard commerce/0 already has primary zone1-100',
      );
      assert.deepEqual(await topo.read(), before);
    });

    it('keeps unknown top-level fields, adds and removes entries', async () => {
      const topo = await open(await backend.create());
      await topo.update((t) => {
        (t as Topology & { note?: string }).note = 'kept';
        delete t.tablets['zone1-101'];
        t.tablets['zone1-102'] = { keyspace: 'commerce', shard: '0', type: 'replica', host: '127.0.0.1', port: 15309, dbName: 'commerce', user: 'root' };
      });
      const t = (await topo.read()) as Topology & { note?: string };
      assert.equal(t.note, 'kept');
      assert.deepEqual(Object.keys(t.tablets).sort(), ['zone1-100', 'zone1-102', 'zone1-200', 'zone1-300']);
    });

    it('never loses a write among 20 concurrent updates', async () => {
      const spec = await backend.create();
      const topo = await open(spec);
      const other = await open(spec); // a second server on the same topology takes turns too
      const readers = Array.from({ length: 20 }, () => topo.read()); // reads meanwhile always see a whole topology
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? other : topo).update(bumpCounter)));
      await Promise.all(readers);
      assert.deepEqual(
        [...results].sort((a, b) => a - b),
        Array.from({ length: 20 }, (_, i) => i + 1),
      );
      const t = (await topo.read()) as Topology & { counter?: number };
      assert.equal(t.counter, 20);
      assert.equal(t.tablets['zone1-101'].type, 'rdonly');
    });

    it('never loses a write among processes racing to change the same tablet', { timeout: 120_000 }, async () => {
      const spec = await backend.create();
      const updater = path.join(here, 'fixtures', 'concurrent-updater.ts');
      const run = () =>
        new Promise<void>((resolve, reject) => {
          const child = spawn(process.execPath, ['--import', 'tsx', updater, spec, '8'], { stdio: ['ignore', 'ignore', 'pipe'] });
          let stderr = '';
          child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
          child.on('error', reject);
          child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`updater exited ${code}: ${stderr}`))));
        });
      const topo = await open(spec);
      await Promise.all([run(), run(), run(), ...Array.from({ length: 8 }, () => topo.update(bumpCounter))]);
      const t = (await topo.read()) as Topology & { counter?: number };
      assert.equal(t.counter, 32);
      assert.equal(t.tablets['zone1-101'].type, 'rdonly'); // 32 flips: every one of them landed
    });

    it('tells a listener about a change made by another server', async () => {
      const spec = await backend.create();
      const watcher = await open(spec);
      const changed = new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no change notice within 10 s')), 10_000); // also keeps the loop alive
        const stop = watcher.onChange(() => {
          stop();
          clearTimeout(timer);
          resolve();
        });
      });
      await new Promise((r) => setTimeout(r, 1_100)); // the file poll takes its first stat
      await (await open(spec)).update((t) => setTabletType(t, 'zone1-101', 'spare'));
      await changed;
      assert.equal((await watcher.read()).tablets['zone1-101'].type, 'spare');
    });

    it('locks all or nothing, refuses a held lock naming its holder, frees it on release', async () => {
      const spec = await backend.create();
      const a = await open(spec);
      const b = await open(spec);
      const owner = (jobId: string) => ({ host: 'host-a', pid: process.pid, jobId, since: '2026-12-04T17:00:00.000Z' });
      const held = await a.locks.acquire([shardLockName('commerce', '0'), shardLockName('commerce', '-80')], owner('job-1'));
      await assert.rejects(b.locks.acquire([shardLockName('commerce', '80-'), shardLockName('commerce', '-80')], owner('job-2')), (e: unknown) => {
        assert.ok(e instanceof LockHeldError);
        assert.equal(e.message, `shard commerce/-80 is locked by job job-1 (pid ${process.pid} on host-a, since 2026-12-04T17:00:00.000Z)`);
        assert.deepEqual(e.holder, owner('job-1'));
        return true;
      });
      assert.equal(await b.locks.holder(shardLockName('commerce', '80-')), undefined, 'a refused acquire takes nothing');
      assert.deepEqual(await b.locks.holder(shardLockName('commerce', '0')), owner('job-1'));
      await held.release();
      await held.release();
      const again = await b.locks.acquire([shardLockName('commerce', '-80')], owner('job-3'));
      assert.equal(again.lost.aborted, false);
      await again.release();
    });

    it("frees a dead holder's locks (etcd: once its lease expires)", { timeout: 60_000 }, async () => {
      const spec = await backend.create(undefined, '?lease-ttl=2');
      const child = spawn(
        process.execPath,
        ['--import', 'tsx', path.join(here, 'fixtures', 'lock-holder.ts'), spec, 'job-dead', shardLockName('commerce', '0')],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => d.toString().includes('locked') && resolve());
        child.on('exit', (code) => reject(new Error(`lock holder exited ${code}`)));
      });
      const topo = await open(spec);
      const owner = { host: 'here', pid: process.pid, jobId: 'job-alive', since: 'now' };
      await assert.rejects(topo.locks.acquire([shardLockName('commerce', '0')], owner), /shard commerce\/0 is locked by job job-dead \(pid \d+ on /);
      child.kill('SIGKILL');
      const killedAt = Date.now();
      for (;;) {
        try {
          const held = await topo.locks.acquire([shardLockName('commerce', '0')], owner);
          await held.release();
          break;
        } catch (err) {
          if (!(err instanceof LockHeldError) || Date.now() - killedAt > 10_000) throw err;
          await new Promise((r) => setTimeout(r, 200));
        }
      }
      assert.ok(Date.now() - killedAt < 10_000);
    });
  });
}
