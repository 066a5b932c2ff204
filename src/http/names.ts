// Table names in a job's options (`tables`, `excludeTables`), checked where requests come in so that a name
// like `../x` or one holding NUL is refused with a 400 naming the option, not found out mid-job. The worker still
// checks types and ranges (parseOptions); this only adds what makes a name no name.

import { TableFilterError, parseTableMatchers } from '../clone/table-filter.ts';
import { OptionError } from '../worker/options.ts';

const TABLE_LIST_OPTIONS = ['tables', 'excludeTables'] as const;

/** MySQL's and MariaDB's limit on a table name. */
const MAX_TABLE_NAME = 64;

/** Why `entry` (a name or a /regexp/) cannot select a table, or null when it can. */
export function tableEntryProblem(entry: string): string | null {
  if (/[\u0000-\u001f\u007f]/.test(entry)) return 'holds a control character (NUL, newline, …)';
  if (entry.length > 2 && entry.startsWith('/') && entry.endsWith('/')) {
    try {
      parseTableMatchers([entry]);
    } catch (e) {
      if (e instanceof TableFilterError) return 'is not a valid /regexp/';
      throw e;
    }
    return null;
  }
  if (entry.includes('/') || entry.includes('\\')) return 'is no table name: it holds / or \\ (a /regexp/ goes between two slashes)';
  if (/^\.+$/.test(entry)) return 'is no table name';
  if (entry.length > MAX_TABLE_NAME) return `is longer than the ${MAX_TABLE_NAME} characters a table name may have`;
  return null;
}

function shown(entry: string): string {
  return JSON.stringify(entry.length > 80 ? `${entry.slice(0, 80)}…` : entry);
}

/** Throws OptionError (HTTP 400, `field` the option) for the first entry of a table list that is no name. */
export function checkTableNames(options: Record<string, unknown>): void {
  for (const name of TABLE_LIST_OPTIONS) {
    const value = options[name];
    // The same spellings parseOptions takes: a list, or a comma-separated string. Wrong types are its to report.
    const items: unknown[] = Array.isArray(value) ? value : typeof value === 'string' ? value.split(',') : [];
    for (const item of items) {
      if (typeof item !== 'string' || item.trim() === '') continue;
      const problem = tableEntryProblem(item.trim());
      if (problem) throw new OptionError(name, `option ${name}: ${shown(item.trim())} ${problem}`);
    }
  }
}
