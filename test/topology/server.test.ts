import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { TopologyError } from '../../src/topology/errors.ts';
import { jsonErrorOffset } from '../../src/topology/json.ts';
import { openTopology } from '../../src/topology/server.ts';
import { setTabletType } from '../../src/topology/shards.ts';
import type { Topology } from '../../src/topology/types.ts';
import { bumpCounter } from './fixtures/bump.ts';
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

const counterOf = async (file: string) => (JSON.parse(await readFile(file, 'utf8')) as { counter?: number }).counter;

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
    for (const spec of ['etcd:http://localhost:2379', '/tmp/topo.json', 'file:', '']) {
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
    await rejectsWith(topo.update(() => undefined), `topology file ${file} does not exist`);
  });

  it('never loses a write among 20 concurrent updates', async () => {
    const file = await topoFile();
    const topo = await openTopology(`file:${file}`);
    const other = await openTopology(`file:${file}`); // a second server on the same file takes turns too
    const readers = Array.from({ length: 20 }, () => topo.read()); // reads meanwhile always see a whole file
    const results = await Promise.all(Array.from({ length: 20 }, (_, i) => (i % 2 ? other : topo).update(bumpCounter)));
    await Promise.all(readers);
    assert.deepEqual([...results].sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i + 1));
    assert.equal(await counterOf(file), 20);
    assert.equal((await topo.read()).tablets['zone1-101'].type, 'rdonly');
  });

  it('never loses a write among processes updating at once', { timeout: 120_000 }, async () => {
    const file = await topoFile();
    const updater = path.join(here, 'fixtures', 'concurrent-updater.ts');
    const run = () =>
      new Promise<void>((resolve, reject) => {
        const child = spawn(process.execPath, ['--import', 'tsx', updater, file, '8'], { stdio: ['ignore', 'ignore', 'pipe'] });
        let stderr = '';
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`updater exited ${code}: ${stderr}`))));
      });
    const topo = await openTopology(`file:${file}`);
    await Promise.all([run(), run(), run(), ...Array.from({ length: 8 }, () => topo.update(bumpCounter))]);
    assert.equal(await counterOf(file), 32);
    await topo.read();
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
