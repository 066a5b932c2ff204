// The trigger SQL builders, compared as strings: the session each trigger needs, the CREATE without DEFINER, the
// source database renamed in its body; and the tables left behind that a body names.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTriggerSql, tablesNamedIn } from '../../src/clone/triggers.ts';
import type { TriggerDefinition } from '../../src/mysql/schema-objects.ts';

const trigger = (statement: string, over: Partial<TriggerDefinition> = {}): TriggerDefinition => ({
  name: 'film_add',
  table: 'film',
  timing: 'AFTER',
  event: 'INSERT',
  actionOrder: 1,
  statement,
  sqlMode: 'STRICT_TRANS_TABLES',
  characterSetClient: 'utf8mb4',
  collationConnection: 'utf8mb4_general_ci',
  ...over,
});

describe('createTriggerSql', () => {
  it('sets the session the trigger was created in, then creates it in the destination database', () => {
    assert.equal(
      createTriggerSql(trigger('INSERT INTO film_text VALUES (NEW.id)'), 'src', 'dst'),
      "SET SESSION sql_mode = 'STRICT_TRANS_TABLES';\nSET NAMES 'utf8mb4' COLLATE 'utf8mb4_general_ci';\nCREATE TRIGGER `dst`.`film_add` AFTER INSERT ON `dst`.`film` FOR EACH ROW INSERT INTO film_text VALUES (NEW.id)",
    );
  });
  it('points references to the source database at the destination', () => {
    assert.match(
      createTriggerSql(trigger('BEGIN INSERT INTO `src`.`log` VALUES (1); END'), 'src', 'dst'),
      /FOR EACH ROW BEGIN INSERT INTO `dst`.`log` VALUES \(1\); END$/,
    );
  });
  it('quotes names and the sql_mode', () => {
    const sql = createTriggerSql(trigger('SET @x = 1', { name: 'a`b', table: "o'k", sqlMode: "x'y" }), 's', 'd');
    assert.match(sql, /sql_mode = 'x\\'y'/);
    assert.match(sql, /CREATE TRIGGER `d`.`a``b` AFTER INSERT ON `d`.`o'k`/);
  });
  it('refuses a timing or event it does not know', () => {
    assert.throws(() => createTriggerSql(trigger('SET @x = 1', { timing: 'INSTEAD OF' }), 's', 'd'), /unexpected timing\/event/);
  });
});

describe('tablesNamedIn', () => {
  it('finds tables named as whole words, quoted or not, in any case', () => {
    const t = trigger('BEGIN UPDATE `Customer_Ext` SET n = 1; INSERT INTO audit_log VALUES (NEW.id); END');
    assert.deepEqual(tablesNamedIn(t, ['customer_ext', 'audit_log', 'audit', 'log', 'customer']), ['customer_ext', 'audit_log']);
  });
  it('finds nothing in a body that names no table left behind', () => {
    assert.deepEqual(tablesNamedIn(trigger('SET NEW.created = NOW(6)'), ['film_text', 'payment']), []);
  });
});
