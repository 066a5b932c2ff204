// The one place streams reach the binlog reader (src/mysql/binlog): its entry point, adapted to OpenBinlog.

import { openBinlogSource } from '../mysql/binlog/source.ts';
import type { OpenBinlog } from './stream.ts';

/**
 * Heartbeats every 5 s: the reader counts a source silent for three periods as gone. A source sends nothing while
 * it scans its binlog file for the start position (seconds for a file of hundreds of MB on a busy host), and a
 * 5 s limit then dropped every session before its first event; 15 s is still below the replicas' own timeout.
 */
const HEARTBEAT_MS = 5_000;

export const openSourceBinlog: OpenBinlog = ({ ref, credentials, tls, position, signal, log }) =>
  openBinlogSource({ tablet: ref, credentials, tls, position, signal, logger: log, heartbeatMs: HEARTBEAT_MS });
