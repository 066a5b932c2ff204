// Triggers on the destination: created once their table's rows are in (a BEFORE INSERT trigger that sets a column
// would rewrite copied values, an AFTER INSERT one that writes another table would write its rows twice), each with
// the sql_mode and character set it was created with on the source, in the order they fire; then compared.

import { readSchemaObjects, type TriggerDefinition } from '../mysql/schema-objects.ts';
import { quoteId, quoteString, quoteTable } from '../mysql/sql.ts';
import type { DestinationDb } from './schema-copy.ts';

const ER_TRG_ALREADY_EXISTS = 1359;
const TIMINGS = new Set(['BEFORE', 'AFTER']);
const EVENTS = new Set(['INSERT', 'UPDATE', 'DELETE']);

/** The body with references to the source database pointed at the destination's (as for views). */
function rewriteBody(statement: string, sourceDb: string, destDb: string): string {
  return sourceDb === destDb ? statement : statement.split(quoteId(sourceDb) + '.').join(quoteId(destDb) + '.');
}

/**
 * The statements that create `trigger` in `destDb`: the session it needs (its sql_mode and character set, which the
 * server stores with it), then CREATE TRIGGER. No DEFINER: the user may not exist there (it runs as the worker's user).
 */
export function createTriggerSql(trigger: TriggerDefinition, sourceDb: string, destDb: string): string {
  if (!TIMINGS.has(trigger.timing) || !EVENTS.has(trigger.event))
    throw new Error(`trigger ${trigger.name}: unexpected timing/event ${trigger.timing} ${trigger.event}`);
  return [
    `SET SESSION sql_mode = ${quoteString(trigger.sqlMode)}`,
    `SET NAMES ${quoteString(trigger.characterSetClient)} COLLATE ${quoteString(trigger.collationConnection)}`,
    `CREATE TRIGGER ${quoteTable(destDb, trigger.name)} ${trigger.timing} ${trigger.event} ON ${quoteTable(destDb, trigger.table)} FOR EACH ROW ${rewriteBody(trigger.statement, sourceDb, destDb)}`,
  ].join(';\n');
}

/**
 * Creates `triggers` (the source's, on tables this job copied, in firing order) on one destination. `dest.client`
 * must be a client of its own: each statement batch changes its session. A trigger of the same name already on the same
 * table (a repeat, or a resumed job that got this far) is replaced; one on another table is an error naming both.
 */
export async function createTriggers(dest: DestinationDb, sourceDb: string, triggers: readonly TriggerDefinition[]): Promise<void> {
  if (triggers.length === 0) return;
  const { client, dbName } = dest;
  const { ref } = client;
  const existing = new Map(
    (
      await client.query<{ name: string; tableName: string }[]>(
        'listing triggers',
        'SELECT TRIGGER_NAME AS name, EVENT_OBJECT_TABLE AS tableName FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?',
        [dbName],
      )
    ).map((r) => [String(r.name), String(r.tableName)]),
  );
  for (const trigger of triggers) {
    const on = existing.get(trigger.name);
    if (on !== undefined && on !== trigger.table) {
      throw new Error(
        `destination ${ref.alias} already has a trigger ${dbName}.${trigger.name} on table ${on}; the source's is on ${trigger.table}: drop or rename it before cloning`,
      );
    }
    if (on !== undefined) await client.query(`replacing trigger ${trigger.name}`, `DROP TRIGGER IF EXISTS ${quoteTable(dbName, trigger.name)}`);
    // A repeat after a lost connection: "trigger already exists" (1359) means the first attempt created it.
    await client.query(`creating trigger ${trigger.name} on ${trigger.table}`, createTriggerSql(trigger, sourceDb, dbName), undefined, {
      repeat: { kind: 'error', errnos: [ER_TRG_ALREADY_EXISTS] },
    });
  }
}

/**
 * The tables of `notCopied` that a trigger's body names (as a whole word, quoted or not): a trigger that reads or
 * writes a table left behind fails on the destination the first time it fires. A column of the same name reads the
 * same, so this is for a warning, not a refusal.
 */
export function tablesNamedIn(trigger: TriggerDefinition, notCopied: readonly string[]): string[] {
  const body = trigger.statement.toLowerCase();
  return notCopied.filter((name) => {
    const n = name.toLowerCase();
    for (let at = body.indexOf(n); at >= 0; at = body.indexOf(n, at + 1)) {
      const before = body[at - 1] ?? ' ';
      const after = body[at + n.length] ?? ' ';
      if (!/[\w$]/.test(before) && !/[\w$]/.test(after)) return true;
    }
    return false;
  });
}

/** Differences between the source's triggers on the copied tables and the destination's, one line each. */
export async function compareTriggers(dest: DestinationDb, sourceDb: string, triggers: readonly TriggerDefinition[]): Promise<string[]> {
  if (triggers.length === 0) return [];
  const actual = new Map((await readSchemaObjects(dest.client, dest.dbName)).triggers.map((t) => [t.name, t]));
  const problems: string[] = [];
  for (const want of triggers) {
    const got = actual.get(want.name);
    if (!got) {
      problems.push(`${dest.client.ref.alias}: trigger ${want.name} on ${want.table} is missing`);
      continue;
    }
    const describe = (t: TriggerDefinition, body: string) => `${t.timing} ${t.event} ON ${t.table} (order ${t.actionOrder}, sql_mode ${t.sqlMode}) ${body}`;
    const wantText = describe(want, rewriteBody(want.statement, sourceDb, dest.dbName));
    const haveText = describe(got, got.statement);
    if (wantText !== haveText)
      problems.push(`${dest.client.ref.alias}: trigger ${want.name} differs from the source:\n  source: ${wantText}\n  dest:   ${haveText}`);
  }
  return problems;
}
