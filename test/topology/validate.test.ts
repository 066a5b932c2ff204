import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TopologyError } from '../../src/topology/errors.ts';
import { validateTopology } from '../../src/topology/validate.ts';
import { exampleTopology } from './fixtures/topology.ts';

type Json = Record<string, any>; // raw JSON, poked at freely by the cases below

/** The example topology as raw JSON, changed by `change`. */
function raw(change: (t: Json) => void): Json {
  const t = JSON.parse(JSON.stringify(exampleTopology())) as Json;
  change(t);
  return t;
}

function refuses(input: unknown, message: string | RegExp) {
  assert.throws(
    () => validateTopology(input, 'topo.json'),
    (e: unknown) => {
      assert.ok(e instanceof TopologyError, `expected a TopologyError, got ${String(e)}`);
      if (typeof message === 'string') assert.ok(e.message.includes(message), `message ${JSON.stringify(e.message)} lacks ${JSON.stringify(message)}`);
      else assert.match(e.message, message);
      assert.ok(e.message.startsWith('topo.json: '), `message ${JSON.stringify(e.message)} does not name the file`);
      return true;
    },
  );
}

describe('validateTopology accepts', () => {
  it('a tablet with tls true or false', () => {
    const t = validateTopology(
      raw((x) => {
        x.tablets['zone1-100'].tls = true;
        x.tablets['zone1-101'].tls = false;
      }),
      'topo.json',
    );
    assert.equal(t.tablets['zone1-100'].tls, true);
    assert.equal(t.tablets['zone1-101'].tls, false);
  });
  it('the docs/topology.md example', () => {
    const t = validateTopology(exampleTopology(), 'topo.json');
    assert.deepEqual(t, exampleTopology());
  });

  it('fills servedTypes, sourceShards, shards and tablets defaults', () => {
    const t = validateTopology({ keyspaces: { commerce: { shards: { '0': {} } }, customer: { servedFrom: { keyspace: 'commerce' } } } }, 'topo.json');
    assert.deepEqual(t.keyspaces.commerce.shards['0'], { servedTypes: [], sourceShards: [] });
    assert.deepEqual(t.keyspaces.customer.shards, {});
    assert.deepEqual(t.tablets, {});
  });

  it('an empty object', () => {
    assert.deepEqual(validateTopology({}, 'topo.json'), { keyspaces: {}, tablets: {} });
  });

  it('keeps unknown keys and does not touch its input', () => {
    const input = raw((t) => {
      t.comment = 'hello';
      t.keyspaces.commerce.note = 1;
      delete t.keyspaces.commerce.shards['-80'].sourceShards;
    });
    const copy = JSON.parse(JSON.stringify(input));
    const t = validateTopology(input, 'topo.json') as unknown as Json;
    assert.equal(t.comment, 'hello');
    assert.equal(t.keyspaces.commerce.note, 1);
    assert.deepEqual(t.keyspaces.commerce.shards['-80'].sourceShards, []);
    assert.deepEqual(input, copy);
  });

  it('serving shards that touch but do not overlap, and a non-serving shard overlapping them', () => {
    validateTopology(
      raw((t) => {
        t.keyspaces.commerce.shards = { '-80': { servedTypes: ['primary'] }, '80-': { servedTypes: ['primary'] }, '0': {} };
        t.tablets['zone1-200'].type = 'replica';
        t.tablets['zone1-300'].type = 'replica';
      }),
      'topo.json',
    );
  });

  it('sourceShards entries and a worker tablet', () => {
    validateTopology(
      raw((t) => {
        t.keyspaces.commerce.shards['-80'].sourceShards = [{ uid: 0, keyspace: 'commerce', shard: '0', keyRange: '-', tables: [] }];
        t.tablets['zone1-101'].type = 'worker';
        t.tablets['zone1-101'].workerJob = { jobId: 'j1', previousType: 'rdonly', since: '2026-01-01T00:00:00Z' };
      }),
      'topo.json',
    );
  });
});

describe('validateTopology refuses, naming the file and entry', () => {
  it('a topology that is not an object', () => {
    for (const v of [null, [], 'x', 5, undefined]) refuses(v, 'topo.json: the topology must be a JSON object');
  });
  it('keyspaces or tablets that are not objects', () => {
    refuses({ keyspaces: [] }, 'topo.json: keyspaces: must be an object');
    refuses({ keyspaces: {}, tablets: 'x' }, 'topo.json: tablets: must be an object');
  });
  it('a keyspace that is not an object', () => {
    refuses(
      raw((t) => (t.keyspaces.commerce = 'x')),
      'keyspaces.commerce: must be an object',
    );
  });
  it('a bad shardingColumnType', () => {
    refuses(
      raw((t) => (t.keyspaces.commerce.shardingColumnType = 'int')),
      'topo.json: keyspaces.commerce: shardingColumnType must be one of uint64, bytes, got "int"',
    );
  });
  it('a sharding column name without type, type without name, or empty name', () => {
    refuses(
      raw((t) => delete t.keyspaces.commerce.shardingColumnType),
      'keyspaces.commerce: shardingColumnName is set but shardingColumnType is not',
    );
    refuses(
      raw((t) => delete t.keyspaces.commerce.shardingColumnName),
      'keyspaces.commerce: shardingColumnType is set but shardingColumnName is not',
    );
    refuses(
      raw((t) => (t.keyspaces.commerce.shardingColumnName = '')),
      'keyspaces.commerce: shardingColumnName must be a non-empty string',
    );
  });
  it('a shard name that is no key range', () => {
    for (const name of ['xyz', '80', '8-', 'c0-80', '']) {
      refuses(
        raw((t) => (t.keyspaces.commerce.shards[name] = {})),
        `keyspaces.commerce.shards.${name}: shard name ${JSON.stringify(name)} is not a key range`,
      );
    }
  });
  it('a shard that is not an object, or bad servedTypes', () => {
    refuses(
      raw((t) => (t.keyspaces.commerce.shards['80-'] = 3)),
      'keyspaces.commerce.shards.80-: must be an object',
    );
    refuses(
      raw((t) => (t.keyspaces.commerce.shards['80-'].servedTypes = 'primary')),
      'keyspaces.commerce.shards.80-.servedTypes: must be an array',
    );
    refuses(
      raw((t) => (t.keyspaces.commerce.shards['0'].servedTypes = ['primary', 'master'])),
      'keyspaces.commerce.shards.0.servedTypes[1]: unknown tablet type "master"',
    );
  });
  it('bad sourceShards entries', () => {
    const entry = { uid: 0, keyspace: 'commerce', shard: '0', keyRange: '-', tables: [] };
    const withSource = (s: unknown) => raw((t) => (t.keyspaces.commerce.shards['-80'].sourceShards = [s]));
    refuses(withSource({ ...entry, uid: -1 }), 'keyspaces.commerce.shards.-80.sourceShards[0]: uid must be a non-negative integer, got -1');
    refuses(withSource({ ...entry, keyRange: 'zz' }), /keyspaces\.commerce\.shards\.-80\.sourceShards\[0\]: shard name "zz"/);
    refuses(withSource({ ...entry, shard: undefined }), 'sourceShards[0]: shard must be a non-empty string');
    refuses(withSource({ ...entry, tables: [1] }), 'sourceShards[0].tables[0]: must be a non-empty string');
    refuses(withSource('x'), 'sourceShards[0]: must be an object');
  });
  it('overlapping serving shards', () => {
    refuses(
      raw((t) => (t.keyspaces.commerce.shards['-80'].servedTypes = ['replica'])),
      'topo.json: keyspaces.commerce.shards: serving shards 0 and -80 overlap',
    );
    refuses(
      raw((t) => {
        t.keyspaces.commerce.shards = { '-80': { servedTypes: ['primary', 'rdonly'] }, '40-': { servedTypes: ['rdonly'] } };
        t.tablets = {};
      }),
      'serving shards -80 and 40- overlap (both serve rdonly)',
    );
    // Mid-cutover: the source serves primary while its destinations serve rdonly and replica; no type is ambiguous.
    validateTopology(
      raw((t) => {
        t.keyspaces.commerce.shards = {
          '0': { servedTypes: ['primary'] },
          '-80': { servedTypes: ['replica', 'rdonly'] },
          '80-': { servedTypes: ['replica', 'rdonly'] },
        };
        t.tablets = {};
      }),
      'topo.json',
    );
    refuses(
      raw((t) => {
        t.keyspaces.commerce.shards = { '0': { servedTypes: ['primary'] }, '-': { servedTypes: ['primary'] } };
        t.tablets = {};
      }),
      'serving shards 0 and - overlap',
    );
  });
  it('servedFrom naming an unknown keyspace, itself, or malformed', () => {
    refuses(
      raw((t) => (t.keyspaces.customer.servedFrom.keyspace = 'comerce')),
      'topo.json: keyspaces.customer.servedFrom: unknown keyspace "comerce"',
    );
    refuses(
      raw((t) => (t.keyspaces.customer.servedFrom.keyspace = 'customer')),
      'keyspaces.customer.servedFrom: a keyspace cannot be served from itself',
    );
    refuses(
      raw((t) => (t.keyspaces.customer.servedFrom = 'commerce')),
      'keyspaces.customer.servedFrom: must be {"keyspace": NAME}',
    );
  });
  it('a tls flag that is not a boolean', () => {
    for (const tls of ['yes', 1, null])
      refuses(
        raw((t) => (t.tablets['zone1-101'].tls = tls)),
        'topo.json: tablets.zone1-101: tls must be true or false',
      );
  });
  it('a tablet that is not an object', () => {
    refuses(
      raw((t) => (t.tablets['zone1-101'] = null)),
      'tablets.zone1-101: must be an object',
    );
  });
  it('a tablet of an unknown keyspace', () => {
    refuses(
      raw((t) => (t.tablets['zone1-101'].keyspace = 'comerce')),
      'topo.json: tablets.zone1-101: unknown keyspace "comerce"',
    );
  });
  it('a tablet of an unknown shard', () => {
    refuses(
      raw((t) => (t.tablets['zone1-101'].shard = '-40')),
      'topo.json: tablets.zone1-101: unknown shard "-40" of keyspace commerce',
    );
    refuses(
      raw((t) => delete t.tablets['zone1-101'].shard),
      'tablets.zone1-101: shard must be a non-empty string',
    );
  });
  it('two primaries in a shard', () => {
    refuses(
      raw((t) => (t.tablets['zone1-101'].type = 'primary')),
      'topo.json: tablets.zone1-101: shard commerce/0 already has primary zone1-100',
    );
  });
  it('a bad tablet type', () => {
    for (const type of ['master', '', undefined, 1])
      refuses(
        raw((t) => (t.tablets['zone1-101'].type = type)),
        'tablets.zone1-101: type must be one of primary, replica, rdonly, worker, spare, drained',
      );
  });
  it('a port that is not an integer 1-65535', () => {
    for (const port of [0, 65536, -1, 1.5, '15301', null, undefined]) {
      refuses(
        raw((t) => (t.tablets['zone1-101'].port = port)),
        `tablets.zone1-101: port must be an integer from 1 to 65535, got ${port === undefined ? 'nothing' : JSON.stringify(port)}`,
      );
    }
  });
  it('a missing or empty host, dbName, user', () => {
    for (const key of ['host', 'dbName', 'user']) {
      refuses(
        raw((t) => delete t.tablets['zone1-101'][key]),
        `topo.json: tablets.zone1-101: ${key} must be a non-empty string, got nothing`,
      );
      refuses(
        raw((t) => (t.tablets['zone1-101'][key] = '')),
        `tablets.zone1-101: ${key} must be a non-empty string, got ""`,
      );
    }
  });
  it('a bad workerJob', () => {
    refuses(
      raw((t) => (t.tablets['zone1-101'].workerJob = { jobId: 'j', previousType: 'boss', since: 'now' })),
      'tablets.zone1-101.workerJob: previousType must be one of',
    );
    refuses(
      raw((t) => (t.tablets['zone1-101'].workerJob = 'j')),
      'tablets.zone1-101.workerJob: must be an object',
    );
  });
});
