import { redactString, TimeoutError } from "@quintet/core";

/** A dependency `/readyz` checks: `check` resolves when it answers and throws when it does not. */
export interface ReadinessCheck {
  name: string;
  check(): Promise<void>;
}

export interface ReadinessResult {
  ready: boolean;
  failed: string[];
  checks: Record<string, { ok: boolean; ms: number; error?: string }>;
}

/** The set of dependencies the server needs answering before it takes traffic. */
export class ReadinessChecks {
  private readonly checks = new Map<string, ReadinessCheck>();

  constructor(private readonly timeoutMs = 2000) {}

  /** Adds (or replaces) a check; route modules call this for the services they depend on. */
  add(check: ReadinessCheck): void {
    this.checks.set(check.name, check);
  }

  names(): string[] {
    return [...this.checks.keys()];
  }

  /** Runs every check concurrently, each bounded by the timeout. */
  async run(): Promise<ReadinessResult> {
    const entries = await Promise.all(
      [...this.checks.values()].map(async (c) => {
        const start = performance.now();
        try {
          await withTimeout(c.check(), this.timeoutMs, c.name);
          return [c.name, { ok: true, ms: round(performance.now() - start) }] as const;
        } catch (err) {
          const error = redactString(err instanceof Error ? err.message : String(err));
          return [c.name, { ok: false, ms: round(performance.now() - start), error }] as const;
        }
      }),
    );
    const checks = Object.fromEntries(entries);
    const failed = entries.filter(([, r]) => !r.ok).map(([n]) => n);
    return { ready: failed.length === 0, failed, checks };
  }
}

function round(ms: number): number {
  return Math.round(ms * 100) / 100;
}

async function withTimeout<T>(p: Promise<T>, ms: number, name: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new TimeoutError(`${name} did not answer within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
