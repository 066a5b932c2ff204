// For fault tests: the sandbox's instances by name (to kill and restart them), a slow job, and the exact-copy check.

import assert from 'node:assert/strict';
import pino from 'pino';
import { killInstance, readSandboxState, startInstance, type InstanceSpec } from '../../src/sandbox/index.ts';
import { openTopology } from '../../src/topology/server.ts';
import { JobController } from '../../src/worker/controller.ts';
import { portInUse } from '../../src/sandbox/connect.ts';
import { sql, TEST_SANDBOX_DIR, type TestCluster } from './cluster.ts';
import { readRows } from './rows.ts';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The spec an instance was started with, found by its port, to kill it and start it again the same way. */
export async function instanceAt(port: number): Promise<InstanceSpec> {
  const state = await readSandboxState(TEST_SANDBOX_DIR);
  const rec = state?.instances.find((i) => i.port === port);
  if (!rec) throw new Error(`no sandbox instance on port ${port} in ${TEST_SANDBOX_DIR}`);
  return { name: rec.name, dir: rec.dir, port: rec.port, serverId: rec.serverId };
}

export async function kill(spec: InstanceSpec): Promise<void> {
  await killInstance({ dir: spec.dir });
  // A killed process's listening socket can outlive what killInstance waits for (its command line) by a moment.
  await until(`port ${spec.port} closed`, async () => !(await portInUse(spec.port)), 10_000);
}

/** Starts the instance if it is down (a no-op when it runs): for `after` hooks, so later test files find it up. */
export async function restart(spec: InstanceSpec): Promise<void> {
  await startInstance(spec, { timeoutMs: 60_000 });
}

/**
 * A controller as `run` makes one, with its own retry duration; logs to a file next to the topology. `beforeAttempt`
 * is called before each attempt of each statement to a tablet: how a test acts at a chosen phase of the job.
 */
export async function controller(
  topoFile: string,
  retryDuration: number,
  beforeAttempt?: (tablet: string, doing: string) => Promise<void>,
): Promise<JobController> {
  const topo = await openTopology(`file:${topoFile}`);
  return new JobController(
    { topo, credentials: {}, retryDuration, beforeAttempt },
    { level: 'info', destination: pino.destination({ dest: topoFile + '.log', sync: true }) },
  );
}

/**
 * A beforeAttempt hook that, the first time `tablet` is about to run a statement whose `doing` matches `phase`,
 * kills the instance and starts it again (in the background: the statement meets a tablet that is down, and is
 * retried until it is up). `restarted` settles when the instance is up again (at once if the phase never came).
 */
export function killAt(
  spec: InstanceSpec,
  tablet: string,
  phase: RegExp,
): { hook: (tablet: string, doing: string) => Promise<void>; hit: () => string | null; restarted: () => Promise<void> } {
  let hit: string | null = null;
  let restarting: Promise<void> = Promise.resolve();
  return {
    hook: async (at, doing) => {
      if (hit !== null || at !== tablet || !phase.test(doing)) return;
      hit = doing;
      await kill(spec);
      restarting = restart(spec);
      restarting.catch(() => {});
    },
    hit: () => hit,
    restarted: () => restarting,
  };
}

/** Waits until `check` holds, polling. */
export async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** A table `t` of `rows` rows (id, keyspace_id spread over the whole range, a body) in `db` on the source. */
export function seedSql(db: string, rows: number): string {
  return `DROP DATABASE IF EXISTS ${db}; CREATE DATABASE ${db}; USE ${db};
    CREATE TABLE t (id BIGINT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, body VARBINARY(3000), note VARCHAR(40) CHARACTER SET utf8mb4);
    INSERT INTO t SELECT seq, CAST(CONV(SUBSTRING(MD5(seq),1,16),16,10) AS UNSIGNED), UNHEX(REPEAT(MD5(seq), 80)), CONCAT('row ', seq, ' ✓') FROM seq_1_to_${rows};
    ANALYZE TABLE t;`;
}

/** Each destination holds exactly the source rows of its half (-80, 80-), byte for byte, none twice. */
export async function assertHalvesExact(c: TestCluster, db: string, table = 't'): Promise<void> {
  const halves = [
    { port: c.dests[0].port, where: 'keyspace_id < 9223372036854775808' },
    { port: c.dests[1].port, where: 'keyspace_id >= 9223372036854775808' },
  ];
  const all = await readRows(c.primary, db, table);
  let total = 0;
  for (const h of halves) {
    const ids = new Set((await sql(c.primary, `SELECT id FROM \`${db}\`.\`${table}\` WHERE ${h.where}`)).map((r) => String(r.id)));
    const want = new Map([...all].filter(([k]) => ids.has(k)));
    const got = await readRows({ port: h.port }, db, table);
    assert.equal(got.size, want.size, `${table} on port ${h.port}: ${got.size} rows, want ${want.size}`);
    for (const [k, v] of want) assert.equal(got.get(k), v, `${table} row ${k} on port ${h.port}`);
    total += got.size;
  }
  assert.equal(total, all.size);
}
