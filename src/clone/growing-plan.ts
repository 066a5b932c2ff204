// A table's chunk plan while its key walk is still finding bounds (mysql/chunker.ts): the copy reads chunk i as soon
// as its end is known instead of after the whole walk, which scans the primary key once (a few hundred ms on a
// 500,000-row table, as long as a COUNT(*) on a large one) before a single row moved.

import type { ChunkPlan, ChunkRange } from '../mysql/chunker.ts';

export class GrowingPlan {
  /** The plan's shape (column or key) once known, and its chunks so far: what chunk conditions are built from. */
  readonly plan: ChunkPlan = { column: null, chunks: [] };
  /** Settles with the whole plan, or the walk's failure. */
  readonly done: Promise<ChunkPlan>;
  #complete = false;
  #failure: { err: unknown } | null = null;
  #wake: (() => void)[] = [];
  #resolve!: (plan: ChunkPlan) => void;
  #reject!: (err: unknown) => void;

  constructor() {
    this.done = new Promise<ChunkPlan>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    // Awaited by whoever needs the whole plan; a failure also reaches the readers through chunk().
    this.done.catch(() => {});
  }

  /** A plan known whole from the start (recorded by an earlier run, or not made by a walk). */
  static of(plan: ChunkPlan): GrowingPlan {
    const g = new GrowingPlan();
    g.complete(plan);
    return g;
  }

  /** The next chunk of a plan of this shape. */
  add(range: ChunkRange, shape: Omit<ChunkPlan, 'chunks'>): void {
    this.plan.column = shape.column;
    if (shape.key) this.plan.key = shape.key;
    this.plan.chunks.push(range);
    this.#notify();
  }

  /** The whole plan: the chunks added so far must be its first ones. */
  complete(plan: ChunkPlan): void {
    const have = this.plan.chunks.length;
    if (have > plan.chunks.length || plan.chunks.slice(0, have).some((r, i) => JSON.stringify(r) !== JSON.stringify(this.plan.chunks[i]))) {
      this.fail(new Error('a chunk plan changed while it was being copied'));
      return;
    }
    this.plan.column = plan.column;
    if (plan.key) this.plan.key = plan.key;
    this.plan.chunks.push(...plan.chunks.slice(have));
    this.#complete = true;
    this.#resolve(this.plan);
    this.#notify();
  }

  fail(err: unknown): void {
    this.#failure ??= { err };
    this.#reject(err);
    this.#notify();
  }

  /** Chunk `i` once known; null when the plan is complete without it. Throws the walk's failure. */
  async chunk(i: number): Promise<ChunkRange | null> {
    for (;;) {
      if (this.#failure) throw this.#failure.err;
      if (i < this.plan.chunks.length) return this.plan.chunks[i];
      if (this.#complete) return null;
      await new Promise<void>((resolve) => this.#wake.push(resolve));
    }
  }

  #notify(): void {
    const wake = this.#wake;
    this.#wake = [];
    for (const w of wake) w();
  }
}
