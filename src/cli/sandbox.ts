// `shardworker sandbox up|down|status`: the local mariadbd cluster of the demo and the tests.

import { DEFAULT_BASE_PORT, DEFAULT_SANDBOX_DIR, formatSandboxStatus, sandboxDown, sandboxStatus, sandboxUp } from '../sandbox/sandbox.ts';
import { openTopology } from '../topology/server.ts';
import { UsageError } from './args.ts';
import { importTopologyFile } from './topo.ts';

interface SandboxArgs {
  action: 'up' | 'down' | 'status';
  dir: string;
  basePort: number;
  destinations: number;
  rows: number | undefined;
  reseed: boolean;
  purge: boolean;
}

function positiveInt(flag: string, value: string | undefined, min: number, max: number): number {
  const n = value !== undefined && /^\d+$/.test(value) ? Number(value) : NaN;
  if (!(n >= min && n <= max)) throw new UsageError(`${flag}: expected an integer from ${min} to ${max}, got ${JSON.stringify(value)}`);
  return n;
}

function parseSandboxArgs(rest: readonly string[]): SandboxArgs {
  const [action, ...flags] = rest;
  if (action !== 'up' && action !== 'down' && action !== 'status')
    throw new UsageError(`sandbox needs up, down or status, got ${JSON.stringify(action ?? '')}`);
  const args: SandboxArgs = { action, dir: DEFAULT_SANDBOX_DIR, basePort: DEFAULT_BASE_PORT, destinations: 2, rows: undefined, reseed: false, purge: false };
  for (let i = 0; i < flags.length; i++) {
    const flag = flags[i];
    switch (flag) {
      case '--dir':
        args.dir = flags[++i] ?? '';
        if (!args.dir) throw new UsageError('--dir needs a value');
        break;
      case '--base-port':
        args.basePort = positiveInt(flag, flags[++i], 1024, 65000);
        break;
      case '--destinations':
        args.destinations = positiveInt(flag, flags[++i], 1, 8);
        break;
      case '--rows':
        args.rows = positiveInt(flag, flags[++i], 1, 100_000_000);
        break;
      case '--reseed':
        args.reseed = true;
        break;
      case '--purge':
        args.purge = true;
        break;
      default:
        throw new UsageError(`unknown sandbox flag ${flag}`);
    }
  }
  return args;
}

/** `topo`: the global --topo; an etcd one gets the sandbox's topology too (replacing what it held). */
export async function sandboxCommand(rest: readonly string[], topo?: string): Promise<number> {
  const args = parseSandboxArgs(rest);
  switch (args.action) {
    case 'up': {
      const result = await sandboxUp({ dir: args.dir, basePort: args.basePort, destinations: args.destinations, seedRows: args.rows, reseed: args.reseed });
      process.stdout.write(`${formatSandboxStatus(await sandboxStatus(args.dir))}\n`);
      process.stdout.write(`topology: ${result.topologyFile}\ncredentials: ${result.credentialsFile}\n`);
      if (topo?.startsWith('etcd://')) {
        const target = await openTopology(topo);
        try {
          await importTopologyFile(target, result.topologyFile, true);
        } finally {
          await target.close();
        }
        process.stdout.write(`topology also in ${target.describe()}\n`);
      }
      if (result.seeded) process.stdout.write(`seeded ${result.state.dbName} in ${(result.ms / 1000).toFixed(1)}s\n`);
      return 0;
    }
    case 'down': {
      const stopped = await sandboxDown(args.dir, { purge: args.purge });
      process.stdout.write(
        stopped.length ? stopped.map((s) => `${s.name}: ${s.stopped ? 'stopped' : 'was not running'}`).join('\n') + '\n' : `no sandbox in ${args.dir}\n`,
      );
      return 0;
    }
    case 'status': {
      const status = await sandboxStatus(args.dir);
      process.stdout.write(formatSandboxStatus(status) + '\n');
      return status.exists && status.instances.every((i) => i.running) ? 0 : 1;
    }
  }
}
