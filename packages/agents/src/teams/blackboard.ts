/**
 * The team's shared state: named results and notes any member can read. Every write is
 * recorded in the run (a `blackboard` event), so a replay shows when each value appeared
 * and who wrote it.
 */
export class Blackboard {
  private readonly values = new Map<string, { value: unknown; by: string }>();

  constructor(private readonly record: (key: string, name: string, value: unknown, by: string) => Promise<void>) {}

  /** Writes `value` under `name`; `key` is the deterministic step key of the write. */
  async set(key: string, name: string, value: unknown, by: string): Promise<void> {
    this.values.set(name, { value, by });
    await this.record(key, name, value, by);
  }

  get<T = unknown>(name: string): T | undefined {
    return this.values.get(name)?.value as T | undefined;
  }

  has(name: string): boolean {
    return this.values.has(name);
  }

  /** Everything on the board, by name. */
  snapshot(): Record<string, unknown> {
    return Object.fromEntries([...this.values].map(([k, v]) => [k, v.value]));
  }
}
