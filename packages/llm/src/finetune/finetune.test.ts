import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  examplesFromEvalFailures,
  examplesFromFeedback,
  examplesFromTraces,
  findNearDuplicates,
  parseJsonl,
  splitDataset,
  TRACE_ATTRIBUTES,
  toAxolotlYaml,
  toJsonl,
  toUnslothScript,
  validateDataset,
} from "./index.js";

const ex = (q: string, a: string) => ({
  messages: [
    { role: "system" as const, content: "You are helpful." },
    { role: "user" as const, content: q },
    { role: "assistant" as const, content: a },
  ],
});

describe("dataset builders", () => {
  it("builds examples from llm.call spans and says why rows were skipped", () => {
    const msgs = [{ role: "user", content: "What is 2+2?" }];
    const r = examplesFromTraces([
      {
        kind: "llm.call",
        spanId: "s1",
        attributes: { [TRACE_ATTRIBUTES.messages]: JSON.stringify(msgs), [TRACE_ATTRIBUTES.response]: "4" },
      },
      { kind: "llm.call", spanId: "s2", status: "error", attributes: {} },
      {
        kind: "llm.call",
        spanId: "s3",
        attributes: {
          [TRACE_ATTRIBUTES.messages]: msgs,
          [TRACE_ATTRIBUTES.response]: "4",
          [TRACE_ATTRIBUTES.finishReason]: "length",
        },
      },
      {
        kind: "llm.call",
        spanId: "s4",
        attributes: { [TRACE_ATTRIBUTES.messages]: "{bad", [TRACE_ATTRIBUTES.response]: "x" },
      },
      { kind: "retrieval", spanId: "s5", attributes: {} },
    ]);
    expect(r.examples).toEqual([
      { messages: [...msgs, { role: "assistant", content: "4" }], source: "trace", ref: "s1" },
    ]);
    expect(r.skipped.map((s) => s.ref)).toEqual(["s2", "s3", "s4"]);
  });

  it("keeps good feedback and corrected bad feedback; turns eval failures into fixes", () => {
    const m = [{ role: "user" as const, content: "hi" }];
    const fb = examplesFromFeedback([
      { messages: m, output: "hello", rating: "good" },
      { messages: m, output: "go away", rating: "bad" },
      { messages: m, output: "meh", rating: 2, correction: "Hello! How can I help?" },
      { messages: m, output: "great", rating: 5 },
    ]);
    expect(fb.map((e) => e.messages.at(-1)!.content)).toEqual(["hello", "Hello! How can I help?", "great"]);
    const ev = examplesFromEvalFailures([
      { id: "c1", input: "Capital of France?", system: "Be brief.", corrected: "Paris." },
    ]);
    expect(ev[0]).toEqual({
      messages: [
        { role: "system", content: "Be brief." },
        { role: "user", content: "Capital of France?" },
        { role: "assistant", content: "Paris." },
      ],
      source: "eval",
      ref: "c1",
    });
  });

  it("round-trips JSONL with line numbers", () => {
    const text = `${toJsonl([ex("a", "b")])}\nnot json\n`;
    const lines = parseJsonl(text);
    expect(lines.map((l) => l.line)).toEqual([1, 3]);
    expect(lines[1]!.error).toMatch(/invalid JSON/);
  });
});

describe("validateDataset", () => {
  const base = Array.from({ length: 12 }, (_, i) =>
    ex(`Question number ${i} about topic ${i * 7}?`, `Answer ${i}: it depends on factor ${i * 3}.`),
  );

  it("reports schema, role, length, duplicate and PII problems per line", () => {
    const lines = [
      ...base.map((e) => JSON.stringify(e)),
      JSON.stringify({ messages: [{ role: "user", content: "hi" }] }),
      JSON.stringify({
        messages: [
          { role: "user", content: "a" },
          { role: "user", content: "b" },
          { role: "assistant", content: "c" },
        ],
      }),
      JSON.stringify({
        messages: [
          { role: "user", content: "" },
          { role: "assistant", content: "c" },
        ],
      }),
      JSON.stringify({ messages: [{ role: "robot", content: "x" }] }),
      "{oops",
      JSON.stringify(base[0]),
      JSON.stringify(ex("Question number 1 about topic 7 ?", "Answer 1: it depends on factor 3!")),
      JSON.stringify(ex("Email me at jane@example.com", "Sure, jane@example.com noted.")),
      JSON.stringify(ex("long ".repeat(300), "ok")),
    ];
    const r = validateDataset(lines.join("\n"), { model: "gpt-4o-mini", contextLimit: 200 });
    const by = (code: string) => r.problems.filter((p) => p.code === code).map((p) => p.line);
    expect(by("no-assistant-last")).toEqual([13]);
    expect(by("role-order")).toEqual([14]);
    expect(by("empty-content")).toEqual([15]);
    expect(by("schema")).toEqual([16]);
    expect(by("invalid-json")).toEqual([17]);
    expect(by("exact-duplicate")).toEqual([18]);
    expect(r.duplicates.exact).toEqual([[1, 18]]);
    expect(by("near-duplicate")).toEqual([19]);
    expect(r.pii).toEqual([{ line: 20, types: ["email"] }]);
    expect(by("too-long")).toEqual([21]);
    expect(r.ok).toBe(false);
    expect(r.valid).toBe(15);
    expect(r.tokens.max).toBeLessThanOrEqual(200);
    expect(r.tokens.min).toBeGreaterThan(10);
    expect(r.assistantTokens).toBeGreaterThan(0);
  });

  it("passes a clean dataset and requires enough examples", () => {
    expect(validateDataset(base).ok).toBe(true);
    const few = validateDataset(base.slice(0, 3));
    expect(few.problems).toEqual([
      { line: 0, severity: "error", code: "too-few-examples", message: "3 valid examples, need at least 10" },
    ]);
  });

  it("finds near-duplicates without flagging distinct texts", () => {
    const a = "the quick brown fox jumps over the lazy dog near the river bank today";
    const pairs = findNearDuplicates(
      [a, `${a}!`, "completely different words about space rockets and orbits here now", a.replace("today", "tonight")],
      0.8,
    );
    expect(pairs.map(([i, j]) => [i, j])).toEqual([
      [0, 1],
      [0, 3],
      [1, 3],
    ]);
  });
});

describe("splitDataset", () => {
  const items = Array.from({ length: 100 }, (_, i) => ({
    ...ex(`q${i}`, `a${i}`),
    source: (i < 80 ? "trace" : "eval") as "trace" | "eval",
  }));

  it("is seeded, disjoint and complete", () => {
    const a = splitDataset(items, { seed: 1, validationFraction: 0.2 });
    const b = splitDataset(items, { seed: 1, validationFraction: 0.2 });
    const c = splitDataset(items, { seed: 2, validationFraction: 0.2 });
    expect(a).toEqual(b);
    expect(a.validation).not.toEqual(c.validation);
    expect(a.train.length + a.validation.length).toBe(100);
    expect(new Set([...a.train, ...a.validation]).size).toBe(100);
  });

  it("stratifies by source", () => {
    const s = splitDataset(items, {
      seed: 3,
      validationFraction: 0.25,
      stratifyBy: (e) => (e as { source: string }).source,
    });
    expect(s.validation.filter((e) => e.source === "eval")).toHaveLength(5);
    expect(s.validation.filter((e) => e.source === "trace")).toHaveLength(20);
    expect(() => splitDataset(items, { validationFraction: 1 })).toThrow(/validationFraction/);
  });
});

describe("LoRA trainer configs", () => {
  const cfg = {
    baseModel: "Qwen/Qwen2.5-0.5B-Instruct",
    adapter: "qlora" as const,
    r: 8,
    alpha: 16,
    datasetPath: "data/train.jsonl",
    validationPath: "data/val.jsonl",
    epochs: 2,
  };

  it("writes an Axolotl YAML that parses back to the same settings", () => {
    const doc = parse(toAxolotlYaml(cfg)) as Record<string, any>;
    expect(doc).toMatchObject({
      base_model: "Qwen/Qwen2.5-0.5B-Instruct",
      adapter: "qlora",
      load_in_4bit: true,
      lora_r: 8,
      lora_alpha: 16,
      lora_dropout: 0.05,
      num_epochs: 2,
      learning_rate: 2e-4,
      sequence_len: 4096,
      micro_batch_size: 2,
    });
    expect(doc.datasets[0]).toMatchObject({
      path: "data/train.jsonl",
      type: "chat_template",
      field_messages: "messages",
    });
    expect(doc.test_datasets[0].path).toBe("data/val.jsonl");
    expect(doc.lora_target_modules).toContain("q_proj");
  });

  it("writes an Unsloth script that is valid Python", () => {
    const script = toUnslothScript({ ...cfg, chatTemplate: "chatml" });
    expect(script).toContain('model_name="Qwen/Qwen2.5-0.5B-Instruct"');
    expect(script).toContain("load_in_4bit=True");
    expect(script).toContain("r=8,");
    const python = ["/usr/bin/python3", "python3"].find((p) => (p.startsWith("/") ? existsSync(p) : true))!;
    const dir = mkdtempSync(join(tmpdir(), "unsloth-"));
    const file = join(dir, "train.py");
    writeFileSync(file, script);
    const r = spawnSync(python, ["-c", "import ast,sys; ast.parse(open(sys.argv[1]).read())", file], {
      encoding: "utf8",
    });
    if (r.error) return; // no Python on this machine: the textual checks above still ran
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("rejects invalid configs naming the field", () => {
    expect(() => toAxolotlYaml({ ...cfg, dropout: 1.5 })).toThrow(/dropout/);
    expect(() => toAxolotlYaml({ datasetPath: "x" } as never)).toThrow(/baseModel/);
  });
});
