// TLS per tablet: a mariadbd of its own serving a certificate from a CA made here with openssl; a tablet with
// `tls: true` connects when given that CA, is refused (naming the tablet) without it, and the CLI refuses a
// --db-ca-file it cannot read.

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import pino from 'pino';
import { openBinlogSource } from '../../src/mysql/wire/binlog/source.ts';
import { openPool, queryOn, type TabletRef } from '../../src/mysql/connection.ts';
import { startInstance, stopInstance } from '../../src/sandbox/instance.ts';
import type { Tablet } from '../../src/topology/types.ts';
import { TEST_BASE_PORT, TEST_SANDBOX_DIR } from '../helpers/cluster.ts';

const BIN = new URL('../../bin/shardworker.js', import.meta.url).pathname;
const PORT = TEST_BASE_PORT + 50;
const INSTANCE_DIR = path.join(path.resolve(TEST_SANDBOX_DIR), 'tls-instance');

function makeCerts(dir: string): { ca: string; cert: string; key: string } {
  const openssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  openssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=shardworker test CA');
  openssl('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1');
  writeFileSync(path.join(dir, 'san.cnf'), 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n');
  openssl(
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-out',
    'server.pem',
    '-days',
    '2',
    '-extfile',
    'san.cnf',
  );
  return { ca: path.join(dir, 'ca.pem'), cert: path.join(dir, 'server.pem'), key: path.join(dir, 'server.key') };
}

function tablet(tls: boolean | undefined): TabletRef {
  const t: Tablet = { keyspace: 'ks', shard: '0', type: 'primary', host: '127.0.0.1', port: PORT, dbName: 'mysql', user: 'root' };
  if (tls !== undefined) t.tls = tls;
  return { alias: 'zone1-900', tablet: t };
}

async function sslCipher(ref: TabletRef, ca?: Buffer): Promise<string> {
  const pool = openPool(ref, {}, { connectionLimit: 1, tls: ca ? { ca } : undefined });
  try {
    const rows = await queryOn<Array<{ Value: string }>>(pool, ref, 'reading Ssl_cipher', "SHOW SESSION STATUS LIKE 'Ssl_cipher'");
    return String(rows[0]?.Value ?? '');
  } finally {
    await pool.end().catch(() => {});
  }
}

describe('TLS to tablets', () => {
  const certDir = mkdtempSync(path.join(tmpdir(), 'sw-tls-'));
  let certs: { ca: string; cert: string; key: string };

  before(async () => {
    certs = makeCerts(certDir);
    await startInstance({
      name: 'tls',
      dir: INSTANCE_DIR,
      port: PORT,
      serverId: 950,
      extraConfig: [`ssl-ca=${certs.ca}`, `ssl-cert=${certs.cert}`, `ssl-key=${certs.key}`],
    });
  });

  after(async () => {
    await stopInstance({ dir: INSTANCE_DIR });
    rmSync(certDir, { recursive: true, force: true });
  });

  test('a tls tablet connects over TLS when given the CA', async () => {
    const cipher = await sslCipher(tablet(true), readFileSync(certs.ca));
    assert.notEqual(cipher, '', 'the session is not encrypted');
  });

  test('a tablet without tls connects as before, unencrypted', async () => {
    assert.equal(await sslCipher(tablet(undefined), readFileSync(certs.ca)), '');
    assert.equal(await sslCipher(tablet(false)), '');
  });

  test('a tls tablet whose certificate the system CAs do not trust is refused, naming the tablet', async () => {
    await assert.rejects(sslCipher(tablet(true)), (err: Error) => {
      assert.match(err.message, /zone1-900 \(127\.0\.0\.1:\d+\/mysql\)/);
      assert.match(err.message, /certificate/i);
      return true;
    });
  });

  test('the binlog reader reads a tls tablet over TLS', async () => {
    const pool = openPool(tablet(true), {}, { connectionLimit: 1, tls: { ca: readFileSync(certs.ca) } });
    try {
      const q = (text: string) => queryOn<Array<{ p: string }>>(pool, tablet(true), 'binlog over TLS', text);
      await q('CREATE DATABASE IF NOT EXISTS tls_binlog');
      await q('CREATE TABLE IF NOT EXISTS tls_binlog.t (k INT PRIMARY KEY)');
      const start = String((await q('SELECT @@GLOBAL.gtid_binlog_pos AS p'))[0].p);
      await q('INSERT INTO tls_binlog.t VALUES (7)');
      const source = await openBinlogSource({
        tablet: tablet(true),
        credentials: {},
        tls: { ca: readFileSync(certs.ca) },
        position: `MariaDB/${start}`,
        signal: new AbortController().signal,
        logger: pino({ level: 'silent' }),
      });
      const keys: unknown[] = [];
      for await (const ev of source) {
        if (ev.type === 'rows') keys.push(...ev.rows.map((r) => r.after?.[0]));
        if (ev.type === 'commit') break;
      }
      assert.deepEqual(keys, [7n]);
      await q('DROP DATABASE tls_binlog');
    } finally {
      await pool.end().catch(() => {});
    }
  });

  test('--db-ca-file naming a missing file stops the CLI, naming the file', async () => {
    const topo = path.join(certDir, 'topo.json');
    writeFileSync(topo, '{"keyspaces": {}, "tablets": {}}');
    const missing = path.join(certDir, 'nope', 'ca.pem');
    const proc = spawn(process.execPath, [BIN, '--topo', `file:${topo}`, '--db-ca-file', missing, '--port', '0', 'serve'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => proc.kill('SIGKILL'), 20_000);
    const code = await new Promise<number | null>((resolve) => proc.on('exit', (c) => resolve(c)));
    clearTimeout(timer);
    assert.notEqual(code, 0, `expected a failure, got ${code}: ${stderr}`);
    assert.notEqual(code, null, 'the CLI did not exit on its own');
    assert.ok(stderr.includes(missing), `stderr does not name the file: ${stderr}`);
    assert.doesNotMatch(stderr, /listening/);
  });
});
