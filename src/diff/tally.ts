// What a diff found in one table: counts of each kind of row, and the first examples of each difference.

export const MAX_EXAMPLES = 10;

export interface DiffExample {
  /** The row's key as reports show it (`id=5`). */
  key: string;
  /** For a mismatch: the columns whose values differ. */
  columns?: string[];
  /** The destination tablet, when a diff covers several. */
  destination?: string;
}

export interface DiffExamples {
  mismatched: DiffExample[];
  extraOnSource: DiffExample[];
  extraOnDestination: DiffExample[];
}

export interface DiffTally {
  /** Rows looked at: every key seen on either side once. */
  processed: number;
  matching: number;
  /** Same key on both sides, different values. */
  mismatched: number;
  /** On the source (within the destination's share of it), missing from the destination. */
  extraOnSource: number;
  /** On the destination, not on the source (or not the destination's to hold). */
  extraOnDestination: number;
  examples: DiffExamples;
}

export type DifferenceKind = keyof DiffExamples;
export const DIFFERENCE_KINDS: readonly DifferenceKind[] = ['mismatched', 'extraOnSource', 'extraOnDestination'];

export function emptyTally(): DiffTally {
  return {
    processed: 0,
    matching: 0,
    mismatched: 0,
    extraOnSource: 0,
    extraOnDestination: 0,
    examples: { mismatched: [], extraOnSource: [], extraOnDestination: [] },
  };
}

/** Adds `from` into `into`, keeping at most MAX_EXAMPLES examples of each kind (the first ones added). */
export function addTally(into: DiffTally, from: DiffTally, tag?: Partial<DiffExample>): void {
  into.processed += from.processed;
  into.matching += from.matching;
  for (const kind of DIFFERENCE_KINDS) {
    into[kind] += from[kind];
    const room = MAX_EXAMPLES - into.examples[kind].length;
    if (room > 0) into.examples[kind].push(...from.examples[kind].slice(0, room).map((e) => ({ ...e, ...tag })));
  }
}

export function differences(t: DiffTally): number {
  return t.mismatched + t.extraOnSource + t.extraOnDestination;
}

const LABELS: Record<DifferenceKind, string> = { mismatched: 'mismatched', extraOnSource: 'extra on source', extraOnDestination: 'extra on destination' };
const SHOWN_IN_SUMMARY = 3;

function exampleText(e: DiffExample): string {
  const columns = e.columns?.length ? ` [${e.columns.join(', ')}]` : '';
  const where = e.destination ? ` on ${e.destination}` : '';
  return `${e.key}${columns}${where}`;
}

/** One line for people: `1000 rows checked, no differences`, or the counts with the first keys of each kind. */
export function describeTally(t: DiffTally): string {
  const rows = `${t.processed} row${t.processed === 1 ? '' : 's'} checked`;
  if (differences(t) === 0) return `${rows}, no differences`;
  const parts = DIFFERENCE_KINDS.filter((k) => t[k] > 0).map((k) => {
    const shown = t.examples[k].slice(0, SHOWN_IN_SUMMARY).map(exampleText);
    const more = t[k] > shown.length ? ', …' : '';
    return `${t[k]} ${LABELS[k]} (${shown.join('; ')}${more})`;
  });
  return `${rows}: ${t.matching} matching, ${parts.join(', ')}`;
}
