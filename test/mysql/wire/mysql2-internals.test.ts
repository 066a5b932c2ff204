// The start-up check of mysql2's internals: all present on the pinned version, and a missing one named.

import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { MYSQL2_INTERNALS, MYSQL2_VERSION, makeProbe, missingInternals, Mysql2InternalsError } from '../../../src/mysql/wire/mysql2-internals.ts';

test('the installed mysql2 is the pinned version and has every internal the wire code uses', () => {
  const require = createRequire(import.meta.url);
  assert.equal((require('mysql2/package.json') as { version: string }).version, MYSQL2_VERSION);
  assert.deepEqual(
    missingInternals().map((m) => m.name),
    [],
  );
});

test('a missing internal is named, with its mysql2 file and the modules that use it', () => {
  const probe = makeProbe();
  const queryProto = Object.getPrototypeOf(probe.query) as Record<string, unknown>;
  const row = queryProto.row;
  try {
    // Take Query.prototype.row away as a mysql2 release that renamed it would.
    delete queryProto.row;
    const missing = missingInternals(makeProbe());
    assert.ok(missing.length >= 1);
    const message = new Mysql2InternalsError(missing, '3.99.0').message;
    assert.match(message, /mysql2 3\.99\.0 lacks what shardworker relies on/);
    assert.match(message, /Query\.prototype\.row .* in lib\/commands\/query\.js, used by mysql\/wire\/raw-rows\.ts/);
    assert.match(message, new RegExp(`built against mysql2 ${MYSQL2_VERSION.replace(/\./g, '\\.')}`));
  } finally {
    queryProto.row = row;
  }
  assert.deepEqual(missingInternals(makeProbe()), []);
});

test('every listed internal names its mysql2 file and its users', () => {
  for (const i of MYSQL2_INTERNALS) {
    assert.match(i.where, /^lib\//, i.name);
    assert.match(i.usedBy, /^mysql\/wire\//, i.name);
  }
});

test('the CLI refuses to start on a mysql2 without them, naming the internal', () => {
  // A preload that removes the handshake's sendCredentials before the CLI's own check runs.
  const preload = `import { createRequire } from 'node:module';
    const require = createRequire(process.cwd() + '/package.json');
    const m = require('mysql2'); const { PassThrough } = require('node:stream');
    const c = m.createConnection({ stream: new PassThrough() }); c.on('error', () => {});
    delete Object.getPrototypeOf(c._command).sendCredentials; c.destroy();`;
  const out = spawnSync(process.execPath, ['--import', 'tsx', '--import', `data:text/javascript,${encodeURIComponent(preload)}`, 'src/cli.ts', '--help'], {
    encoding: 'utf8',
    env: { ...process.env, NODE_PATH: '' },
  });
  assert.equal(out.status, 1, out.stderr);
  assert.match(
    out.stderr,
    /shardworker: mysql2 .* lacks what shardworker relies on .*ClientHandshake\.prototype\.sendCredentials and sendSSLRequest in lib\/commands\/client_handshake\.js/,
  );
});
