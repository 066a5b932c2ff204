import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { addTally, describeTally, differences, emptyTally, MAX_EXAMPLES, type DiffTally } from '../../src/diff/tally.ts';

function tally(parts: Partial<Omit<DiffTally, 'examples'>>, examples: Partial<DiffTally['examples']> = {}): DiffTally {
  return { ...emptyTally(), ...parts, examples: { ...emptyTally().examples, ...examples } };
}

describe('tally', () => {
  it('a clean table: "N rows checked, no differences"', () => {
    assert.equal(describeTally(tally({ processed: 1000, matching: 1000 })), '1000 rows checked, no differences');
    assert.equal(describeTally(tally({ processed: 1, matching: 1 })), '1 row checked, no differences');
    assert.equal(describeTally(emptyTally()), '0 rows checked, no differences');
  });

  it('differences: counts with the first keys of each kind', () => {
    const t = tally(
      { processed: 10, matching: 6, mismatched: 1, extraOnSource: 2, extraOnDestination: 1 },
      {
        mismatched: [{ key: 'id=5', columns: ['name'] }],
        extraOnSource: [{ key: 'id=7' }, { key: 'id=8' }],
        extraOnDestination: [{ key: 'id=9', destination: 'zone1-200' }],
      },
    );
    assert.equal(differences(t), 4);
    assert.equal(
      describeTally(t),
      '10 rows checked: 6 matching, 1 mismatched (id=5 [name]), 2 extra on source (id=7; id=8), 1 extra on destination (id=9 on zone1-200)',
    );
  });

  it('says when there are more than it shows', () => {
    const examples = Array.from({ length: 5 }, (_, i) => ({ key: `id=${i}` }));
    assert.match(describeTally(tally({ processed: 5, extraOnSource: 5 }, { extraOnSource: examples })), /5 extra on source \(id=0; id=1; id=2, …\)/);
  });

  it('adds up, keeping the first 10 examples of each kind, tagged', () => {
    const into = emptyTally();
    const part = tally({ processed: 8, matching: 1, extraOnSource: 7 }, { extraOnSource: Array.from({ length: 7 }, (_, i) => ({ key: `id=${i}` })) });
    addTally(into, part, { destination: 'zone1-200' });
    addTally(into, part);
    assert.equal(into.processed, 16);
    assert.equal(into.matching, 2);
    assert.equal(into.extraOnSource, 14);
    assert.equal(into.examples.extraOnSource.length, MAX_EXAMPLES);
    assert.deepEqual(into.examples.extraOnSource[0], { key: 'id=0', destination: 'zone1-200' });
    assert.deepEqual(into.examples.extraOnSource[7], { key: 'id=0' });
  });
});
