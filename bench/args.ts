// The bench's flags: what to generate, how often to alternate the contenders, where to run and report.

import { shapes } from './dataset.ts';

export type BenchMode = 'split' | 'flat' | 'shapes' | 'stream';
export type ContenderName = 'shardworker' | 'dump' | 'load';
/**
 * Where the contenders write (the rdonly, the destinations): `mariadb`, MariaDB's default durability (the redo log
 * flushed at each commit); `sandbox`, as the sandbox runs them (flushed once a second).
 */
export type Durability = 'mariadb' | 'sandbox';

export interface BenchArgs {
  /**
   * `split`: two sharded tables sharing `rows` plus a small one; `flat`: one table of `rows` (memory check);
   * `shapes`: each table shape of bench/dataset.ts's shapes() beside its anchor, and SplitDiff beside a two-sided scan.
   */
  mode: BenchMode;
  rows: number;
  /** Rounds; each runs every contender once, in an order rotated per round. */
  rounds: number;
  /** Untimed runs of every contender before the rounds. */
  warmup: number;
  contenders: ContenderName[];
  dir: string;
  basePort: number;
  bufferPoolMb: number;
  logFileMb: number;
  durability: Durability;
  /** shapes mode: the shapes to run (by name), all when empty. */
  shapes: string[];
  /** Extra SplitClone options, as CLI flags (`--write-method insert`). */
  shardworkerFlags: string[];
  json: string | undefined;
  /** Leave the instances running at the end (the data stays in the dir either way). */
  keepUp: boolean;
}

export const USAGE = `usage: npm run bench -- [flags]
  --mode MODE              split (default): two sharded tables + a small one; flat: one big table, memory check;
                           shapes: the split set, a UUID key, a composite key, three secondary indexes (each
                           beside LOAD DATA + ADD INDEX), 2,000 tables of 500 rows (beside the dump pipe), and
                           SplitDiff of the split set beside a scan of both sides;
                           stream: filtered replication catching up N row changes against MariaDB's own replica,
                           then the streams' lag while the source takes 2,000 transactions/s for 30 s
  --rows N                 rows to copy (default 2,000,000 for split, 20,000,000 for flat, 500,000 a shape); for
                           stream, row changes on the source (default 1,000,000)
  --rounds N               alternating rounds (default 5 for split, 3 for shapes, 1 for the others)
  --warmup N               untimed runs of every contender first (default 1 for split, 0 for the others)
  --only a,b,c             contenders: a = shardworker, b = mariadb-dump | mariadb, c = LOAD DATA + ADD INDEX
  --sw "FLAGS"             extra SplitClone flags, e.g. --sw "--write-method insert" (repeatable;
                           --sw "--strategy=-populate_blp_checkpoint -delay_secondary_indexes" stays one flag)
  --dir D                  sandbox dir (default .sandbox-bench)
  --base-port P            first port (default 15500)
  --buffer-pool-mb N       InnoDB buffer pool of each instance (default 1024)
  --log-file-mb N          InnoDB redo log of each instance (default 512)
  --shapes a,b             shapes mode: only these shapes (split, uuid, composite, indexes, small); the diff goes with split
  --durability D           the rdonly and the destinations: mariadb, MariaDB's default innodb_flush_log_at_trx_commit=1
                           (the default for stream, whose anchor is a replica as production runs it); sandbox, =2,
                           as the sandbox runs them (the default for the others)
  --json FILE              where to write the results (default <dir>/bench-<mode>.json)
  --keep-up                leave the instances running`;

const LETTERS: Record<string, ContenderName> = { a: 'shardworker', b: 'dump', c: 'load' };

function int(flag: string, value: string | undefined, min: number): number {
  const n = value !== undefined && /^\d[\d_,]*$/.test(value) ? Number(value.replace(/[_,]/g, '')) : NaN;
  if (!(n >= min) || !Number.isSafeInteger(n)) throw new Error(`${flag}: expected an integer >= ${min}, got ${JSON.stringify(value)}`);
  return n;
}

type ModeDefaults = Pick<BenchArgs, 'rows' | 'rounds' | 'warmup' | 'contenders' | 'durability'>;

/** What each mode runs when a flag does not say; the flat mode is about memory: shardworker alone. */
const MODE_DEFAULTS: Record<BenchMode, ModeDefaults> = {
  split: { rows: 2_000_000, rounds: 5, warmup: 1, contenders: ['shardworker', 'dump', 'load'], durability: 'sandbox' },
  flat: { rows: 20_000_000, rounds: 1, warmup: 0, contenders: ['shardworker'], durability: 'sandbox' },
  shapes: { rows: 500_000, rounds: 3, warmup: 0, contenders: ['shardworker'], durability: 'sandbox' },
  stream: { rows: 1_000_000, rounds: 1, warmup: 0, contenders: ['shardworker'], durability: 'mariadb' },
};

const isMode = (m: string): m is BenchMode => Object.hasOwn(MODE_DEFAULTS, m);

export function parseBenchArgs(argv: readonly string[]): BenchArgs {
  let mode: BenchMode = 'split';
  let rows: number | undefined;
  let rounds: number | undefined;
  let warmup: number | undefined;
  let contenders: ContenderName[] | undefined;
  let durability: Durability | undefined;
  const out: Omit<BenchArgs, 'mode' | 'rows' | 'rounds' | 'warmup' | 'contenders' | 'durability'> = {
    dir: '.sandbox-bench',
    basePort: 15500,
    bufferPoolMb: 1024,
    logFileMb: 512,
    shardworkerFlags: [],
    shapes: [],
    json: undefined,
    keepUp: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--mode': {
        const m = value();
        if (!isMode(m)) throw new Error(`--mode: expected split, flat, shapes or stream, got ${JSON.stringify(m)}`);
        mode = m;
        break;
      }
      case '--rows':
        rows = int(flag, value(), 1000);
        break;
      case '--rounds':
        rounds = int(flag, value(), 1);
        break;
      case '--warmup':
        warmup = int(flag, value(), 0);
        break;
      case '--only':
        contenders = value()
          .split(',')
          .map((s) => {
            const c = LETTERS[s.trim()] ?? (Object.values(LETTERS).includes(s.trim() as ContenderName) ? (s.trim() as ContenderName) : undefined);
            if (!c) throw new Error(`--only: unknown contender ${JSON.stringify(s)} (a, b, c)`);
            return c;
          });
        break;
      // Repeatable; `--flag=value with spaces` stays one word (a --strategy list), the rest splits on spaces.
      case '--sw': {
        const v = value();
        out.shardworkerFlags.push(...(/^--[\w-]+=/.test(v) ? [v] : v.split(/\s+/).filter(Boolean)));
        break;
      }
      case '--dir':
        out.dir = value();
        break;
      case '--base-port':
        out.basePort = int(flag, value(), 1024);
        break;
      case '--buffer-pool-mb':
        out.bufferPoolMb = int(flag, value(), 64);
        break;
      case '--log-file-mb':
        out.logFileMb = int(flag, value(), 16);
        break;
      case '--durability': {
        const d = value();
        if (d !== 'mariadb' && d !== 'sandbox') throw new Error(`--durability: expected mariadb or sandbox, got ${JSON.stringify(d)}`);
        durability = d;
        break;
      }
      case '--shapes': {
        out.shapes = value()
          .split(',')
          .map((x) => x.trim())
          .filter(Boolean);
        const names = shapes(1000).map((s) => s.name);
        const unknown = out.shapes.filter((n) => !names.includes(n));
        if (unknown.length) throw new Error(`--shapes: no shape ${unknown.join(', ')} (${names.join(', ')})`);
        break;
      }
      case '--json':
        out.json = value();
        break;
      case '--keep-up':
        out.keepUp = true;
        break;
      case '--help':
      case '-h':
        throw new HelpRequested();
      default:
        throw new Error(`unknown flag ${flag}\n${USAGE}`);
    }
  }
  const d = MODE_DEFAULTS[mode];
  return {
    mode,
    rows: rows ?? d.rows,
    rounds: rounds ?? d.rounds,
    warmup: warmup ?? d.warmup,
    contenders: contenders ?? [...d.contenders],
    durability: durability ?? d.durability,
    ...out,
  };
}

export class HelpRequested extends Error {}
