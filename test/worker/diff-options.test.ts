// The diff's options (parallelDiffsCount, verify) in the shared option table, the CLI's switch, and the status a
// diff leaves on a table.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseJobArgs } from '../../src/cli/args.ts';
import { statusText } from '../../src/cli/status-text.ts';
import { validateRequest } from '../../src/worker/controller.ts';
import { JobStatus } from '../../src/worker/job-status.ts';
import { OptionError, optionsFor, parseOptions } from '../../src/worker/options.ts';

describe('diff options', () => {
  it('parallelDiffsCount: every command, default 2, bounded', () => {
    for (const command of ['SplitClone', 'VerticalSplitClone', 'SplitDiff', 'VerticalSplitDiff'] as const) {
      assert.ok(
        optionsFor(command).some((d) => d.name === 'parallelDiffsCount'),
        command,
      );
    }
    assert.equal(parseOptions('SplitDiff', {}).parallelDiffsCount, 2);
    assert.equal(parseOptions('SplitDiff', { parallelDiffsCount: '3' }).parallelDiffsCount, 3);
    assert.throws(
      () => parseOptions('SplitDiff', { parallelDiffsCount: 0 }),
      (e: unknown) => e instanceof OptionError && e.field === 'parallelDiffsCount',
    );
  });

  it('verify: clones only, a boolean', () => {
    assert.equal(parseOptions('SplitClone', {}).verify, false);
    assert.equal(parseOptions('VerticalSplitClone', { tables: ['t'], verify: 'true' }).verify, true);
    assert.equal(parseOptions('SplitClone', { verify: false }).verify, false);
    assert.throws(() => parseOptions('SplitDiff', { verify: true }), /verify does not apply to SplitDiff/);
    assert.throws(() => parseOptions('SplitClone', { verify: 'yes' }), /expected true or false/);
  });

  it('every command is implemented: a valid request of each validates', () => {
    assert.doesNotThrow(() => validateRequest({ command: 'VerticalSplitClone', keyspace: 'customer', shard: '0', options: { tables: ['customer'] } }));
    assert.doesNotThrow(() => validateRequest({ command: 'SplitDiff', keyspace: 'commerce', shard: '-80', options: {} }));
    assert.doesNotThrow(() => validateRequest({ command: 'VerticalSplitDiff', keyspace: 'customer', shard: '0', options: { tables: ['/^c/'] } }));
    // A diff finds its tables in the destination's sourceShards; --tables only narrows it.
    assert.doesNotThrow(() => validateRequest({ command: 'VerticalSplitDiff', keyspace: 'customer', shard: '0', options: {} }));
    assert.doesNotThrow(() => validateRequest({ command: 'SplitClone', keyspace: 'commerce', shard: '0', options: { tables: ['/^c/'] } }));
    assert.throws(() => validateRequest({ command: 'VerticalSplitClone', keyspace: 'customer', shard: '0', options: {} }), /tables is required/);
  });

  it('the CLI takes --verify as a switch, or with true/false', () => {
    assert.deepEqual(parseJobArgs(['SplitClone', '--verify', 'ks/0']).options, { verify: 'true' });
    assert.deepEqual(parseJobArgs(['SplitClone', '--verify', 'false', 'ks/0']).options, { verify: 'false' });
    assert.deepEqual(parseJobArgs(['SplitClone', '--verify=true', '--chunk-count', '5', 'ks/0']).options, { verify: 'true', chunkCount: '5' });
    assert.equal(parseJobArgs(['VerticalSplitClone', '--tables', 'a,b', '--verify', 'ks/0']).shard, '0');
  });
});

describe('a diff in the status', () => {
  const tally = (mismatched: number) => ({
    processed: 10,
    matching: 10 - mismatched,
    mismatched,
    extraOnSource: 0,
    extraOnDestination: 0,
    examples: { mismatched: mismatched ? [{ key: 'id=5', columns: ['name'] }] : [], extraOnSource: [], extraOnDestination: [] },
  });

  it('shows counts, examples and a summary per table; a table with differences ends in error', () => {
    const status = new JobStatus('j', { command: 'SplitDiff', keyspace: 'ks', shard: '-80', options: {} });
    status.addTable('a', 'table', 10);
    status.addTable('b', 'table', 10);
    status.beginDiff('a', 'primary key');
    status.beginDiff('b', 'full row');
    status.addTableNote('b', 'no primary key', 'compared as sorted full rows');
    const progress = status.diffProgress(true);
    progress.chunksPlanned('a', 2);
    progress.tableStarted('a');
    progress.rowsRead('a', 10);
    progress.chunkDiffed('a', tally(0));
    let a = status.snapshot().tables[0];
    assert.equal(a.state, 'diffing');
    assert.equal(a.chunksDone, 1);
    assert.equal(a.rowsCopied, 10);
    assert.equal(a.diff!.finished, false);
    progress.chunkDiffed('a', tally(0));
    progress.tableDone('a', tally(0));
    progress.tableDone('b', tally(1));
    const [done, failed] = status.snapshot().tables;
    a = done;
    assert.equal(a.state, 'done');
    assert.equal(a.diff!.summary, '10 rows checked, no differences');
    assert.equal(failed.state, 'error');
    assert.equal(failed.note, 'no primary key: compared as sorted full rows');
    assert.deepEqual(failed.diff, {
      comparedBy: 'full row',
      processed: 10,
      matching: 9,
      mismatched: 1,
      extraOnSource: 0,
      extraOnDestination: 0,
      examples: { mismatched: [{ key: 'id=5', columns: ['name'] }], extraOnSource: [], extraOnDestination: [] },
      finished: true,
      summary: '10 rows checked: 9 matching, 1 mismatched (id=5 [name])',
    });
    assert.match(
      statusText(status.snapshot()),
      /\n {4}note: no primary key: compared as sorted full rows\n {4}diff: 10 rows checked: 9 matching, 1 mismatched/,
    );
  });

  it("a clone's verify leaves the copy's figures alone", () => {
    const status = new JobStatus('j', { command: 'SplitClone', keyspace: 'ks', shard: '0', options: {} });
    status.addTable('a', 'table', 10);
    const copy = status.copyProgress();
    copy.chunksPlanned('a', 1);
    copy.tableStarted('a');
    copy.rowsWritten('a', 10);
    copy.chunkDone('a');
    status.beginDiff('a', 'primary key');
    const diff = status.diffProgress(false);
    diff.chunksPlanned('a', 4);
    diff.tableStarted('a');
    diff.rowsRead('a', 10);
    diff.chunkDiffed('a', tally(0));
    assert.equal(status.snapshot().tables[0].state, 'diffing');
    diff.tableDone('a', tally(0));
    const a = status.snapshot().tables[0];
    assert.deepEqual([a.state, a.rowsCopied, a.chunksTotal, a.chunksDone], ['done', 10, 1, 1]);
    assert.equal(a.diff!.processed, 10);
  });
});
