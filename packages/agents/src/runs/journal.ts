import type { RunStore, StepRecord } from "./run-store.js";

/** What a journal records: an event with a `type` (and the agent it belongs to, if any). */
export interface RecordedEvent {
  type: string;
  agent?: string;
  [field: string]: unknown;
}

/** A recorded event with its place in the run. */
export interface JournalEntry {
  key: string;
  seq: number;
  event: RecordedEvent;
  at: number;
  elapsedMs: number;
  /** True when the entry was read back from an earlier attempt of the run (resume). */
  replayed: boolean;
}

/**
 * The record of one run, keyed by deterministic step keys (`s3/model`, `task:t1/a1/s2/t0/result`).
 * Orchestration code asks the journal before doing anything with an outside effect — a model
 * call, a tool call, a summary — and reuses the recorded outcome when there is one. That is
 * what makes a resumed run continue where it stopped without calling the model again or
 * repeating a side effect: the same code runs, and every recorded effect is read back.
 */
export interface Journal {
  readonly runId: string;
  /** Whether entries survive the process (written to the store). */
  readonly durable: boolean;
  /** The entry recorded under `key`, if any. */
  get(key: string): JournalEntry | undefined;
  /**
   * Records `event` under `key` (written through to the store when durable). If the key is
   * already recorded, nothing is written and the existing entry is returned. With `defer`,
   * the row is held back and written in one statement with the next write that is not
   * deferred (or the final flush): for events whose loss in a crash costs nothing but a
   * repeat of work without side effects.
   */
  write(key: string, event: RecordedEvent, options?: { defer?: boolean }): Promise<JournalEntry>;
  /** Writes any deferred rows. */
  flush(): Promise<void>;
  /** Active milliseconds since the run started, summed over its attempts. */
  elapsedMs(): number;
  /** Every entry in record order. */
  entries(): JournalEntry[];
}

/**
 * A journal kept in memory and, when given a {@link RunStore}, written through to the
 * `agent_steps` table one row per entry.
 */
export class RunJournal implements Journal {
  private readonly byKey = new Map<string, JournalEntry>();
  private nextSeq = 1;
  private readonly startedAt = performance.now();
  private readonly elapsedBase: number;
  private deferred: StepRecord[] = [];

  constructor(
    readonly runId: string,
    private readonly runs?: RunStore,
    earlier: readonly StepRecord[] = [],
  ) {
    let base = 0;
    for (const s of earlier) {
      this.byKey.set(s.key, {
        key: s.key,
        seq: s.seq,
        event: s.event as RecordedEvent,
        at: s.at,
        elapsedMs: s.elapsedMs,
        replayed: true,
      });
      if (s.seq >= this.nextSeq) this.nextSeq = s.seq + 1;
      if (s.elapsedMs > base) base = s.elapsedMs;
    }
    this.elapsedBase = base;
  }

  get durable(): boolean {
    return this.runs !== undefined;
  }

  get(key: string): JournalEntry | undefined {
    return this.byKey.get(key);
  }

  async write(key: string, event: RecordedEvent, options: { defer?: boolean } = {}): Promise<JournalEntry> {
    const existing = this.byKey.get(key);
    if (existing) return existing;
    const entry: JournalEntry = {
      key,
      seq: this.nextSeq++,
      event,
      at: Date.now(),
      elapsedMs: Math.round(this.elapsedMs()),
      replayed: false,
    };
    // Set before the write so a concurrent writer of the same key sees it.
    this.byKey.set(key, entry);
    if (!this.runs) return entry;
    const row: StepRecord = {
      runId: this.runId,
      key,
      seq: entry.seq,
      type: event.type,
      agent: event.agent,
      event,
      at: entry.at,
      elapsedMs: entry.elapsedMs,
    };
    if (options.defer) {
      this.deferred.push(row);
      return entry;
    }
    const rows = this.deferred.length ? [...this.deferred, row] : [row];
    this.deferred = [];
    try {
      await this.runs.appendSteps(rows);
    } catch (err) {
      for (const r of rows) this.byKey.delete(r.key);
      throw err;
    }
    return entry;
  }

  async flush(): Promise<void> {
    if (!this.runs || this.deferred.length === 0) return;
    const rows = this.deferred;
    this.deferred = [];
    await this.runs.appendSteps(rows);
  }

  elapsedMs(): number {
    return this.elapsedBase + (performance.now() - this.startedAt);
  }

  entries(): JournalEntry[] {
    return [...this.byKey.values()].sort((a, b) => a.seq - b.seq);
  }
}
