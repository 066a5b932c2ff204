// A real schema, not just rows: triggers (a BEFORE INSERT that sets a column, an AFTER INSERT that writes another
// copied table), circular foreign keys, a foreign key to a table left behind, GEOMETRY with a SPATIAL key, a FULLTEXT
// MyISAM table, views, a stored procedure and an event. A VerticalSplitClone and a SplitClone (over shards whose names
// mix lengths: `-80` and `8000000000000000-`) end done, byte for byte; the triggers are on the destinations and fire
// there afterwards; the log names what was left behind; the diffs, named by the destination alone, compare what the
// clone copied.

import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { before, describe, test } from 'node:test';
import { onSource, readTopologyFile, runJob, sql, testCluster, writeTopology, type TestCluster } from '../helpers/cluster.ts';
import { readRows } from '../helpers/rows.ts';
import { writeVerticalTopology } from '../helpers/vertical.ts';

const SRC = 'so_src';
const VDST = 'so_vdst';
const SDST = 'so_sdst';
const TRIGGERS = [
  'film_created BEFORE INSERT film 1',
  'film_text_add AFTER INSERT film 1',
  'film_title BEFORE INSERT film 2',
  'payment_touch AFTER INSERT payment 1',
];
/** Copied by both clones; customer_ext (referenced by payment) stays behind. */
const COPIED = ['address', 'film', 'film_text', 'payment', 'staff', 'store'];

async function seed(c: TestCluster): Promise<void> {
  // keyspace ids spread over the whole uint64 range, with both sides of 0x80…: 2^63 - 1 and 2^63.
  const ksid = `CAST(seq AS UNSIGNED) * 614891469123651720`;
  await onSource(
    c,
    `SET SESSION sql_mode = 'NO_AUTO_VALUE_ON_ZERO,STRICT_ALL_TABLES,NO_ENGINE_SUBSTITUTION', time_zone = '+00:00', foreign_key_checks = 0;
    DROP DATABASE IF EXISTS ${SRC}; CREATE DATABASE ${SRC} CHARACTER SET utf8mb4; USE ${SRC};
    CREATE TABLE customer_ext (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, name VARCHAR(40)) ENGINE=InnoDB;
    CREATE TABLE store (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, manager_staff_id INT NOT NULL,
      KEY m (manager_staff_id), CONSTRAINT fk_store_staff FOREIGN KEY (manager_staff_id) REFERENCES staff (id)) ENGINE=InnoDB;
    CREATE TABLE staff (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, store_id INT NOT NULL, name VARCHAR(40),
      KEY s (store_id), CONSTRAINT fk_staff_store FOREIGN KEY (store_id) REFERENCES store (id)) ENGINE=InnoDB;
    CREATE TABLE payment (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, customer_id INT NOT NULL, amount DECIMAL(7,2),
      KEY c (customer_id), CONSTRAINT fk_payment_customer FOREIGN KEY (customer_id) REFERENCES customer_ext (id)) ENGINE=InnoDB;
    CREATE TABLE address (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, location GEOMETRY NOT NULL, SPATIAL KEY loc (location)) ENGINE=InnoDB;
    CREATE TABLE film (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, title VARCHAR(60) CHARACTER SET utf8mb4, description TEXT,
      rating ENUM('G','PG','R'), features SET('Trailers','Commentaries'), release_year YEAR, created DATETIME(6)) ENGINE=InnoDB;
    CREATE TABLE film_text (id INT PRIMARY KEY, keyspace_id BIGINT UNSIGNED NOT NULL, title VARCHAR(60) CHARACTER SET utf8mb4, description TEXT,
      FULLTEXT KEY ft (title, description)) ENGINE=MyISAM;
    CREATE TRIGGER film_created BEFORE INSERT ON film FOR EACH ROW SET NEW.created = NOW(6);
    CREATE TRIGGER film_title BEFORE INSERT ON film FOR EACH ROW FOLLOWS film_created SET NEW.title = TRIM(NEW.title);
    CREATE TRIGGER film_text_add AFTER INSERT ON film FOR EACH ROW BEGIN
      INSERT INTO film_text (id, keyspace_id, title, description) VALUES (NEW.id, NEW.keyspace_id, NEW.title, NEW.description);
      SET @last_film = NEW.id;
    END;
    CREATE TRIGGER payment_touch AFTER INSERT ON payment FOR EACH ROW UPDATE customer_ext SET name = name WHERE id = NEW.customer_id;
    CREATE VIEW film_list AS SELECT f.id, f.title, t.description FROM film f JOIN film_text t ON t.id = f.id;
    CREATE VIEW customer_list AS SELECT id, name FROM customer_ext;
    CREATE PROCEDURE rewards_report(IN n INT) SELECT customer_id, SUM(amount) FROM payment GROUP BY customer_id HAVING COUNT(*) >= n;
    CREATE EVENT nightly_cleanup ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM payment WHERE amount < 0;
    INSERT INTO customer_ext SELECT seq, ${ksid}, CONCAT('customer ', seq) FROM seq_1_to_29;
    INSERT INTO store SELECT seq, ${ksid}, seq FROM seq_1_to_29;
    INSERT INTO staff SELECT seq, ${ksid}, seq, CONCAT('Staff ', seq, ' Ä') FROM seq_1_to_29;
    INSERT INTO payment SELECT seq, ${ksid}, 1 + seq % 29, (seq * 37 % 1000) / 100 - 2 FROM seq_1_to_29;
    INSERT INTO address SELECT seq, ${ksid}, ST_GeomFromText(CONCAT('POLYGON((', seq, ' 0, ', seq + 1, ' 0, ', seq + 1, ' 1, ', seq, ' 0))')) FROM seq_1_to_29;
    INSERT INTO film (id, keyspace_id, title, description, rating, features, release_year) SELECT seq, ${ksid}, CONCAT('Film ', seq, ' 🎬'),
      CONCAT('A story of ', seq, ' dinosaurs'), ELT(1 + seq % 3, 'G', 'PG', 'R'), IF(seq % 2, 'Trailers,Commentaries', ''), 1990 + seq FROM seq_1_to_29;
    INSERT INTO film (id, keyspace_id, title) VALUES (100, 9223372036854775807, 'just below 0x80'), (101, 9223372036854775808, 'exactly 0x80');`,
  );
  // The clones run seconds later: a BEFORE INSERT trigger fired by the copy would rewrite every created value.
  await new Promise((resolve) => setTimeout(resolve, 1100));
}

function logOf(topoFile: string): string {
  return readFileSync(path.join(path.dirname(topoFile), 'job.log'), 'utf8');
}

async function triggersOn(at: { port: number }, db: string): Promise<string[]> {
  const rows = await sql(
    at,
    'SELECT CONCAT(TRIGGER_NAME, " ", ACTION_TIMING, " ", EVENT_MANIPULATION, " ", EVENT_OBJECT_TABLE, " ", ACTION_ORDER) AS t FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY TRIGGER_NAME',
    [db],
  );
  return rows.map((r) => String(r.t));
}

/** Inserts a film on a destination: the BEFORE trigger sets created to now, the AFTER one writes film_text. */
async function triggersFire(at: { port: number }, db: string, id: number, ksid: string): Promise<void> {
  await sql(at, `INSERT INTO ${db}.film (id, keyspace_id, title, created) VALUES (${id}, ${ksid}, '  new ', '2000-01-01 00:00:00')`);
  const [film] = await sql(at, `SELECT TIMESTAMPDIFF(SECOND, created, NOW(6)) AS age FROM ${db}.film WHERE id = ${id}`);
  assert.ok(Number(film.age) < 60, `the BEFORE INSERT trigger set created (age ${String(film.age)}s)`);
  const [text] = await sql(at, `SELECT COUNT(*) AS n FROM ${db}.film_text WHERE id = ${id} AND title = 'new'`);
  assert.equal(Number(text.n), 1, 'the AFTER INSERT trigger wrote film_text');
  await sql(at, `DELETE FROM ${db}.film WHERE id = ${id}; DELETE FROM ${db}.film_text WHERE id = ${id}`);
}

describe('schema objects', () => {
  let c: TestCluster;
  before(async () => {
    c = await testCluster();
    await seed(c);
    for (const d of c.dests) await sql(d, `DROP DATABASE IF EXISTS ${VDST}; DROP DATABASE IF EXISTS ${SDST}; DROP DATABASE IF EXISTS _vt`);
  });

  describe('VerticalSplitClone', () => {
    let topo: string;
    before(() => {
      topo = writeVerticalTopology(c, { sourceDb: SRC, destDb: VDST, destInstance: 0 });
    });

    test('moves the tables with their triggers and the view over them, byte for byte, and names what stayed behind', async () => {
      const final = await runJob(topo, { command: 'VerticalSplitClone', keyspace: 'dst', shard: '0', options: { tables: COPIED, verify: true } });
      assert.equal(final.state, 'done', final.error ?? '');
      assert.deepEqual(
        final.tables.map((t) => t.name).sort(),
        [...COPIED, 'film_list'].sort(),
        'the view over moved tables comes; the one over customer_ext does not',
      );
      for (const table of COPIED) assert.deepEqual(await readRows(c.dests[0], VDST, table), await readRows(c.primary, SRC, table), table);
      assert.deepEqual(await triggersOn(c.dests[0], VDST), TRIGGERS);
      assert.equal(Number((await sql(c.dests[0], `SELECT COUNT(*) AS n FROM ${VDST}.film_list`))[0].n), 31);
      const fks = await sql(
        c.dests[0],
        'SELECT CONSTRAINT_NAME AS n, REFERENCED_TABLE_NAME AS r FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = ? ORDER BY n',
        [VDST],
      );
      assert.deepEqual(
        fks.map((r) => `${String(r.n)}->${String(r.r)}`),
        ['fk_payment_customer->customer_ext', 'fk_staff_store->store', 'fk_store_staff->staff'],
      );
      const log = logOf(topo);
      assert.match(log, /procedure rewards_report is not copied/);
      assert.match(log, /event nightly_cleanup is not copied/);
      assert.match(log, /trigger payment_touch on payment names customer_ext, which is not copied/);
      assert.doesNotMatch(log, /trigger film\w* on film names/);
      const after = await readTopologyFile(topo);
      assert.deepEqual(after.keyspaces.dst.shards['0'].sourceShards[0].tables, COPIED);
      await triggersFire(c.dests[0], VDST, 500, '1');
    });

    test('VerticalSplitDiff ks/0 with no --tables compares the moved tables and passes', async () => {
      const final = await runJob(topo, { command: 'VerticalSplitDiff', keyspace: 'dst', shard: '0', options: {} });
      assert.equal(final.state, 'done', final.error ?? '');
      assert.deepEqual(final.tables.map((t) => t.name).sort(), [...COPIED, 'film_list'].sort());
      assert.equal(new Map(final.tables.map((t) => [t.name, t])).get('film')!.diff!.summary, '31 rows checked, no differences');
    });

    test('VerticalSplitDiff with no --tables fails naming the table with a changed value; --exclude-tables narrows it', async () => {
      await sql(c.dests[0], `SET SESSION foreign_key_checks = 0; UPDATE ${VDST}.staff SET name = 'changed' WHERE id = 3`);
      try {
        const final = await runJob(topo, { command: 'VerticalSplitDiff', keyspace: 'dst', shard: '0', options: {} });
        assert.equal(final.state, 'error');
        assert.match(final.error ?? '', /differences found in 1 of 6 tables/);
        assert.match(final.error ?? '', /staff: 29 rows checked: 28 matching, 1 mismatched \(id=3 \[name\]\)/);
        const narrowed = await runJob(topo, { command: 'VerticalSplitDiff', keyspace: 'dst', shard: '0', options: { excludeTables: ['staff'] } });
        assert.equal(narrowed.state, 'done', narrowed.error ?? '');
        assert.ok(!narrowed.tables.some((t) => t.name === 'staff'));
      } finally {
        await sql(c.dests[0], `UPDATE ${VDST}.staff SET name = 'Staff 3 Ä' WHERE id = 3`);
      }
    });

    test('a missing trigger fails the diff naming it', async () => {
      await sql(c.dests[0], `DROP TRIGGER ${VDST}.film_text_add`);
      const final = await runJob(topo, { command: 'VerticalSplitDiff', keyspace: 'dst', shard: '0', options: {} });
      assert.equal(final.state, 'error');
      assert.match(final.error ?? '', /trigger film_text_add on film is missing/);
    });
  });

  describe('SplitClone over shards -80 and 8000000000000000-', () => {
    let topo: string;
    before(() => {
      topo = writeTopology(c, {
        keyspace: 'ks',
        sources: [{ shard: '0', dbName: SRC }],
        destinations: [
          { shard: '-80', instance: 1, dbName: SDST },
          { shard: '8000000000000000-', instance: 2, dbName: SDST },
        ],
      });
    });

    test('copies every table byte for byte into the shard of each row, with the triggers', async () => {
      const final = await runJob(topo, { command: 'SplitClone', keyspace: 'ks', shard: '0', options: { excludeTables: ['customer_ext'], verify: true } });
      assert.equal(final.state, 'done', final.error ?? '');
      assert.deepEqual(final.tables.map((t) => t.name).sort(), [...COPIED, 'film_list'].sort());
      const [low, high] = [c.dests[1], c.dests[2]];
      for (const table of COPIED) {
        const source = await readRows(c.primary, SRC, table);
        const a = await readRows(low, SDST, table);
        const b = await readRows(high, SDST, table);
        assert.equal(a.size + b.size, source.size, table);
        assert.deepEqual(new Map([...a, ...b]), source, table);
        assert.ok(a.size > 0 && b.size > 0, `${table} on both shards`);
      }
      // 2^63 - 1 is below 80, 2^63 is 8000000000000000 itself: the first id of the upper shard.
      assert.equal(Number((await sql(low, `SELECT COUNT(*) AS n FROM ${SDST}.film WHERE id = 100`))[0].n), 1);
      assert.equal(Number((await sql(high, `SELECT COUNT(*) AS n FROM ${SDST}.film WHERE id = 101`))[0].n), 1);
      for (const d of [low, high]) assert.deepEqual(await triggersOn(d, SDST), TRIGGERS);
      const after = await readTopologyFile(topo);
      assert.deepEqual(after.keyspaces.ks.shards['8000000000000000-'].sourceShards[0].tables, [
        'address',
        'film',
        'film_list',
        'film_text',
        'payment',
        'staff',
        'store',
      ]);
      assert.match(logOf(topo), /procedure rewards_report is not copied/);
      assert.match(logOf(topo), /event nightly_cleanup is not copied/);
      await triggersFire(high, SDST, 600, '18446744073709551615');
    });

    test('SplitDiff of each destination with no flags compares what the clone copied and passes', async () => {
      for (const shard of ['-80', '8000000000000000-']) {
        const final = await runJob(topo, { command: 'SplitDiff', keyspace: 'ks', shard, options: {} });
        assert.equal(final.state, 'done', `${shard}: ${final.error ?? ''}`);
        assert.ok(!final.tables.some((t) => t.name === 'customer_ext'), shard);
      }
    });
  });
});
