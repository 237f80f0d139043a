/**
 * Group commit: writes requested while a flush is running (or within the same turn of the
 * event loop) are committed together by the next flush. A commit costs far more than a
 * row, so under load this turns N transactions into a few, while each caller still gets
 * its own answer only once its write is durable.
 */
export class GroupCommit<T, R> {
  private pending: { item: T; resolve: (r: R) => void; reject: (err: unknown) => void }[] = [];
  private running = false;
  private scheduled = false;

  constructor(
    /** Writes a batch; returns one answer per item, in order. */
    private readonly flush: (items: T[]) => Promise<R[]>,
    private readonly maxBatch = 500,
  ) {}

  add(item: T): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.pending.push({ item, resolve, reject });
      this.schedule();
    });
  }

  /** Resolves once everything added so far is written (or failed). */
  async idle(): Promise<void> {
    while (this.running || this.scheduled || this.pending.length > 0) {
      await new Promise((r) => setImmediate(r));
    }
  }

  private schedule(): void {
    if (this.running || this.scheduled) return;
    this.scheduled = true;
    // setImmediate, not a microtask: callers awaiting in a loop of Promise.all join the batch.
    setImmediate(() => {
      this.scheduled = false;
      void this.run();
    });
  }

  private async run(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      while (this.pending.length > 0) {
        const batch = this.pending.splice(0, this.maxBatch);
        try {
          const answers = await this.flush(batch.map((b) => b.item));
          for (const [i, b] of batch.entries()) b.resolve(answers[i] as R);
        } catch (err) {
          for (const b of batch) b.reject(err);
        }
      }
    } finally {
      this.running = false;
    }
  }
}
