import { describe, expect, it } from "vitest";
import { prepareDataset, TRACE_ATTRIBUTES } from "./index.js";

const example = (i: number) =>
  JSON.stringify({
    messages: [
      { role: "user", content: `How do I reset password number ${i} for account ${i * 13}?` },
      { role: "assistant", content: `Open settings ${i}, choose security, then reset; it takes ${i + 1} minutes.` },
    ],
  });

const span = (i: number, extra: Record<string, unknown> = {}) =>
  JSON.stringify({
    kind: "llm.call",
    spanId: `s${i}`,
    attributes: {
      [TRACE_ATTRIBUTES.messages]: JSON.stringify([
        { role: "user", content: `Trace question ${i} about invoice ${i * 7}?` },
      ]),
      [TRACE_ATTRIBUTES.response]: `Invoice ${i * 7} was paid on day ${i}.`,
      ...extra,
    },
  });

describe("prepareDataset", () => {
  it("mixes examples and trace spans, reports problems by input line, and splits what is valid", () => {
    const lines = [
      ...Array.from({ length: 8 }, (_, i) => example(i)), // lines 1-8
      span(1), // 9
      span(2, { [TRACE_ATTRIBUTES.finishReason]: "length" }), // 10: skipped
      JSON.stringify({ kind: "retrieval", spanId: "r1", attributes: {} }), // 11: skipped
      "{broken", // 12
      JSON.stringify({ prompt: "old format", completion: "x" }), // 13
      example(3), // 14: duplicate of line 4
      span(3), // 15
      span(4), // 16
      "", // 17: blank
      JSON.stringify({
        messages: [
          { role: "user", content: "mail me at sam@example.com" },
          { role: "assistant", content: "ok" },
        ],
      }), // 18
    ];
    const p = prepareDataset(lines.join("\n"), { validationFraction: 0.25, seed: 3 });
    expect(p.input).toEqual({ lines: 17, examples: 10, traceSpans: 5 });
    expect(p.skipped).toEqual([
      { line: 10, ref: "s2", reason: "finish reason length" },
      { line: 11, ref: "r1", reason: "a retrieval span, not an llm.call" },
    ]);
    const byCode = (code: string) => p.report.problems.filter((x) => x.code === code).map((x) => [x.line, x.message]);
    expect(byCode("invalid-json").map(([l]) => l)).toEqual([12]);
    expect(byCode("schema")).toEqual([[13, 'missing or empty "messages" array']]);
    expect(byCode("exact-duplicate")).toEqual([[14, "duplicate of line 4, dropped"]]);
    expect(p.report.pii).toEqual([{ line: 18, types: ["email"] }]);
    expect(p.report.ok).toBe(false);
    expect(p.usable).toBe(true);
    // 8 examples + 3 usable spans + the PII line (a warning) = 12 kept; the repeat is dropped.
    expect(p.report.valid).toBe(12);
    expect(p.train.length + p.validation.length).toBe(12);
    expect(p.validation).toHaveLength(3);
    expect(p.train.some((e) => e.messages[0]!.content.startsWith("Trace question"))).toBe(true);
    expect(prepareDataset(lines.join("\n"), { validationFraction: 0.25, seed: 3 }).validation).toEqual(p.validation);
    const kept = prepareDataset(lines.join("\n"), { dropDuplicates: false });
    expect(kept.report.valid).toBe(13);
    expect(kept.report.duplicates.exact).toEqual([[4, 14]]);
    expect(kept.report.problems.find((x) => x.code === "exact-duplicate")!.message).toBe("duplicate of line 4");
  });

  it("is not usable when too few examples survive, and checks its options", () => {
    const p = prepareDataset([example(1), example(2), "nope"].join("\n"));
    expect(p.usable).toBe(false);
    expect(p.train).toEqual([]);
    expect(p.report.problems.find((x) => x.line === 0)?.message).toBe("2 valid examples, need at least 10");
    expect(() => prepareDataset(example(1), { validationFraction: 1 })).toThrow(/validationFraction/);
  });
});
