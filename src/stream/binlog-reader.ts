// The one place streams reach the binlog reader (src/mysql/binlog): its entry point, adapted to OpenBinlog.

import { openBinlogSource } from '../mysql/wire/binlog/source.ts';
import type { OpenBinlog } from './stream.ts';

export const openSourceBinlog: OpenBinlog = ({ ref, credentials, tls, position, signal, log }) =>
  openBinlogSource({ tablet: ref, credentials, tls, position, signal, logger: log });
