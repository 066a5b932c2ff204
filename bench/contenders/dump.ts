// Contender (b), the everyday tool pipeline: `mariadb-dump --where=<shard> | mariadb` into each destination,
// both at once, straight from process to process (the bench only waits).

import { spawn } from 'node:child_process';
import { quoteId } from '../../src/mysql/sql.ts';
import { withConnection } from '../../src/sandbox/index.ts';
import type { BenchCluster } from '../cluster.ts';
import { shardWhere, type Dataset } from '../dataset.ts';

const sh = (word: string): string => `'${word.replace(/'/g, `'\\''`)}'`;

function pipeline(command: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['-c', `set -o pipefail; ${command}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4000)));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${command}\nexited ${code}: ${stderr}`))));
  });
}

export async function runDump(c: BenchCluster, d: Dataset): Promise<{ seconds: number }> {
  const started = performance.now();
  await Promise.all(
    c.dests.map(async (dest) => {
      await withConnection(dest.endpoint, (conn) => conn.query(`CREATE DATABASE ${quoteId(d.db)} CHARACTER SET utf8mb4`));
      const dump = [
        'mariadb-dump',
        '--host=127.0.0.1',
        `--port=${c.rdonly.port}`,
        '--user=root',
        '--single-transaction',
        `--where=${shardWhere(dest.shard)}`,
        d.db,
        ...d.tables.map((t) => t.name),
      ];
      const load = ['mariadb', '--host=127.0.0.1', `--port=${dest.endpoint.port}`, '--user=root', d.db];
      await pipeline(`${dump.map(sh).join(' ')} | ${load.map(sh).join(' ')}`);
    }),
  );
  return { seconds: (performance.now() - started) / 1000 };
}
