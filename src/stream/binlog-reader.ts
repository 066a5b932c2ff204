// The one place streams reach the binlog reader (src/mysql/binlog): its function, adapted to OpenBinlog.

import { StreamStopError } from './applier.ts';
import type { OpenBinlog } from './stream.ts';

export const openSourceBinlog: OpenBinlog = async ({ ref }) => {
  throw new StreamStopError(`cannot read the binlog of ${ref.alias}: the binlog reader is not built yet`);
};
