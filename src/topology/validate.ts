// Checks a parsed topology file against the contract (docs/topology.md) and fills defaults.
// Unknown keys are kept as they are, so a rewrite by `update` never drops what another tool wrote.

import { intersects, KeyRangeError, parseShardName, type KeyRange } from '../keyrange/keyrange.ts';
import { TopologyError } from './errors.ts';
import { SHARDING_COLUMN_TYPES, TABLET_TYPES, type Topology } from './types.ts';

type Obj = Record<string, unknown>;

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const show = (v: unknown): string => (v === undefined ? 'nothing' : JSON.stringify(v));

/** Returns a checked copy of `raw` with defaults filled; throws TopologyError naming `source` and the bad entry. */
export function validateTopology(raw: unknown, source: string): Topology {
  if (!isObject(raw)) throw new TopologyError(`${source}: the topology must be a JSON object, got ${Array.isArray(raw) ? 'an array' : show(raw)}`);
  const root = structuredClone(raw);
  const fail = (entry: string, why: string) => new TopologyError(`${source}: ${entry}: ${why}`);

  const keyspaces = objectField(root, 'keyspaces', 'keyspaces', fail);
  for (const [name, value] of Object.entries(keyspaces)) checkKeyspace(name, value, keyspaces, fail);
  const tablets = objectField(root, 'tablets', 'tablets', fail);
  checkTablets(tablets, keyspaces, fail);
  return root as unknown as Topology;
}

type Fail = (entry: string, why: string) => TopologyError;

/** `parent[key]`, an object, created empty when absent. */
function objectField(parent: Obj, key: string, entry: string, fail: Fail): Obj {
  const v = parent[key];
  if (v === undefined) return (parent[key] = {});
  if (!isObject(v)) throw fail(entry, `must be an object, got ${show(v)}`);
  return v;
}

function arrayField(parent: Obj, key: string, entry: string, fail: Fail): unknown[] {
  const v = parent[key];
  if (v === undefined) return (parent[key] = []);
  if (!Array.isArray(v)) throw fail(entry, `must be an array, got ${show(v)}`);
  return v;
}

function requireString(parent: Obj, key: string, entry: string, fail: Fail): string {
  const v = parent[key];
  if (typeof v !== 'string' || v === '') throw fail(entry, `${key} must be a non-empty string, got ${show(v)}`);
  return v;
}

function shardRange(name: string, entry: string, fail: Fail): KeyRange {
  try {
    return parseShardName(name);
  } catch (e) {
    if (e instanceof KeyRangeError) throw fail(entry, e.message);
    throw e;
  }
}

function checkKeyspace(name: string, value: unknown, keyspaces: Obj, fail: Fail): void {
  const entry = `keyspaces.${name}`;
  if (!isObject(value)) throw fail(entry, `must be an object, got ${show(value)}`);
  const { shardingColumnName: column, shardingColumnType: type } = value;
  if (column !== undefined && (typeof column !== 'string' || column === ''))
    throw fail(entry, `shardingColumnName must be a non-empty string, got ${show(column)}`);
  if (type !== undefined && !(SHARDING_COLUMN_TYPES as readonly unknown[]).includes(type)) {
    throw fail(entry, `shardingColumnType must be one of ${SHARDING_COLUMN_TYPES.join(', ')}, got ${show(type)}`);
  }
  if (column !== undefined && type === undefined) throw fail(entry, 'shardingColumnName is set but shardingColumnType is not');
  if (type !== undefined && column === undefined) throw fail(entry, 'shardingColumnType is set but shardingColumnName is not');

  if (value.servedFrom !== undefined) {
    const from = value.servedFrom;
    if (!isObject(from) || typeof from.keyspace !== 'string') throw fail(`${entry}.servedFrom`, `must be {"keyspace": NAME}, got ${show(from)}`);
    if (!Object.hasOwn(keyspaces, from.keyspace)) throw fail(`${entry}.servedFrom`, `unknown keyspace ${show(from.keyspace)}`);
    if (from.keyspace === name) throw fail(`${entry}.servedFrom`, 'a keyspace cannot be served from itself');
  }

  const shards = objectField(value, 'shards', `${entry}.shards`, fail);
  const serving: [string, KeyRange, string[]][] = [];
  for (const [shardName, shard] of Object.entries(shards)) {
    const shardEntry = `${entry}.shards.${shardName}`;
    const range = shardRange(shardName, shardEntry, fail);
    if (!isObject(shard)) throw fail(shardEntry, `must be an object, got ${show(shard)}`);
    const servedTypes = arrayField(shard, 'servedTypes', `${shardEntry}.servedTypes`, fail);
    servedTypes.forEach((t, i) => {
      if (!(TABLET_TYPES as readonly unknown[]).includes(t))
        throw fail(`${shardEntry}.servedTypes[${i}]`, `unknown tablet type ${show(t)} (expected one of ${TABLET_TYPES.join(', ')})`);
    });
    for (const [i, s] of arrayField(shard, 'sourceShards', `${shardEntry}.sourceShards`, fail).entries())
      checkSourceShard(s, `${shardEntry}.sourceShards[${i}]`, fail);
    if (servedTypes.length > 0) serving.push([shardName, range, servedTypes as string[]]);
  }
  // Two shards serving one tablet type for the same id would make routing ambiguous. (Mid-cutover a source may
  // serve primary while its destinations serve rdonly: different types, no ambiguity.)
  for (let i = 0; i < serving.length; i++) {
    for (let j = i + 1; j < serving.length; j++) {
      const both = serving[i][2].filter((t) => serving[j][2].includes(t));
      if (both.length && intersects(serving[i][1], serving[j][1]))
        throw fail(`${entry}.shards`, `serving shards ${serving[i][0]} and ${serving[j][0]} overlap (both serve ${both.join(', ')})`);
    }
  }
}

function checkSourceShard(value: unknown, entry: string, fail: Fail): void {
  if (!isObject(value)) throw fail(entry, `must be an object, got ${show(value)}`);
  if (!Number.isInteger(value.uid) || (value.uid as number) < 0) throw fail(entry, `uid must be a non-negative integer, got ${show(value.uid)}`);
  requireString(value, 'keyspace', entry, fail);
  shardRange(requireString(value, 'shard', entry, fail), entry, fail);
  if (typeof value.keyRange !== 'string') throw fail(entry, `keyRange must be a string, got ${show(value.keyRange)}`);
  shardRange(value.keyRange, entry, fail);
  const tables = arrayField(value, 'tables', `${entry}.tables`, fail);
  tables.forEach((t, i) => {
    if (typeof t !== 'string' || t === '') throw fail(`${entry}.tables[${i}]`, `must be a non-empty string, got ${show(t)}`);
  });
}

function checkTablets(tablets: Obj, keyspaces: Obj, fail: Fail): void {
  const primaries = new Map<string, string>();
  for (const [alias, value] of Object.entries(tablets)) {
    const entry = `tablets.${alias}`;
    if (!isObject(value)) throw fail(entry, `must be an object, got ${show(value)}`);
    const keyspace = requireString(value, 'keyspace', entry, fail);
    const shard = requireString(value, 'shard', entry, fail);
    if (!Object.hasOwn(keyspaces, keyspace)) throw fail(entry, `unknown keyspace ${show(keyspace)}`);
    const shards = (keyspaces[keyspace] as Obj).shards as Obj;
    if (!Object.hasOwn(shards, shard)) throw fail(entry, `unknown shard ${show(shard)} of keyspace ${keyspace}`);
    if (!(TABLET_TYPES as readonly unknown[]).includes(value.type))
      throw fail(entry, `type must be one of ${TABLET_TYPES.join(', ')}, got ${show(value.type)}`);
    requireString(value, 'host', entry, fail);
    const port = value.port;
    if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535)
      throw fail(entry, `port must be an integer from 1 to 65535, got ${show(port)}`);
    requireString(value, 'dbName', entry, fail);
    requireString(value, 'user', entry, fail);
    if (value.tls !== undefined && typeof value.tls !== 'boolean') throw fail(entry, `tls must be true or false, got ${show(value.tls)}`);
    if (value.workerJob !== undefined) checkWorkerJob(value.workerJob, `${entry}.workerJob`, fail);
    if (value.type === 'primary') {
      const key = `${keyspace}/${shard}`;
      const other = primaries.get(key);
      if (other !== undefined) throw fail(entry, `shard ${key} already has primary ${other}`);
      primaries.set(key, alias);
    }
  }
}

function checkWorkerJob(value: unknown, entry: string, fail: Fail): void {
  if (!isObject(value)) throw fail(entry, `must be an object, got ${show(value)}`);
  requireString(value, 'jobId', entry, fail);
  if (!(TABLET_TYPES as readonly unknown[]).includes(value.previousType))
    throw fail(entry, `previousType must be one of ${TABLET_TYPES.join(', ')}, got ${show(value.previousType)}`);
  requireString(value, 'since', entry, fail);
  if (value.pid !== undefined && !(Number.isInteger(value.pid) && (value.pid as number) > 0))
    throw fail(entry, `pid must be a positive integer, got ${show(value.pid)}`);
  if (value.hostname !== undefined && typeof value.hostname !== 'string') throw fail(entry, `hostname must be a string, got ${show(value.hostname)}`);
}
