// The lock watch's lines, from rows as the servers return them (the polling is tested in test/integration).

import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { statementHead, tableOf, waitLines } from '../../src/clone/lock-watch.ts';

describe('lock watch lines', () => {
  test('tableOf finds the table a statement writes or reads', () => {
    assert.equal(tableOf('INSERT INTO `db`.`t` (`a`) VALUES (?)'), '`db`.`t`');
    assert.equal(tableOf("LOAD DATA LOCAL INFILE 'x' INTO TABLE `db`.`my``t` FIELDS"), '`db`.`my``t`');
    assert.equal(tableOf('ALTER TABLE `db` . `t` ADD INDEX i (a)'), '`db`.`t`');
    assert.equal(tableOf('UPDATE _vt.copy_chunk SET done = 1'), '_vt.copy_chunk');
    assert.equal(tableOf('DELETE FROM `db`.`t` WHERE id > 3'), '`db`.`t`');
    assert.equal(tableOf('COMMIT'), null);
    assert.equal(tableOf(null), null);
  });

  test('statementHead keeps one short line', () => {
    assert.equal(statementHead('SELECT\n  1'), 'SELECT 1');
    assert.equal(statementHead('x'.repeat(100), 10), `${'x'.repeat(10)}…`);
    assert.match(statementHead(null), /no statement/);
  });

  test('row lock waits name the blocker; a thread seen there is not repeated from PROCESSLIST', () => {
    const lines = waitLines(
      'zone1-200',
      {
        rowWaits: [
          { waiting_thread: 7, seconds: 12, waiting_query: 'INSERT INTO `d`.`t` VALUES (1)', blocking_thread: 9, blocking_query: null, lock_table: '`d`.`t`' },
        ],
        stateWaits: [
          { ID: 7, TIME: 12, STATE: 'Update', INFO: 'INSERT INTO `d`.`t` VALUES (1)' },
          { ID: 8, TIME: 3, STATE: 'Waiting for table metadata lock', INFO: 'ALTER TABLE `d`.`u` ADD INDEX i (a)' },
        ],
        redo: null,
      },
      0.8,
    );
    assert.deepEqual(lines, [
      'zone1-200: `d`.`t`: thread 7 (INSERT INTO `d`.`t` VALUES (1)) has waited 12 s for a row lock held by thread 9 ((no statement: an open transaction or LOCK TABLES between statements))',
      'zone1-200: `d`.`u`: thread 8 (ALTER TABLE `d`.`u` ADD INDEX i (a)) has waited 3 s: Waiting for table metadata lock',
    ]);
  });

  test('a redo log over the fraction is reported, under it not', () => {
    const MiB = 1024 * 1024;
    assert.deepEqual(waitLines('zone1-300', { rowWaits: [], stateWaits: [], redo: { age: 430 * MiB, maxAge: 500 * MiB } }, 0.8), [
      'zone1-300: InnoDB redo log 86% full (checkpoint age 430 MiB of 500 MiB): writes wait for its checkpoint (a larger innodb_log_file_size helps)',
    ]);
    assert.deepEqual(waitLines('zone1-300', { rowWaits: [], stateWaits: [], redo: { age: 300 * MiB, maxAge: 500 * MiB } }, 0.8), []);
    assert.deepEqual(waitLines('zone1-300', { rowWaits: [], stateWaits: [], redo: { age: 1, maxAge: 0 } }, 0.8), []);
  });
});
