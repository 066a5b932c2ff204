// `shardworker topo import FILE [--replace] --topo SPEC` and `topo export`: move a topology between a file and
// any backend (etcd above all). Import is one update of the target, validated like every update; it refuses a
// target that already holds keyspaces or tablets unless --replace says to overwrite them.

import path from 'node:path';
import { FileTopologyServer, openTopology, type TopologyServer } from '../topology/server.ts';
import type { Topology } from '../topology/types.ts';
import type { GlobalFlags } from './args.ts';
import { UsageError } from './args.ts';

export async function topoCommand(globals: GlobalFlags, rest: readonly string[]): Promise<number> {
  if (!globals.topo) throw new UsageError('--topo is required (e.g. --topo etcd://127.0.0.1:2379/shardworker)');
  const [action, ...args] = rest;
  if (action === 'export') {
    if (args.length) throw new UsageError(`topo export takes no arguments, got ${args.join(' ')}`);
    const topo = await openTopology(globals.topo);
    try {
      process.stdout.write(JSON.stringify(await topo.read(), null, 2) + '\n');
    } finally {
      await topo.close();
    }
    return 0;
  }
  if (action === 'import') {
    const replace = args.includes('--replace');
    const files = args.filter((a) => a !== '--replace');
    const unknown = files.find((a) => a.startsWith('-'));
    if (unknown) throw new UsageError(`unknown topo import flag ${unknown}`);
    if (files.length !== 1) throw new UsageError(`topo import takes one FILE, got ${files.length ? files.join(' ') : 'none'}`);
    const topo = await openTopology(globals.topo);
    try {
      const counts = await importTopologyFile(topo, files[0], replace);
      process.stdout.write(`imported ${counts.keyspaces} keyspaces and ${counts.tablets} tablets into ${topo.describe()}\n`);
    } finally {
      await topo.close();
    }
    return 0;
  }
  throw new UsageError(`topo needs import FILE or export, got ${JSON.stringify(action ?? '')}`);
}

/** Writes the topology of `file` (validated) into `target` as one update; also used by `sandbox up --topo etcd://…`. */
export async function importTopologyFile(target: TopologyServer, file: string, replace: boolean): Promise<{ keyspaces: number; tablets: number }> {
  const source = new FileTopologyServer(path.resolve(file));
  const incoming: Topology = await source.read();
  await source.close();
  await target.update((t) => {
    const held = Object.keys(t.keyspaces).length + Object.keys(t.tablets).length;
    if (held > 0 && !replace)
      throw new UsageError(
        `${target.describe()} already holds a topology (${Object.keys(t.keyspaces).length} keyspaces, ${Object.keys(t.tablets).length} tablets); add --replace to overwrite it`,
      );
    for (const key of Object.keys(t)) delete (t as unknown as Record<string, unknown>)[key];
    Object.assign(t, structuredClone(incoming));
  });
  return { keyspaces: Object.keys(incoming.keyspaces).length, tablets: Object.keys(incoming.tablets).length };
}
