// Bad topology and credentials files, table-driven: each is refused with a message that names the file and the
// entry at fault, and a credentials message never quotes a password.

import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { loadCredentials } from '../../src/topology/credentials.ts';
import { TopologyError } from '../../src/topology/errors.ts';
import { openTopology } from '../../src/topology/server.ts';
import { exampleTopology } from './fixtures/topology.ts';

type Json = Record<string, any>; // raw JSON, poked at freely by the cases below

const SECRET = 'S3cr3t-pw-bad-files';

let dir: string;
let n = 0;
before(async () => {
  dir = await mkdtemp(path.join(tmpdir(), 'sw-bad-files-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Where a case's file is: written with this text, a directory, or nothing at all. */
type Make = { text: string } | { directory: true } | { missing: true };

async function place(make: Make): Promise<string> {
  const file = path.join(dir, `file-${++n}.json`);
  if ('text' in make) await writeFile(file, make.text);
  else if ('directory' in make) await mkdir(file);
  return file;
}

function topo(change: (t: Json) => void): Make {
  const t = structuredClone(exampleTopology()) as Json;
  change(t);
  return { text: JSON.stringify(t, null, 2) };
}

async function refused(p: Promise<unknown>, file: string, parts: (string | RegExp)[]): Promise<string> {
  let message = '';
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof TopologyError, `expected a TopologyError, got ${String(e)}`);
    message = e.message;
    return true;
  });
  assert.ok(message.includes(file), `message ${JSON.stringify(message)} does not name the file`);
  for (const part of parts) {
    if (typeof part === 'string') assert.ok(message.includes(part), `message ${JSON.stringify(message)} lacks ${JSON.stringify(part)}`);
    else assert.match(message, part);
  }
  return message;
}

const topologyCases: Array<[string, Make, (string | RegExp)[]]> = [
  ['missing', { missing: true }, [/^topology file \S+ does not exist$/]],
  ['a directory (unreadable)', { directory: true }, [/^cannot read topology file \S+: it is a directory, not a file$/]],
  ['empty', { text: '' }, [/^topology file \S+: invalid JSON at line 1 column 1/]],
  ['cut short', { text: '{"keyspaces": {' }, ['invalid JSON at line 1 column 16']],
  ['a trailing comma', { text: '{\n  "keyspaces": {},\n}\n' }, ['invalid JSON at line 3 column 1']],
  ['not JSON at all', { text: 'keyspaces: commerce\n' }, ['invalid JSON at line 1 column 1']],
  ['a byte-order mark, then an error', { text: '\uFEFF{"tablets": [}' }, ['invalid JSON at line 1 column 14']],
  ['an array', { text: '[]' }, [': the topology must be a JSON object, got an array']],
  ['null', { text: 'null' }, [': the topology must be a JSON object, got null']],
  ['keyspaces an array', { text: '{"keyspaces": []}' }, [': keyspaces: must be an object, got []']],
  ['tablets a string', { text: '{"tablets": "zone1-100"}' }, [': tablets: must be an object, got "zone1-100"']],
  ['a keyspace that is a string', topo((t) => (t.keyspaces.commerce = 'commerce')), [': keyspaces.commerce: must be an object, got "commerce"']],
  ['a shard name that is no key range', topo((t) => (t.keyspaces.commerce.shards['80-zz'] = {})), [': keyspaces.commerce.shards.80-zz: ']],
  ['a shard name with a path in it', topo((t) => (t.keyspaces.commerce.shards['../80'] = {})), [': keyspaces.commerce.shards.../80: ']],
  [
    'servedTypes not an array',
    topo((t) => (t.keyspaces.commerce.shards['0'].servedTypes = 'primary')),
    [': keyspaces.commerce.shards.0.servedTypes: must be an array, got "primary"'],
  ],
  [
    'an unknown served type',
    topo((t) => (t.keyspaces.commerce.shards['0'].servedTypes = ['master'])),
    [': keyspaces.commerce.shards.0.servedTypes[0]: unknown tablet type "master"'],
  ],
  [
    'overlapping serving shards',
    topo((t) => (t.keyspaces.commerce.shards['-80'].servedTypes = ['primary'])),
    [': keyspaces.commerce.shards: serving shards 0 and -80 overlap (both serve primary)'],
  ],
  [
    'a bad sharding column type',
    topo((t) => (t.keyspaces.commerce.shardingColumnType = 'int')),
    [': keyspaces.commerce: shardingColumnType must be one of uint64, bytes, got "int"'],
  ],
  [
    'servedFrom an unknown keyspace',
    topo((t) => (t.keyspaces.customer.servedFrom = { keyspace: 'nosuch' })),
    [': keyspaces.customer.servedFrom: unknown keyspace "nosuch"'],
  ],
  ['a tablet of an unknown keyspace', topo((t) => (t.tablets['zone1-101'].keyspace = 'comerce')), [': tablets.zone1-101: unknown keyspace "comerce"']],
  ['a tablet of an unknown shard', topo((t) => (t.tablets['zone1-101'].shard = '40-')), [': tablets.zone1-101: unknown shard "40-" of keyspace commerce']],
  [
    'a tablet port that is a string',
    topo((t) => (t.tablets['zone1-200'].port = '15302')),
    [': tablets.zone1-200: port must be an integer from 1 to 65535, got "15302"'],
  ],
  ['a tablet without a user', topo((t) => delete t.tablets['zone1-300'].user), [': tablets.zone1-300: user must be a non-empty string, got nothing']],
  [
    'a tablet of an unknown type',
    topo((t) => (t.tablets['zone1-300'].type = 'master')),
    [': tablets.zone1-300: type must be one of primary, replica, rdonly, worker, spare, drained, got "master"'],
  ],
  ['two primaries in a shard', topo((t) => (t.tablets['zone1-101'].type = 'primary')), [': tablets.zone1-101: shard commerce/0 already has primary zone1-100']],
  ['a tablet that is a list', topo((t) => (t.tablets['zone1-100'] = [])), [': tablets.zone1-100: must be an object, got []']],
  [
    'a sourceShards entry without uid',
    topo((t) => (t.keyspaces.commerce.shards['-80'].sourceShards = [{ keyspace: 'commerce', shard: '0', keyRange: '-', tables: [] }])),
    [': keyspaces.commerce.shards.-80.sourceShards[0]: uid must be a non-negative integer, got nothing'],
  ],
];

describe('bad topology files: refused, naming the file and the entry', () => {
  for (const [name, make, parts] of topologyCases) {
    it(name, async () => {
      const file = await place(make);
      const message = await refused(openTopology(`file:${file}`), file, parts);
      if (!('missing' in make) && !('directory' in make)) assert.ok(message.startsWith(`topology file ${file}: `), message);
    });
  }

  it('a --topo that is no file: spec', async () => {
    await assert.rejects(openTopology('etcd:localhost:2379'), /unsupported topology "etcd:localhost:2379": expected file:PATH or etcd:/);
  });

  it('a good file with a byte-order mark is read', async () => {
    const file = await place({ text: '\uFEFF' + JSON.stringify(exampleTopology()) });
    assert.deepEqual(await (await openTopology(`file:${file}`)).read(), exampleTopology());
  });
});

const credentialCases: Array<[string, Make, (string | RegExp)[]]> = [
  ['missing', { missing: true }, [/^credentials file \S+ does not exist$/]],
  ['a directory (unreadable)', { directory: true }, [/^cannot read credentials file \S+: it is a directory, not a file$/]],
  ['empty', { text: '' }, [/^credentials file \S+: invalid JSON at line 1 column 1$/]],
  ['invalid JSON around a password', { text: `{"root": "", "sw": "${SECRET}" "app": "x"}` }, [/: invalid JSON at line 1 column \d+$/]],
  ['a password without quotes', { text: `{"sw": ${SECRET}}` }, ['invalid JSON at line 1 column 8']],
  ['cut inside a password', { text: `{"sw": "${SECRET}` }, ['invalid JSON at line 1']],
  ['a trailing comma on line 3', { text: `{\n  "sw": "${SECRET}",\n}` }, ['invalid JSON at line 3 column 1']],
  ['an array', { text: `["${SECRET}"]` }, [': expected a JSON object mapping user to password']],
  ['a string', { text: `"${SECRET}"` }, [': expected a JSON object mapping user to password']],
  ['null', { text: 'null' }, [': expected a JSON object mapping user to password']],
  ['a password that is a number', { text: '{"root": "", "sw": 123456}' }, [': user "sw": the password must be a string']],
  ['a password in an object', { text: `{"sw": {"password": "${SECRET}"}}` }, [': user "sw": the password must be a string']],
  ['a password in a list', { text: `{"root": "", "app": ["${SECRET}"]}` }, [': user "app": the password must be a string']],
  ['a null password', { text: '{"sw": null}' }, [': user "sw": the password must be a string']],
];

describe('bad credentials files: refused, naming the file and the user, never the password', () => {
  for (const [name, make, parts] of credentialCases) {
    it(name, async () => {
      const file = await place(make);
      const message = await refused(loadCredentials(file), file, parts);
      assert.ok(!message.includes(SECRET) && !message.includes('S3cr3t'), `message ${JSON.stringify(message)} leaks the password`);
      assert.ok(!message.includes('123456'), `message ${JSON.stringify(message)} quotes a value`);
    });
  }

  it('a good file with a byte-order mark is read', async () => {
    const file = await place({ text: `\uFEFF{"sw": "${SECRET}"}` });
    assert.equal((await loadCredentials(file)).sw, SECRET);
  });
});
