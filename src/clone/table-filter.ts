// `--tables` / `--exclude-tables`: names or /regexps/.

export class TableFilterError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TableFilterError';
  }
}

export type TableMatcher = { pattern: string; test: (name: string) => boolean };

export function parseTableMatchers(patterns: readonly string[]): TableMatcher[] {
  return patterns.map((pattern) => {
    if (pattern.length > 2 && pattern.startsWith('/') && pattern.endsWith('/')) {
      let re: RegExp;
      try {
        re = new RegExp(pattern.slice(1, -1));
      } catch (err) {
        throw new TableFilterError(`bad table pattern ${pattern}: ${(err as Error).message}`);
      }
      return { pattern, test: (name: string) => re.test(name) };
    }
    return { pattern, test: (name: string) => name === pattern };
  });
}

/** Names that `include` selects and `exclude` does not. Every include pattern must match something. */
export function filterTables(names: readonly string[], include: readonly string[] | null, exclude: readonly string[]): string[] {
  const excluded = parseTableMatchers(exclude);
  let picked = names.filter((n) => !excluded.some((m) => m.test(n)));
  if (include) {
    const included = parseTableMatchers(include);
    for (const m of included) {
      if (!names.some((n) => m.test(n))) throw new TableFilterError(`table ${m.pattern} matches no table of the source`);
    }
    picked = picked.filter((n) => included.some((m) => m.test(n)));
  }
  return picked;
}
