// The topology contract (docs/topology.md): what the file backend stores and every role reads.

export const TABLET_TYPES = ['primary', 'replica', 'rdonly', 'worker', 'spare', 'drained'] as const;
export type TabletType = (typeof TABLET_TYPES)[number];

export const SHARDING_COLUMN_TYPES = ['uint64', 'bytes'] as const;
export type ShardingColumnType = (typeof SHARDING_COLUMN_TYPES)[number];

/** Recorded on a destination shard: which source shard feeds it (and, for a vertical split, which tables). */
export interface SourceShard {
  uid: number;
  keyspace: string;
  shard: string;
  keyRange: string;
  tables: string[];
}

export interface Shard {
  servedTypes: TabletType[];
  sourceShards: SourceShard[];
}

export interface Keyspace {
  shardingColumnName?: string;
  shardingColumnType?: ShardingColumnType;
  servedFrom?: { keyspace: string };
  shards: Record<string, Shard>;
}

export interface Tablet {
  keyspace: string;
  shard: string;
  type: TabletType;
  host: string;
  port: number;
  dbName: string;
  user: string;
  /** Connect over TLS, verifying the server certificate (against --db-ca-file, else the system CAs). */
  tls?: boolean;
  /** Set while a worker holds the tablet: who took it and what type to give back. */
  workerJob?: { jobId: string; previousType: TabletType; since: string /** The owning process, to tell a dead owner. */; pid?: number; hostname?: string };
}

export interface Topology {
  keyspaces: Record<string, Keyspace>;
  tablets: Record<string, Tablet>;
}

/** user -> password; a user missing from it connects without a password. */
export type Credentials = Record<string, string>;

/** TLS settings for tablets with `tls: true`: the CA to verify them with (--db-ca-file); none means the system CAs. */
export interface DbTls {
  ca?: Buffer;
}
