// Waits until the bench's servers are quiet before a contender starts: a load leaves dirty pages that InnoDB
// flushes for many seconds afterwards, and that work would otherwise be charged to whichever contender comes next.

import path from 'node:path';
import { withConnection, type Endpoint } from '../src/sandbox/index.ts';
import type { BenchCluster } from './cluster.ts';
import { serverSeconds } from './cpu.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function statusValue(at: Endpoint, name: string): Promise<number> {
  return withConnection(at, async (conn) => {
    const [rows] = await conn.query('SHOW GLOBAL STATUS LIKE ?', [name]);
    return Number((rows as { Value: string }[])[0]?.Value ?? 0);
  });
}

/** Flushes dirty pages on every server, then waits (at most `timeoutMs`) until they use under 5% of a core. */
export async function settle(c: BenchCluster, timeoutMs = 60_000): Promise<void> {
  const servers = [
    { at: c.primary, dir: 'src-primary' },
    { at: c.rdonly, dir: 'src-rdonly' },
    ...c.dests.map((d, i) => ({ at: d.endpoint, dir: `dst-${i + 1}` })),
  ];
  const deadline = Date.now() + timeoutMs;
  await Promise.all(
    servers.map(async (s) => {
      // Flush now rather than trickle: max dirty 0% makes the page cleaner write everything out.
      const previous = await withConnection(s.at, async (conn) => {
        const [rows] = await conn.query('SELECT @@GLOBAL.innodb_max_dirty_pages_pct AS p');
        await conn.query('SET GLOBAL innodb_max_dirty_pages_pct = 0');
        return Number((rows as { p: number }[])[0].p);
      });
      try {
        while (Date.now() < deadline && (await statusValue(s.at, 'Innodb_buffer_pool_pages_dirty')) > 100) await sleep(250);
      } finally {
        await withConnection(s.at, (conn) => conn.query('SET GLOBAL innodb_max_dirty_pages_pct = ?', [previous]));
      }
    }),
  );
  const dirs = servers.map((s) => path.join(c.dir, s.dir));
  while (Date.now() < deadline) {
    const before = dirs.map(serverSeconds);
    await sleep(1000);
    const busiest = Math.max(...dirs.map((d, i) => serverSeconds(d) - before[i]));
    if (busiest < 0.05) return;
  }
}
