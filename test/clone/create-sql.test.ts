import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalizeCreateTable, rewriteCreateView, splitCreateTable } from '../../src/clone/create-sql.ts';
import { parseStrategy } from '../../src/clone/strategy-flags.ts';
import { BLP_FLAG_DONT_START, populateBlpCheckpoint } from '../../src/clone/checkpoint.ts';
import { filterTables } from '../../src/clone/table-filter.ts';

const CREATE = `CREATE TABLE \`customer\` (
  \`id\` bigint(20) NOT NULL AUTO_INCREMENT,
  \`keyspace_id\` bigint(20) unsigned NOT NULL,
  \`email\` varchar(100) DEFAULT NULL,
  PRIMARY KEY (\`id\`),
  UNIQUE KEY \`email\` (\`email\`),
  KEY \`ks\` (\`keyspace_id\`)
) ENGINE=InnoDB AUTO_INCREMENT=1001 DEFAULT CHARSET=utf8mb4`;

const none = parseStrategy('');

test('plain copy keeps the table as is, in the destination database', () => {
  const { create, alter } = splitCreateTable(CREATE, 'dst', 'customer', none);
  assert.equal(create, CREATE.replace('CREATE TABLE `customer`', 'CREATE TABLE `dst`.`customer`'));
  assert.equal(alter, null);
});

test('-delay_secondary_indexes moves KEY and UNIQUE KEY into one ALTER', () => {
  const { create, alter } = splitCreateTable(CREATE, 'dst', 'customer', parseStrategy('-delay_secondary_indexes'));
  assert.ok(!create.includes('KEY `ks`') && !create.includes('UNIQUE KEY'));
  assert.match(create, /PRIMARY KEY \(`id`\)\n\)/);
  assert.equal(alter, 'ALTER TABLE `dst`.`customer` ADD UNIQUE KEY `email` (`email`), ADD KEY `ks` (`keyspace_id`)');
});

test('-delay_primary_key and -skip_auto_increment', () => {
  const flags = parseStrategy('-delay_primary_key -delay_secondary_indexes -skip_auto_increment=customer');
  const { create, alter } = splitCreateTable(CREATE, 'dst', 'customer', flags);
  assert.ok(!create.includes('AUTO_INCREMENT'));
  assert.match(create, /`email` varchar\(100\) DEFAULT NULL\n\)/);
  assert.equal(alter, 'ALTER TABLE `dst`.`customer` ADD PRIMARY KEY (`id`), ADD UNIQUE KEY `email` (`email`), ADD KEY `ks` (`keyspace_id`)');
  assert.equal(normalizeCreateTable(CREATE, 'customer', flags), normalizeCreateTable(CREATE.replace(' AUTO_INCREMENT,', ','), 'customer', flags));
});

test('strategy flags: defaults, all, unknown', () => {
  const f = parseStrategy('-populate_blp_checkpoint -dont_start_binlog_player -skip_set_source_shards -skip_auto_increment=a,b');
  assert.ok(f.populateBlpCheckpoint && f.dontStartBinlogPlayer && f.skipSetSourceShards);
  assert.deepEqual([...f.skipAutoIncrement], ['a', 'b']);
  assert.throws(() => parseStrategy('-populate_blp_checkpoint -bogus'), /unknown strategy flag "-bogus"/);
  assert.throws(() => parseStrategy('-skip_auto_increment='), /names no table/);
});

test('views lose their DEFINER and point at the destination database', () => {
  const view =
    'CREATE ALGORITHM=UNDEFINED DEFINER=`root`@`localhost` SQL SECURITY DEFINER VIEW `v` AS select `src`.`customer`.`email` AS `email` from `src`.`customer`';
  assert.equal(
    rewriteCreateView(view, 'src', 'dst'),
    'CREATE OR REPLACE ALGORITHM=UNDEFINED SQL SECURITY DEFINER VIEW `v` AS select `dst`.`customer`.`email` AS `email` from `dst`.`customer`',
  );
});

test('blp_checkpoint rows', () => {
  assert.equal(
    populateBlpCheckpoint({ uid: 1, position: 'MariaDB/0-1-42', timeUpdated: 1700000000, flags: BLP_FLAG_DONT_START }),
    "REPLACE INTO `_vt`.`blp_checkpoint` (source_shard_uid, pos, max_tps, max_replication_lag, time_updated, transaction_timestamp, flags) VALUES (1, 'MariaDB/0-1-42', 9223372036854775807, 9223372036854775807, 1700000000, 0, 'DontStart')",
  );
});

test('table filters: names and /regexps/', () => {
  const names = ['customer', 'corder', 'product', 'log_2024'];
  assert.deepEqual(filterTables(names, null, ['product', '/^log_/']), ['customer', 'corder']);
  assert.deepEqual(filterTables(names, ['customer', '/order$/'], []), ['customer', 'corder']);
  assert.throws(() => filterTables(names, ['missing'], []), /table missing matches no table/);
  assert.throws(() => filterTables(names, ['/(/'], []), /bad table pattern/);
});
