/** Right-aligns numbers, left-aligns text, two spaces between columns, header in caps. */
export function formatTable(
  columns: readonly string[],
  rows: readonly (readonly (string | number | null | undefined)[])[],
): string {
  const text = rows.map((r) => r.map((v) => (v === null || v === undefined ? "-" : String(v))));
  const numeric = columns.map((_, i) => rows.length > 0 && rows.every((r) => r[i] == null || typeof r[i] === "number"));
  const widths = columns.map((c, i) => Math.max(c.length, ...text.map((r) => (r[i] ?? "").length)));
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (numeric[i] ? cell.padStart(widths[i]!) : cell.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.toUpperCase())), ...text.map(line)].join("\n");
}

/** `1h`, `30m`, `2d`, `45s` or an ISO date → epoch ms; throws a message a user can act on. */
export function parseSince(value: string, now = Date.now()): number {
  const m = /^(\d+(?:\.\d+)?)(s|m|h|d)$/.exec(value.trim());
  if (m) return now - Number(m[1]) * { s: 1e3, m: 6e4, h: 36e5, d: 864e5 }[m[2] as "s" | "m" | "h" | "d"];
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new Error(`"${value}" is not a duration (30m, 2h, 7d) or a date (2026-11-01)`);
  return t;
}
