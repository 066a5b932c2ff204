// Which lock a consistent snapshot takes on which server, and MySQL refused with why (by version string alone).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { snapshotLockFor, SnapshotUnsupportedError } from '../../src/mysql/snapshot.ts';

test('MariaDB 10.4 and later hold BACKUP STAGE BLOCK_COMMIT; older MariaDB a global read lock', () => {
  assert.equal(snapshotLockFor('10.11.19-MariaDB-0+deb12u1'), 'backup-stage');
  assert.equal(snapshotLockFor('10.4.0-MariaDB'), 'backup-stage');
  assert.equal(snapshotLockFor('11.4.2-MariaDB-log'), 'backup-stage');
  assert.equal(snapshotLockFor('10.3.39-MariaDB-log'), 'read-lock');
  assert.equal(snapshotLockFor('5.5.68-MariaDB'), 'read-lock');
});

test('MySQL is refused with a clear reason, and so is a version that cannot be read', () => {
  for (const v of ['8.0.36', '5.7.44-log', '8.4.0-0ubuntu0.24.04.1']) {
    assert.throws(
      () => snapshotLockFor(v),
      (err: Error) =>
        err instanceof SnapshotUnsupportedError
        && /--snapshot consistent is not supported on MySQL yet \(the server is /.test(err.message)
        && err.message.includes(v),
    );
  }
  assert.throws(() => snapshotLockFor('MariaDB'), /cannot read the MariaDB version from "MariaDB"/);
});
