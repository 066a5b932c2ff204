// The status page's cutover card (MigrateServedTypes): its steps as they happen, then the write pause and the
// positions. Pure; part of view-models.ts's StatusView, which the page's script places while the job runs.

import type { CutoverStatus } from '../worker/status.ts';

export interface CutoverView {
  title: string;
  steps: Array<{ name: string; state: string; stateClass: string; took: string; detail: string }>;
  writePause: string;
  /** `writes stopped at zone1-100: ` and the position that follows it. */
  positions: Array<{ label: string; position: string }>;
}

export function cutoverView(c: CutoverStatus): CutoverView {
  return {
    title: `${c.reverse ? 'back ' : ''}${c.servedType}: ${c.from.join(', ')} → ${c.to.join(', ')}${c.tables.length ? ` (tables ${c.tables.join(', ')})` : ''}`,
    steps: c.steps.map((s, i) => ({
      name: `${c.steps.length > 1 ? `${i + 1}. ` : ''}${s.name}`,
      state: s.state,
      stateClass: `state-${s.state}`,
      took: s.ms === null ? '' : `${s.ms} ms`,
      detail: s.detail ?? '',
    })),
    writePause: c.writePauseMs === null ? (c.servedType === 'primary' ? '—' : 'none (reads only)') : `${c.writePauseMs} ms`,
    positions: [
      ...Object.entries(c.positions.from).map(([alias, position]) => ({ label: `writes stopped at ${alias}: `, position })),
      ...Object.entries(c.positions.to).map(([alias, position]) => ({ label: `reverse streams from ${alias}: `, position })),
    ],
  };
}
