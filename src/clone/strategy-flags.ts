// The `--strategy` flags (vtworker's names). An unknown flag is an error, never ignored.

export interface StrategyFlags {
  populateBlpCheckpoint: boolean;
  dontStartBinlogPlayer: boolean;
  skipSetSourceShards: boolean;
  delaySecondaryIndexes: boolean;
  delayPrimaryKey: boolean;
  /** Tables whose AUTO_INCREMENT is left out on the destination. */
  skipAutoIncrement: Set<string>;
}

export class StrategyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StrategyError';
  }
}

const BOOLEAN_FLAGS = {
  '-populate_blp_checkpoint': 'populateBlpCheckpoint',
  '-dont_start_binlog_player': 'dontStartBinlogPlayer',
  '-skip_set_source_shards': 'skipSetSourceShards',
  '-delay_secondary_indexes': 'delaySecondaryIndexes',
  '-delay_primary_key': 'delayPrimaryKey',
} as const;

export const STRATEGY_FLAG_NAMES = [...Object.keys(BOOLEAN_FLAGS), '-skip_auto_increment=t1,t2'];

export function parseStrategy(text: string): StrategyFlags {
  const flags: StrategyFlags = {
    populateBlpCheckpoint: false,
    dontStartBinlogPlayer: false,
    skipSetSourceShards: false,
    delaySecondaryIndexes: false,
    delayPrimaryKey: false,
    skipAutoIncrement: new Set(),
  };
  for (const word of text.split(/\s+/).filter(Boolean)) {
    const name = word.startsWith('--') ? word.slice(1) : word;
    if (name in BOOLEAN_FLAGS) {
      flags[BOOLEAN_FLAGS[name as keyof typeof BOOLEAN_FLAGS]] = true;
    } else if (name.startsWith('-skip_auto_increment=')) {
      const tables = name.slice('-skip_auto_increment='.length).split(',').filter(Boolean);
      if (tables.length === 0) throw new StrategyError(`strategy flag ${word} names no table`);
      for (const t of tables) flags.skipAutoIncrement.add(t);
    } else {
      throw new StrategyError(`unknown strategy flag ${JSON.stringify(word)} (known: ${STRATEGY_FLAG_NAMES.join(' ')})`);
    }
  }
  return flags;
}
