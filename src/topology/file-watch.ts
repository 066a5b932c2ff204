// Change notices for the topology file: a stat poll (fs.watchFile, once a second) while anyone listens. A poll,
// not fs.watch, because every write replaces the file (temp file + rename), which inotify watches lose.

import { unwatchFile, watchFile, type Stats } from 'node:fs';

export interface ChangeFeed {
  subscribe(listener: () => void): () => void;
  close(): void;
}

export function watchFileChanges(file: string, intervalMs = 1_000): ChangeFeed {
  const listeners = new Set<() => void>();
  const onStat = (now: Stats, before: Stats) => {
    if (now.mtimeMs === before.mtimeMs && now.ino === before.ino && now.size === before.size) return;
    for (const l of [...listeners]) l();
  };
  const stop = () => unwatchFile(file, onStat);
  return {
    subscribe(listener) {
      if (listeners.size === 0) watchFile(file, { interval: intervalMs, persistent: false }, onStat);
      listeners.add(listener);
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) stop();
      };
    },
    close() {
      listeners.clear();
      stop();
    },
  };
}
