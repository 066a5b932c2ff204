// Where the topology lives in etcd (DESIGN.md "Many daemons"): a key per keyspace and per tablet, JSON values,
// under ROOT/topo/. Top-level fields other than keyspaces and tablets (kept, as the file backend keeps them) share
// one key, `global`. `version` changes with every write, so an update that compares it knows nothing changed
// since it read, keys created meanwhile included. Locks live under ROOT/locks/.

import { TopologyError } from '../errors.ts';

/** One key as read: its value and the revision it was last changed at. */
export interface StoredValue {
  value: string;
  modRevision: string;
}

export class EtcdLayout {
  readonly topoPrefix: string;
  readonly lockPrefix: string;
  readonly versionKey: string;
  readonly #keyspaces: string;
  readonly #tablets: string;
  readonly #global: string;

  constructor(root: string) {
    this.topoPrefix = `${root}/topo/`;
    this.lockPrefix = `${root}/locks/`;
    this.versionKey = `${this.topoPrefix}version`;
    this.#keyspaces = `${this.topoPrefix}keyspaces/`;
    this.#tablets = `${this.topoPrefix}tablets/`;
    this.#global = `${this.topoPrefix}global`;
  }

  lockKey(name: string): string {
    return this.lockPrefix + encodeURIComponent(name);
  }

  keyspaceKey(name: string): string {
    return this.#keyspaces + encodeURIComponent(name);
  }

  tabletKey(alias: string): string {
    return this.#tablets + encodeURIComponent(alias);
  }

  /** The key → JSON text of every key a topology is stored as (the version key aside). */
  encode(topo: object): Map<string, string> {
    const out = new Map<string, string>();
    const { keyspaces, tablets, ...global } = topo as { keyspaces: Record<string, unknown>; tablets: Record<string, unknown> };
    for (const [name, ks] of Object.entries(keyspaces)) out.set(this.keyspaceKey(name), JSON.stringify(ks));
    for (const [alias, t] of Object.entries(tablets)) out.set(this.tabletKey(alias), JSON.stringify(t));
    if (Object.keys(global).length > 0) out.set(this.#global, JSON.stringify(global));
    return out;
  }

  /** The raw (unvalidated) topology stored in `kvs`; a key or value that is not ours is named. */
  decode(kvs: ReadonlyMap<string, StoredValue>, label: string): unknown {
    const keyspaces: Record<string, unknown> = {};
    const tablets: Record<string, unknown> = {};
    let global: Record<string, unknown> = {};
    for (const [key, { value }] of [...kvs].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
      if (key === this.versionKey) continue;
      const parsed = parseValue(key, value, label);
      if (key === this.#global) {
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TopologyError(`${label}: key ${key} must hold a JSON object`);
        global = parsed as Record<string, unknown>;
      } else if (key.startsWith(this.#keyspaces)) keyspaces[decodeName(key, this.#keyspaces, label)] = parsed;
      else if (key.startsWith(this.#tablets)) tablets[decodeName(key, this.#tablets, label)] = parsed;
      else throw new TopologyError(`${label}: unexpected key ${key} (not a keyspace, a tablet or ${this.#global})`);
    }
    return { ...global, keyspaces, tablets };
  }
}

function parseValue(key: string, value: string, label: string): unknown {
  try {
    return JSON.parse(value);
  } catch (e) {
    throw new TopologyError(`${label}: key ${key}: invalid JSON: ${(e as Error).message}`);
  }
}

function decodeName(key: string, prefix: string, label: string): string {
  try {
    return decodeURIComponent(key.slice(prefix.length));
  } catch {
    throw new TopologyError(`${label}: key ${key}: the name is not URI-encoded`);
  }
}
