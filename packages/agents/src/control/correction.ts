/**
 * Self-correction for tool failures: each failure goes back to the model with its error and
 * a request to try another way; a tool that keeps failing is taken away for the rest of the
 * run (the model is told), so the agent must find another route instead of hammering it.
 */
export class FailureTracker {
  private readonly consecutive = new Map<string, number>();
  private readonly disabled = new Set<string>();

  /** @param maxFailures consecutive failures of one tool before it is disabled (default 3). */
  constructor(private readonly maxFailures = 3) {}

  isDisabled(name: string): boolean {
    return this.disabled.has(name);
  }

  get disabledTools(): string[] {
    return [...this.disabled];
  }

  /** Records an outcome; returns the note for the model when the call failed. */
  observe(name: string, ok: boolean, status: string): string | undefined {
    if (ok) {
      this.consecutive.delete(name);
      return undefined;
    }
    const n = (this.consecutive.get(name) ?? 0) + 1;
    this.consecutive.set(name, n);
    if (status === "unknown-tool" || status === "forbidden") {
      return `There is no usable tool named ${name}. Use only the tools you were given.`;
    }
    if (n >= this.maxFailures) {
      this.disabled.add(name);
      return `${name} failed ${n} times in a row and is now disabled for this run. Do not call it again; reach the goal another way or answer with what you have, saying what is missing.`;
    }
    if (status === "invalid-arguments") {
      return `The arguments for ${name} were invalid (see the error). Fix them to match the schema before calling again.`;
    }
    if (status === "interrupted") {
      return `The earlier ${name} call was interrupted; check whether it took effect before doing it again.`;
    }
    return `${name} failed (${status}). Try another way: different arguments, another tool, or answer without it.`;
  }
}
