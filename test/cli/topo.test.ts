// `shardworker --topo SPEC topo import FILE [--replace]`, `topo export`, and `sandbox up` with an etcd --topo: the
// exact command lines, against the test etcd cluster.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { exampleTopology } from '../topology/fixtures/topology.ts';
import { TEST_BASE_PORT, TEST_SANDBOX_DIR } from '../helpers/cluster.ts';
import { freshEtcdSpec } from '../helpers/etcd.ts';

const BIN = new URL('../../bin/shardworker.js', import.meta.url).pathname;
const dir = mkdtempSync(path.join(tmpdir(), 'sw-topo-cli-'));

function shardworker(...args: string[]) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('shardworker topo', () => {
  test('import FILE puts a topology file into etcd, export prints it back; a second import needs --replace', () => {
    const file = path.join(dir, 'topo.json');
    writeFileSync(file, JSON.stringify(exampleTopology(), null, 2));
    const spec = freshEtcdSpec();
    const imported = shardworker('--topo', spec, 'topo', 'import', file);
    assert.equal(imported.code, 0, imported.stderr);
    assert.equal(imported.stdout, `imported 2 keyspaces and 4 tablets into ${spec}\n`);
    const exported = shardworker('--topo', spec, 'topo', 'export');
    assert.equal(exported.code, 0, exported.stderr);
    assert.deepEqual(JSON.parse(exported.stdout), exampleTopology());

    const again = shardworker('--topo', spec, 'topo', 'import', file);
    assert.equal(again.code, 2);
    assert.equal(again.stderr, `shardworker: ${spec} already holds a topology (2 keyspaces, 4 tablets); add --replace to overwrite it\n`);
    const changed = exampleTopology();
    delete changed.tablets['zone1-101'];
    writeFileSync(file, JSON.stringify(changed));
    assert.equal(shardworker('--topo', spec, 'topo', 'import', file, '--replace').code, 0);
    assert.deepEqual(JSON.parse(shardworker('--topo', spec, 'topo', 'export').stdout), changed);
  });

  test('refuses a bad file or a bad line, naming it, and writes nothing', () => {
    const spec = freshEtcdSpec();
    const bad = exampleTopology();
    bad.tablets['zone1-101'].keyspace = 'comerce';
    const file = path.join(dir, 'bad.json');
    writeFileSync(file, JSON.stringify(bad));
    const r = shardworker('--topo', spec, 'topo', 'import', file);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /tablets\.zone1-101: unknown keyspace "comerce"/);
    assert.deepEqual(JSON.parse(shardworker('--topo', spec, 'topo', 'export').stdout), { keyspaces: {}, tablets: {} });
    assert.match(shardworker('--topo', spec, 'topo', 'import').stderr, /topo import takes one FILE, got none/);
    assert.match(shardworker('topo', 'export').stderr, /--topo is required/);
    assert.match(shardworker('topo', '--help').stdout, /Usage: shardworker topo import FILE \[--replace\] --topo SPEC/);
  });

  test('sandbox up with --topo etcd://… puts the sandbox topology there too', () => {
    const spec = freshEtcdSpec();
    // The suite's sandbox is already up: `up` with the same layout reuses it and only writes the topology.
    const r = shardworker(
      '--topo',
      spec,
      'sandbox',
      'up',
      '--dir',
      TEST_SANDBOX_DIR,
      '--base-port',
      String(TEST_BASE_PORT),
      '--destinations',
      '3',
      '--rows',
      '1000',
    );
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`topology also in ${spec.replace(/[.?]/g, '\\$&')}\n`));
    const file = JSON.parse(readFileSync(path.join(TEST_SANDBOX_DIR, 'topology.json'), 'utf8')) as unknown;
    assert.deepEqual(JSON.parse(shardworker('--topo', spec, 'topo', 'export').stdout), file);
  });
});
