/**
 * Hands fit warnings to the caller's `onWarning`, or to Node's warning channel (printed
 * once to stderr, observable with `process.on("warning")`) so a model that did not
 * converge is never silently returned.
 */
export function reportWarnings(warnings: readonly string[], onWarning: ((message: string) => void) | undefined): void {
  for (const w of warnings) {
    if (onWarning) onWarning(w);
    else process.emitWarning(w, "QuintetWarning");
  }
}
