// Turns a source CREATE TABLE into the destination's: the CREATE to run before the copy and the ALTER to run after,
// per the strategy. Works on SHOW CREATE TABLE output, which puts each column and index on its own line.

import { quoteId, quoteTable } from '../mysql/sql.ts';
import type { StrategyFlags } from './strategy-flags.ts';

export interface SplitCreate {
  create: string;
  /** Run after the copy (delayed indexes), or null. */
  alter: string | null;
}

const SECONDARY_INDEX = /^\s*(UNIQUE KEY|KEY|INDEX|UNIQUE INDEX|FULLTEXT KEY|SPATIAL KEY|FULLTEXT INDEX|SPATIAL INDEX)\s/i;
const PRIMARY_KEY = /^\s*PRIMARY KEY\s/i;
const AUTO_INCREMENT_TABLE_OPTION = /\s+AUTO_INCREMENT=\d+/i;
const AUTO_INCREMENT_COLUMN = / AUTO_INCREMENT(?=,?$)/i;

type Flags = Pick<StrategyFlags, 'delaySecondaryIndexes' | 'delayPrimaryKey' | 'skipAutoIncrement'>;

/** Rewrites `CREATE TABLE \`t\`` to name the destination database explicitly. */
function qualify(createSql: string, dbName: string, table: string): string {
  const head = /^CREATE TABLE\s+`(?:[^`]|``)+`/;
  if (!head.test(createSql)) throw new Error(`unexpected CREATE TABLE text for ${table}`);
  return createSql.replace(head, `CREATE TABLE ${quoteTable(dbName, table)}`);
}

export function splitCreateTable(createSql: string, dbName: string, table: string, flags: Flags): SplitCreate {
  const lines = qualify(createSql, dbName, table).split('\n');
  const kept: string[] = [];
  const delayed: string[] = [];
  const skipAutoIncrement = flags.skipAutoIncrement.has(table);
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    const isBodyLine = i > 0 && i < lines.length - 1;
    const delay = isBodyLine && ((flags.delaySecondaryIndexes && SECONDARY_INDEX.test(line)) || (flags.delayPrimaryKey && PRIMARY_KEY.test(line)));
    if (delay) {
      delayed.push('ADD ' + line.trim().replace(/,$/, ''));
      continue;
    }
    if (skipAutoIncrement) {
      if (isBodyLine) line = line.replace(AUTO_INCREMENT_COLUMN, '');
      else line = line.replace(AUTO_INCREMENT_TABLE_OPTION, '');
    }
    kept.push(line);
  }
  // Removing index lines can leave the last body line with a trailing comma.
  const closing = kept.length - 1;
  kept[closing - 1] = kept[closing - 1].replace(/,$/, '');
  const alter = delayed.length ? `ALTER TABLE ${quoteTable(dbName, table)} ${delayed.join(', ')}` : null;
  return { create: kept.join('\n'), alter };
}

/** Normalises a CREATE TABLE for comparing source and destination: the counter moves, nothing else may. */
export function normalizeCreateTable(createSql: string, table: string, flags: Pick<StrategyFlags, 'skipAutoIncrement'>): string {
  let text = createSql.replace(AUTO_INCREMENT_TABLE_OPTION, '');
  if (flags.skipAutoIncrement.has(table))
    text = text
      .split('\n')
      .map((l) => l.replace(AUTO_INCREMENT_COLUMN, ''))
      .join('\n');
  return text;
}

/**
 * Rewrites SHOW CREATE VIEW for the destination: no DEFINER (the user may not exist there), and references to the
 * source database point at the destination's.
 */
export function rewriteCreateView(createSql: string, sourceDb: string, destDb: string): string {
  let text = createSql.replace(/\sDEFINER=`(?:[^`]|``)*`@`(?:[^`]|``)*`/, '');
  if (sourceDb !== destDb) text = text.split(quoteId(sourceDb) + '.').join(quoteId(destDb) + '.');
  return text.replace(/^CREATE\s/, 'CREATE OR REPLACE ');
}

/**
 * A view definition for comparison: SHOW CREATE VIEW qualifies names with the database or not depending on the
 * session's current database, so both qualifier and DEFINER are dropped.
 */
export function normalizeView(createSql: string, dbName: string): string {
  return rewriteCreateView(createSql, dbName, dbName)
    .split(quoteId(dbName) + '.')
    .join('');
}
