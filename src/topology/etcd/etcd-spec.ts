// `--topo etcd://HOST:PORT[,HOST:PORT…]/PREFIX[?lease-ttl=SECONDS]`, checked at the boundary.

import { TopologyError } from '../errors.ts';

export interface EtcdSpec {
  /** `host:port` of each member, as given (the client tries them in turn). */
  hosts: string[];
  /** The root every key lives under, with a leading slash and none trailing: `/shardworker/prod`. */
  root: string;
  /** TTL of this process's lease, in seconds: its locks outlive it by at most this long. */
  leaseTtlSeconds: number;
}

export const DEFAULT_LEASE_TTL_SECONDS = 15;

const FORMAT = 'etcd://HOST:PORT[,HOST:PORT…]/PREFIX';

export function parseEtcdSpec(spec: string): EtcdSpec {
  const bad = (why: string) => new TopologyError(`topology ${JSON.stringify(spec)}: ${why} (expected ${FORMAT})`);
  const m = /^etcd:\/\/([^/?]*)(\/[^?]*)?(?:\?(.*))?$/.exec(spec);
  if (!m) throw bad('not an etcd address');
  const hosts = m[1].split(',');
  for (const host of hosts) {
    const hp = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(host);
    if (!hp || Number(hp[2]) < 1 || Number(hp[2]) > 65535) throw bad(`${JSON.stringify(host)} is no HOST:PORT`);
  }
  const prefix = (m[2] ?? '').replace(/^\/+|\/+$/g, '');
  if (prefix === '') throw bad('a PREFIX is required, so several topologies can share one etcd');
  if (!/^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/.test(prefix))
    throw bad(`prefix ${JSON.stringify(prefix)} may hold only letters, digits, '.', '_', '-' and single '/'`);
  let leaseTtlSeconds = DEFAULT_LEASE_TTL_SECONDS;
  for (const [name, value] of new URLSearchParams(m[3] ?? '')) {
    if (name !== 'lease-ttl') throw bad(`unknown parameter ${JSON.stringify(name)} (known: lease-ttl)`);
    if (!/^\d+$/.test(value) || Number(value) < 2 || Number(value) > 3600)
      throw bad(`lease-ttl must be whole seconds from 2 to 3600, got ${JSON.stringify(value)}`);
    leaseTtlSeconds = Number(value);
  }
  return { hosts, root: `/${prefix}`, leaseTtlSeconds };
}

export function formatEtcdSpec(spec: EtcdSpec): string {
  return `etcd://${spec.hosts.join(',')}${spec.root}`;
}
