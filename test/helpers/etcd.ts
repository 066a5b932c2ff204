// The three-member etcd cluster scripts/test.sh starts (scripts/etcd-cluster.sh): its endpoints, a fresh prefix
// per test, and killing and restarting a member.

import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export function etcdEndpoints(): string {
  const endpoints = process.env.SHARDWORKER_TEST_ETCD;
  if (!endpoints) throw new Error('SHARDWORKER_TEST_ETCD is not set: run the tests with scripts/test.sh, which starts the etcd members');
  return endpoints;
}

/** `etcd://…/test-UUID`: a topology no other test shares. */
export function freshEtcdSpec(query = ''): string {
  return `etcd://${etcdEndpoints()}/shardworker-test/${randomUUID().slice(0, 8)}${query}`;
}

const clusterDir = () => process.env.SHARDWORKER_TEST_ETCD_DIR ?? path.join(root, '.etcd-test');

/** The member (0-2) that leads now. */
export async function etcdLeader(): Promise<number> {
  const { stdout } = await run('etcdctl', ['--endpoints', etcdEndpoints(), '--command-timeout=3s', 'endpoint', 'status', '-w', 'json'], {
    env: { ...process.env, ETCDCTL_API: '3' },
  });
  const statuses = JSON.parse(stdout) as { Endpoint: string; Status: { header: { member_id: number }; leader: number } }[];
  const i = statuses.findIndex((s) => BigInt(s.Status.header.member_id) === BigInt(s.Status.leader));
  if (i < 0) throw new Error(`no etcd leader among ${etcdEndpoints()}`);
  return etcdEndpoints()
    .split(',')
    .indexOf(statuses[i].Endpoint.replace(/^https?:\/\//, ''));
}

export async function killEtcdMember(i: number): Promise<void> {
  const pid = Number(await readFile(path.join(clusterDir(), `m${i}`, 'pid'), 'utf8'));
  process.kill(pid, 'SIGKILL');
}

export async function restartEtcdMember(i: number): Promise<void> {
  const base = process.env.SHARDWORKER_TEST_ETCD_BASE_PORT;
  if (!base) throw new Error('SHARDWORKER_TEST_ETCD_BASE_PORT is not set');
  await run('bash', [path.join(root, 'scripts/etcd-cluster.sh'), 'start-member', clusterDir(), base, String(i)]);
}
