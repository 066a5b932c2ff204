// Which tables and views a job takes, one rule for clones and diffs of both kinds: the tables the filters select,
// the views they name, and every view whose tables all come too (a view over tables left behind could not be
// created on the destination; one over copied tables would be missed if it stayed behind). With no filter, a view
// that reads no table of its database comes as well; with one, only if named.

import type { SchemaDefinition, TableDefinition } from '../mysql/schema.ts';
import { quoteId } from '../mysql/sql.ts';
import { filterTables, parseTableMatchers, TableFilterError } from './table-filter.ts';

/** One include filter (names or /regexps/) and what to call the set it picks from in an error. */
export interface IncludeFilter {
  patterns: readonly string[];
  /** "of the source", "the clone copied": ends "table x matches no table …". */
  from: string;
}

/**
 * The tables and views of `schema` to take: narrowed by each include filter in turn (each of its patterns must
 * match something), minus `exclude`; then the views over them. Returned in schema order.
 */
export function pickTablesAndViews(schema: SchemaDefinition, includes: readonly IncludeFilter[], exclude: readonly string[]): TableDefinition[] {
  let names = schema.tables.map((t) => t.name);
  for (const include of includes) {
    const matchers = parseTableMatchers(include.patterns);
    for (const m of matchers) if (!names.some((n) => m.test(n))) throw new TableFilterError(`table ${m.pattern} matches no table ${include.from}`);
    names = names.filter((n) => matchers.some((m) => m.test(n)));
  }
  names = filterTables(names, null, exclude);
  const kindOf = new Map(schema.tables.map((t) => [t.name, t.kind]));
  // A view is taken when a filter named it, or when every table and view of this database it reads is taken.
  const picked = new Set(names.filter((n) => kindOf.get(n) === 'table' || includes.length > 0));
  const excluded = parseTableMatchers(exclude);
  const candidates = schema.tables.filter((t) => t.kind === 'view' && !picked.has(t.name) && !excluded.some((m) => m.test(t.name)));
  for (let grew = true; grew; ) {
    grew = false;
    for (const view of candidates) {
      if (picked.has(view.name)) continue;
      const reads = viewReads(view, schema);
      // Filtered, a view that reads nothing of this database is nobody's to take unless it is named.
      if ((includes.length === 0 || reads.length > 0) && reads.every((n) => picked.has(n))) {
        picked.add(view.name);
        grew = true;
      }
    }
  }
  return schema.tables.filter((t) => picked.has(t.name));
}

/**
 * The tables and views of its own database a view reads: its stored definition qualifies each as `db`.`name`.
 * (Columns appear as `db`.`table`.`col` or `alias`.`col`: the name after the database is still a table's.)
 */
export function viewReads(view: TableDefinition, schema: SchemaDefinition): string[] {
  const names = new Set(schema.tables.map((t) => t.name));
  const prefix = quoteId(schema.dbName) + '.`';
  const out = new Set<string>();
  const text = view.viewDefinition ?? view.createSql;
  for (let at = text.indexOf(prefix); at >= 0; at = text.indexOf(prefix, at + 1)) {
    const m = /^((?:[^`]|``)+)`/.exec(text.slice(at + prefix.length));
    if (m) {
      const name = m[1].replaceAll('``', '`');
      if (names.has(name)) out.add(name);
    }
  }
  return [...out];
}
