// Steps to undo, recorded as each change is made, run last-first at cleanup, all of them even when some fail.

import type { Logger } from 'pino';

export interface UndoReport {
  undone: string[];
  failed: { step: string; error: string }[];
}

export class UndoStack {
  #steps: { description: string; run: () => Promise<void> }[] = [];

  push(description: string, run: () => Promise<void>): void {
    this.#steps.push({ description, run });
  }

  get size(): number {
    return this.#steps.length;
  }

  async runAll(log: Logger): Promise<UndoReport> {
    const report: UndoReport = { undone: [], failed: [] };
    while (this.#steps.length) {
      const step = this.#steps.pop()!;
      try {
        await step.run();
        report.undone.push(step.description);
        log.info({ step: step.description }, 'undone');
      } catch (err) {
        const error = (err as Error).message ?? String(err);
        report.failed.push({ step: step.description, error });
        log.error({ step: step.description, err }, 'cleanup step failed');
      }
    }
    return report;
  }
}
