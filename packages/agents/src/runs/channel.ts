/**
 * An unbounded single-consumer queue exposed as an async iterable: the run pushes events as
 * they happen, the caller reads them at its own pace (or never — then they are dropped when
 * the handle is garbage; nothing waits on the reader).
 */
export class EventChannel<T> implements AsyncIterable<T> {
  private readonly buffer: T[] = [];
  private head = 0;
  private closed = false;
  private wake: (() => void) | undefined;
  private iterating = false;

  push(value: T): void {
    if (this.closed) return;
    this.buffer.push(value);
    this.wake?.();
  }

  close(): void {
    this.closed = true;
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncIterator<T> {
    if (this.iterating) throw new Error("a run's events can be iterated only once");
    this.iterating = true;
    for (;;) {
      if (this.head < this.buffer.length) {
        const v = this.buffer[this.head]!;
        this.buffer[this.head++] = undefined as T;
        if (this.head > 1024 && this.head * 2 > this.buffer.length) {
          this.buffer.splice(0, this.head);
          this.head = 0;
        }
        yield v;
        continue;
      }
      if (this.closed) return;
      await new Promise<void>((r) => (this.wake = r));
      this.wake = undefined;
    }
  }
}
