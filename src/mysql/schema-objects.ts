// Reads a database's schema objects other than tables and views from a tablet: triggers (copied with their tables),
// stored routines and events (not copied: the job names them so that nobody is surprised they stayed behind).

import type { TabletClient } from './tablet-client.ts';
import { DENY_TRIGGER_PREFIX } from './write-control.ts';

export interface TriggerDefinition {
  name: string;
  /** The table it is on. */
  table: string;
  /** BEFORE or AFTER. */
  timing: string;
  /** INSERT, UPDATE or DELETE. */
  event: string;
  /** Its place among the triggers of the same table, timing and event (1 first): they fire in this order. */
  actionOrder: number;
  /** The body after FOR EACH ROW, as the server keeps it. */
  statement: string;
  /** The sql_mode it was created with, and runs with. */
  sqlMode: string;
  characterSetClient: string;
  collationConnection: string;
}

export interface LeftBehind {
  /** PROCEDURE, FUNCTION, PACKAGE, PACKAGE BODY or EVENT. */
  kind: string;
  name: string;
}

export interface SchemaObjects {
  /** In creation order: by table, then timing, event and action order. */
  triggers: TriggerDefinition[];
  /** Stored routines and events of the database, which a copy does not take. */
  leftBehind: LeftBehind[];
}

interface TriggerRow {
  name: string;
  tableName: string;
  timing: string;
  event: string;
  actionOrder: string | number;
  statement: Buffer | string;
  sqlMode: Buffer | string;
  charsetClient: Buffer | string;
  collation: Buffer | string;
}

const text = (v: Buffer | string | null): string => (v === null ? '' : Buffer.isBuffer(v) ? v.toString('utf8') : String(v));

export async function readSchemaObjects(client: TabletClient, dbName: string): Promise<SchemaObjects> {
  const triggers = await client.query<TriggerRow[]>(
    'reading triggers',
    `SELECT TRIGGER_NAME AS name, EVENT_OBJECT_TABLE AS tableName, ACTION_TIMING AS timing,
       EVENT_MANIPULATION AS event, ACTION_ORDER AS actionOrder, ACTION_STATEMENT AS statement, SQL_MODE AS sqlMode,
       CHARACTER_SET_CLIENT AS charsetClient, COLLATION_CONNECTION AS collation
     FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY EVENT_OBJECT_TABLE, ACTION_TIMING, EVENT_MANIPULATION, ACTION_ORDER`,
    [dbName],
  );
  const routines = await client.query<{ kind: string; name: string }[]>(
    'reading stored routines',
    'SELECT ROUTINE_TYPE AS kind, ROUTINE_NAME AS name FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_TYPE, ROUTINE_NAME',
    [dbName],
  );
  const events = await client.query<{ name: string }[]>(
    'reading events',
    'SELECT EVENT_NAME AS name FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME',
    [dbName],
  );
  return {
    // A vertical cutover's deny triggers belong to the tablet they guard, never to a copy of its tables.
    triggers: triggers
      .filter((t) => !text(t.name).startsWith(DENY_TRIGGER_PREFIX))
      .map((t) => ({
        name: text(t.name),
        table: text(t.tableName),
        timing: text(t.timing),
        event: text(t.event),
        actionOrder: Number(t.actionOrder),
        statement: text(t.statement),
        sqlMode: text(t.sqlMode),
        characterSetClient: text(t.charsetClient),
        collationConnection: text(t.collation),
      })),
    leftBehind: [...routines.map((r) => ({ kind: text(r.kind), name: text(r.name) })), ...events.map((e) => ({ kind: 'EVENT', name: text(e.name) }))],
  };
}
