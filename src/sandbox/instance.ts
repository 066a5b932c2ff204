// One local mariadbd: initialise its data dir, start it detached (it outlives us), wait until it serves,
// and stop or kill it, but only when /proc proves the pid is the mariadbd of that data dir.

import { spawn, execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { promises as fsp, openSync, closeSync, readFileSync, statSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Logger } from 'pino';
import { mariadbBinaries } from './binaries.ts';
import { connect, portInUse, SANDBOX_HOST } from './connect.ts';

const execFileAsync = promisify(execFile);

/** The replication account every instance gets, so any of them can be a primary. Local sandbox only. */
export const REPL_USER = 'repl';
export const REPL_PASSWORD = 'sandbox-repl';

export interface InstanceSpec {
  /** Label for logs and state files, e.g. `src-primary`. */
  name: string;
  /** The instance's own directory: my.cnf, init.sql, mariadbd.log and the data dir `data/` live in it. */
  dir: string;
  port: number;
  /** Unique per replication topology. */
  serverId: number;
  /** InnoDB buffer pool in MiB (default 96): small, the box has 2 cores and several instances. */
  bufferPoolMb?: number;
  /** InnoDB redo log in MiB (default 64); bulk loads (the bench) checkpoint less with a larger one. */
  logFileMb?: number;
  /** Extra my.cnf lines for the [mariadbd] section, e.g. `ssl-cert=/path/server.pem`. */
  extraConfig?: string[];
}

/** Where an instance keeps its files; everything is derived from its dir. */
export interface InstancePaths {
  dir: string;
  dataDir: string;
  socket: string;
  pidFile: string;
  logFile: string;
  cnfFile: string;
  initFile: string;
  /** Private tmpdir: instances installing in parallel collide on temp table names in a shared /tmp. */
  tmpDir: string;
}

export interface Instance {
  name: string;
  dir: string;
  dataDir: string;
  host: string;
  port: number;
  serverId: number;
  pid: number;
  socket: string;
  logFile: string;
}

/** Enough to find a started instance again: its dir (and, as a fallback, the pid we recorded). */
export interface InstanceRef {
  dir: string;
  pid?: number;
}

export interface StartOptions {
  /** How long to wait for the server to accept connections (default 90 s; first start includes install). */
  timeoutMs?: number;
  log?: Logger;
}

export interface StopOptions {
  /** Grace period after SIGTERM before SIGKILL (default 20 s). */
  timeoutMs?: number;
  log?: Logger;
}

// Unix socket paths are limited to 108 bytes; deep dirs get a short socket name in the tmp dir instead.
const MAX_SOCKET_PATH = 100;

export function instancePaths(dir: string): InstancePaths {
  const abs = path.resolve(dir);
  const dataDir = path.join(abs, 'data');
  let socket = path.join(dataDir, 'mariadbd.sock');
  if (socket.length > MAX_SOCKET_PATH) {
    const hash = createHash('sha1').update(dataDir).digest('hex').slice(0, 12);
    socket = path.join(os.tmpdir(), `shardworker-${hash}.sock`);
  }
  return {
    dir: abs,
    dataDir,
    socket,
    pidFile: path.join(dataDir, 'mariadbd.pid'),
    logFile: path.join(abs, 'mariadbd.log'),
    cnfFile: path.join(abs, 'my.cnf'),
    initFile: path.join(abs, 'init.sql'),
    tmpDir: path.join(abs, 'tmp'),
  };
}

/** True when `pid` is a live mariadbd started on exactly this data dir (zombies have an empty cmdline). */
function isOurMariadbd(pid: number, dataDir: string): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return false;
  }
  const args = cmdline.split('\0');
  return args.includes(`--datadir=${dataDir}`) && /(mariadbd|mysqld)$/.test(args[0] ?? '');
}

/** The pid of the instance's running mariadbd, or undefined; checks the pid file, then the recorded pid. */
export function instancePid(ref: InstanceRef): number | undefined {
  const { pidFile, dataDir } = instancePaths(ref.dir);
  const candidates: number[] = [];
  try {
    candidates.push(Number.parseInt(readFileSync(pidFile, 'utf8').trim(), 10));
  } catch {
    // no pid file: never started, or still starting
  }
  if (ref.pid !== undefined) candidates.push(ref.pid);
  return candidates.find((pid) => isOurMariadbd(pid, dataDir));
}

export function instanceRunning(ref: InstanceRef): boolean {
  return instancePid(ref) !== undefined;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The last `lines` lines of a file from byte `from` on, for error messages. */
function tailOf(file: string, from = 0, lines = 25): string {
  try {
    const text = readFileSync(file, 'utf8').slice(from);
    return text.trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

function myCnf(spec: InstanceSpec, p: InstancePaths): string {
  const pool = spec.bufferPoolMb ?? 96;
  const redo = spec.logFileMb ?? 64;
  return `# Written by the shardworker sandbox; rewritten on every start.
[mariadbd]
user=root
datadir=${p.dataDir}
socket=${p.socket}
pid-file=${p.pidFile}
tmpdir=${p.tmpDir}
port=${spec.port}
bind-address=${SANDBOX_HOST}
skip-name-resolve
server-id=${spec.serverId}
# GTID replication: every instance can be a primary or a replica.
log-bin=mariadb-bin
relay-log=relay-bin
binlog_format=ROW
# What filtered replication reads (src/mysql/binlog): whole row images, with column names and signedness.
binlog_row_image=FULL
binlog_row_metadata=FULL
log_slave_updates=ON
gtid_strict_mode=ON
binlog_expire_logs_seconds=172800
slave_net_timeout=20
# Small and fast rather than durable: a sandbox, several instances on a 2-core box.
performance_schema=OFF
feedback=OFF
innodb_buffer_pool_size=${pool}M
innodb_log_file_size=${redo}M
innodb_log_buffer_size=8M
innodb_flush_log_at_trx_commit=2
sync_binlog=0
aria_pagecache_buffer_size=8M
key_buffer_size=8M
table_open_cache=1000
max_connections=500
max_allowed_packet=64M
# The worker's load-data write method streams rows with LOAD DATA LOCAL INFILE.
local_infile=ON
character-set-server=utf8mb4
collation-server=utf8mb4_general_ci
init-file=${p.initFile}
${(spec.extraConfig ?? []).map((line) => `${line}\n`).join('')}`;
}

// Runs on every start, so the accounts are right even on a data dir made elsewhere. sql_log_bin=0 keeps
// these local: a replica must not binlog GTIDs of its own, or gtid_strict_mode rejects the primary's.
function initSql(): string {
  return `SET sql_log_bin=0;
CREATE USER IF NOT EXISTS 'root'@'127.0.0.1';
CREATE USER IF NOT EXISTS 'root'@'localhost';
ALTER USER 'root'@'127.0.0.1' IDENTIFIED BY '';
ALTER USER 'root'@'localhost' IDENTIFIED BY '';
GRANT ALL PRIVILEGES ON *.* TO 'root'@'127.0.0.1' WITH GRANT OPTION;
GRANT ALL PRIVILEGES ON *.* TO 'root'@'localhost' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS '${REPL_USER}'@'127.0.0.1';
ALTER USER '${REPL_USER}'@'127.0.0.1' IDENTIFIED BY '${REPL_PASSWORD}';
GRANT REPLICATION SLAVE, REPLICATION CLIENT ON *.* TO '${REPL_USER}'@'127.0.0.1';
FLUSH PRIVILEGES;
`;
}

async function dirIsEmpty(dir: string): Promise<boolean> {
  try {
    return (await fsp.readdir(dir)).length === 0;
  } catch {
    return true;
  }
}

/** Creates the system tables; into a temp dir renamed at the end, so a failed install leaves no half data dir. */
async function initialiseDataDir(spec: InstanceSpec, p: InstancePaths, log?: Logger): Promise<void> {
  const { installDb } = mariadbBinaries();
  const tmp = `${p.dataDir}.init-tmp`;
  await fsp.rm(tmp, { recursive: true, force: true });
  await fsp.rm(p.dataDir, { recursive: true, force: true });
  await fsp.mkdir(p.tmpDir, { recursive: true });
  log?.info({ instance: spec.name, dataDir: p.dataDir }, 'initialising data dir');
  try {
    await execFileAsync(
      installDb,
      [
        '--no-defaults',
        `--datadir=${tmp}`,
        `--tmpdir=${p.tmpDir}`,
        '--user=root',
        '--auth-root-authentication-method=normal',
        '--skip-test-db',
        '--skip-name-resolve',
        `--innodb-buffer-pool-size=${spec.bufferPoolMb ?? 96}M`,
        '--innodb-log-file-size=64M',
      ],
      { timeout: 180_000, maxBuffer: 16 * 1024 * 1024 },
    );
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    const out = `${e.stdout ?? ''}\n${e.stderr ?? ''}`.trim().split('\n').slice(-25).join('\n');
    throw new Error(`mariadb-install-db failed for ${spec.name} (${tmp}): ${e.message}\n${out}`);
  }
  await fsp.rename(tmp, p.dataDir);
}

/** Reads the port a running instance was started with, from the my.cnf we wrote for it. */
function configuredPort(p: InstancePaths): number | undefined {
  try {
    const m = /^port=(\d+)$/m.exec(readFileSync(p.cnfFile, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** Polls until our server answers over TCP (and is ours: same data dir), the process dies, or time runs out. */
async function waitUntilServing(spec: InstanceSpec, p: InstancePaths, isAlive: () => boolean, deadline: number, logFrom: number): Promise<void> {
  let lastError = 'not tried';
  while (Date.now() < deadline) {
    if (!isAlive()) {
      throw new Error(
        `mariadbd for ${spec.name} exited during start-up (port ${spec.port}, dir ${p.dir}). Last lines of ${p.logFile}:\n${tailOf(p.logFile, logFrom)}`,
      );
    }
    try {
      const conn = await connect({ port: spec.port }, { connectTimeoutMs: 2000 });
      try {
        const [rows] = await conn.query('SELECT @@datadir AS datadir');
        const datadir = String((rows as Array<{ datadir: string }>)[0]?.datadir ?? '');
        if (path.resolve(datadir) !== p.dataDir) {
          throw new Error(`port ${spec.port} is served by another MariaDB (datadir ${datadir}), not ${spec.name}`);
        }
        return;
      } finally {
        await conn.end().catch(() => conn.destroy());
      }
    } catch (err) {
      const message = (err as Error).message;
      if (message.includes('is served by another MariaDB')) throw err;
      lastError = message;
    }
    await sleep(200);
  }
  throw new Error(
    `mariadbd for ${spec.name} did not accept connections on port ${spec.port} in time (last error: ${lastError}). Last lines of ${p.logFile}:\n${tailOf(p.logFile, logFrom)}`,
  );
}

function describe(spec: InstanceSpec, p: InstancePaths, pid: number): Instance {
  return {
    name: spec.name,
    dir: p.dir,
    dataDir: p.dataDir,
    host: SANDBOX_HOST,
    port: spec.port,
    serverId: spec.serverId,
    pid,
    socket: p.socket,
    logFile: p.logFile,
  };
}

/**
 * Starts the instance (initialising its data dir when empty) and resolves once it serves root over TCP.
 * An instance already running on this dir is reused as it is.
 */
export async function startInstance(spec: InstanceSpec, options: StartOptions = {}): Promise<Instance> {
  const { mariadbd } = mariadbBinaries();
  const p = instancePaths(spec.dir);
  const deadline = Date.now() + (options.timeoutMs ?? 90_000);
  const log = options.log;

  const runningPid = instancePid({ dir: p.dir });
  if (runningPid !== undefined) {
    const port = configuredPort(p);
    if (port !== undefined && port !== spec.port) {
      throw new Error(`${spec.name} already runs from ${p.dir} on port ${port}, not ${spec.port}: stop it first`);
    }
    await waitUntilServing(spec, p, () => isOurMariadbd(runningPid, p.dataDir), deadline, 0);
    log?.debug({ instance: spec.name, pid: runningPid }, 'reusing running instance');
    return describe(spec, p, runningPid);
  }

  if (await portInUse(spec.port)) {
    throw new Error(`port ${spec.port} is already in use by another process; cannot start ${spec.name} there`);
  }

  await fsp.mkdir(p.tmpDir, { recursive: true });
  if (await dirIsEmpty(p.dataDir)) await initialiseDataDir(spec, p, log);
  await fsp.writeFile(p.cnfFile, myCnf(spec, p));
  await fsp.writeFile(p.initFile, initSql(), { mode: 0o600 });

  const logFrom = existsSync(p.logFile) ? statSync(p.logFile).size : 0;
  const out = openSync(p.logFile, 'a');
  let exited = false;
  let pid: number;
  try {
    // detached + unref + stdio to a file: the server keeps running after this process exits.
    const child = spawn(mariadbd, [`--defaults-file=${p.cnfFile}`, `--datadir=${p.dataDir}`], {
      detached: true,
      stdio: ['ignore', out, out],
    });
    child.once('exit', () => {
      exited = true;
    });
    child.once('error', () => {
      exited = true;
    });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not spawn ${mariadbd} for ${spec.name}`);
    pid = child.pid;
  } finally {
    closeSync(out);
  }
  log?.info({ instance: spec.name, port: spec.port, pid }, 'started mariadbd');
  await waitUntilServing(spec, p, () => !exited && isOurMariadbd(pid, p.dataDir), deadline, logFrom);
  return describe(spec, p, pid);
}

async function waitForExit(pid: number, dataDir: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isOurMariadbd(pid, dataDir)) return true;
    await sleep(100);
  }
  return !isOurMariadbd(pid, dataDir);
}

/**
 * Stops the instance cleanly (SIGTERM, then SIGKILL after the grace period).
 * Resolves false when it was not running. Only signals a pid whose cmdline names this data dir.
 */
export async function stopInstance(ref: InstanceRef, options: StopOptions = {}): Promise<boolean> {
  const { dataDir } = instancePaths(ref.dir);
  const pid = instancePid(ref);
  if (pid === undefined) return false;
  options.log?.info({ dir: ref.dir, pid }, 'stopping mariadbd');
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return true; // gone between the check and the signal
  }
  if (await waitForExit(pid, dataDir, options.timeoutMs ?? 20_000)) return true;
  options.log?.warn({ dir: ref.dir, pid }, 'mariadbd ignored SIGTERM; sending SIGKILL');
  return killInstance(ref);
}

/** SIGKILLs the instance (a crash, for fault tests) and waits until it is gone. False when it was not running. */
export async function killInstance(ref: InstanceRef): Promise<boolean> {
  const { dataDir } = instancePaths(ref.dir);
  const pid = instancePid(ref);
  if (pid === undefined) return false;
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return true;
  }
  if (!(await waitForExit(pid, dataDir, 10_000))) throw new Error(`mariadbd pid ${pid} (${ref.dir}) survived SIGKILL`);
  return true;
}
