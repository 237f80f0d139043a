import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore, type Store } from "@quintet/core";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { LsaEmbedder } from "../embeddings/lsa.js";
import { definePrompt, extractFinalAnswer, PromptRegistry, readPromptFile, renderTemplate } from "./index.js";

const qa = () =>
  definePrompt({
    name: "support/answer",
    persona: "You are {{company}}'s support assistant. Be concise.",
    messages: [{ role: "user", content: "Context:\n{{passages | bullets}}\n\nQuestion: {{question}}" }],
    variables: {
      company: { type: "string" },
      question: { type: "string", minLength: 1 },
      passages: { type: "string[]", default: [] },
    },
    options: { temperature: 0 },
  });

describe("templates", () => {
  it("renders variables and filters in one pass, so values cannot inject template syntax", () => {
    expect(
      renderTemplate("Hi {{ name | upper }}! {{tags}} / {{tags | json}} \\{{literal}}", {
        name: "ada",
        tags: ["a", "b"],
      }),
    ).toBe('Hi ADA! a, b / ["a","b"] {{literal}}');
    expect(renderTemplate("Q: {{q}}", { q: "{{secret}}" })).toBe("Q: {{secret}}");
  });

  it("rejects malformed tags and unknown filters", () => {
    expect(() => renderTemplate("{{ 1bad }}", {})).toThrow(/malformed template tag/);
    expect(() => renderTemplate("{{x | shout}}", { x: 1 })).toThrow(/unknown template filter "shout"/);
  });
});

describe("Prompt", () => {
  it("renders deterministically with persona, filters and metadata", async () => {
    const p = qa();
    const a = await p.render({
      company: "Acme",
      question: "How do I reset?",
      passages: ["Press the button.", "Hold 5s."],
    });
    const b = await p.render({
      company: "Acme",
      question: "How do I reset?",
      passages: ["Press the button.", "Hold 5s."],
    });
    expect(a).toEqual(b);
    expect(a.messages).toEqual([
      { role: "system", content: "You are Acme's support assistant. Be concise." },
      { role: "user", content: "Context:\n- Press the button.\n- Hold 5s.\n\nQuestion: How do I reset?" },
    ]);
    expect(a.version).toMatch(/^[0-9a-f]{64}$/);
    expect(a.metadata["prompt.version"]).toBe(a.version);
  });

  it("names the missing or bad variable", async () => {
    const p = qa();
    await expect(p.render({ question: "x" } as never)).rejects.toThrow(/missing variable "company"/);
    await expect(p.render({ company: "A", question: "" })).rejects.toThrow(/variable "question" is invalid/);
    await expect(p.render({ company: "A", question: "q", extra: 1 } as never)).rejects.toThrow(
      /unknown variable\(s\) extra/,
    );
  });

  it("refuses templates that use undeclared variables", () => {
    expect(() => definePrompt({ name: "x", messages: [{ role: "user", content: "{{nope}}" }] })).toThrow(
      /does not declare variable "nope"/,
    );
  });

  it("hashes content, not names or descriptions, and changes with any template or option change", () => {
    const base = qa();
    const renamed = definePrompt({ ...base.definition, name: "other", description: "d" });
    expect(renamed.version).toBe(base.version);
    const tweaked = definePrompt({ ...base.definition, options: { temperature: 0.2 } });
    expect(tweaked.version).not.toBe(base.version);
  });

  it("chooses few-shot examples by similarity with an embedder", async () => {
    const examples = [
      { input: "How do I bake bread with flour and yeast?", output: "cooking" },
      { input: "When will the rocket launch to orbit?", output: "space" },
      { input: "Is the stock market up after the interest rate change?", output: "finance" },
      { input: "What oven temperature for baking cookies with butter?", output: "cooking" },
    ];
    const p = definePrompt({
      name: "classify",
      strategy: "few-shot",
      fewShotK: 2,
      examples,
      messages: [{ role: "user", content: "{{text}}" }],
      variables: { text: { type: "string" } },
    });
    const lsa = new LsaEmbedder({ dimensions: 3 }).fit([
      ...examples.map((e) => e.input),
      "bread flour oven butter baking",
      "rocket orbit launch astronaut",
      "stock market interest bank",
    ]);
    const r = await p.render({ text: "Which flour is best for baking bread in the oven?" }, { embedder: lsa });
    expect(r.examples.map((e) => e.output)).toEqual(["cooking", "cooking"]);
    expect(r.messages.map((m) => m.role)).toEqual(["user", "assistant", "user", "assistant", "user"]);
    const noEmbedder = await p.render({ text: "anything" });
    expect(noEmbedder.examples).toEqual(examples.slice(0, 2));
  });

  it("appends the chain-of-thought instruction", async () => {
    const p = definePrompt({
      name: "math",
      strategy: "chain-of-thought",
      messages: [{ role: "user", content: "What is {{a}} + {{b}}?" }],
      variables: { a: { type: "number" }, b: { type: "number" } },
    });
    const r = await p.render({ a: 2, b: 3 });
    expect(r.messages.at(-1)!.content).toMatch(/^What is 2 \+ 3\?\n\n.*Final answer:/s);
  });
});

describe("extractFinalAnswer", () => {
  it.each([
    ["Step 1: 2+3.\nFinal answer: 5", "5", true],
    ["Reasoning...\n**Final Answer:** Paris", "Paris", true],
    ["First guess. Final answer: 4\nWait, recheck.\nFinal answer - 6", "6", true],
    ['blah\n> Final answer: "yes"\n\nThanks!', "yes", true],
    ["So the result is\nAnswer: 42", "42", true],
    ["Final answer: $\\boxed{7}$", "7", true],
    ["no marker here\njust the last line 12", "just the last line 12", false],
  ])("%j → %s", (text, answer, found) => {
    const r = extractFinalAnswer(text);
    expect(r.answer).toBe(answer);
    expect(r.found).toBe(found);
  });

  it("returns the reasoning before the marker", () => {
    expect(extractFinalAnswer("think hard\nFinal answer: 1").reasoning).toBe("think hard");
  });
});

describe("PromptRegistry", () => {
  let store: Store;
  beforeEach(async () => {
    store = await openStore({ url: `sqlite:${join(mkdtempSync(join(tmpdir(), "prompts-")), "q.db")}` });
  });
  afterEach(async () => store.close());

  it("saves idempotently, lists, aliases, gets by alias/prefix and diffs", async () => {
    const reg = new PromptRegistry(store);
    const v1 = await reg.save(qa());
    expect(v1.created).toBe(true);
    expect((await reg.save(qa())).created).toBe(false);
    const v2def = {
      ...qa().definition,
      messages: [
        { role: "user" as const, content: "Context:\n{{passages | bullets}}\n\nAnswer briefly: {{question}}" },
      ],
      variables: {
        ...qa().definition.variables,
        tone: { type: "enum" as const, values: ["formal", "casual"], optional: true },
      },
    };
    const v2 = await reg.save(v2def);
    expect(v2.version).not.toBe(v1.version);

    await reg.alias("support/answer", "production", v1.version);
    expect((await reg.get("support/answer", "production")).version).toBe(v1.version);
    expect((await reg.get("support/answer", v2.version.slice(0, 10))).version).toBe(v2.version);
    const moved = await reg.alias("support/answer", "production", v2.version);
    expect(moved.previous).toBe(v1.version);

    const list = await reg.list();
    expect(list).toHaveLength(1);
    expect(list[0]).toMatchObject({ name: "support/answer", versions: 2, aliases: { production: v2.version } });
    const versions = await reg.versions("support/answer");
    expect(versions.find((v) => v.version === v2.version)?.aliases).toEqual(["production"]);

    const d = await reg.diff("support/answer", v1.version, "production");
    expect(d.text).toContain("-Question: {{question}}");
    expect(d.text).toContain("+Answer briefly: {{question}}");
    expect(d.variables.added).toEqual(["tone"]);
    expect(d.identical).toBe(false);

    // A prompt loaded back renders exactly like the original.
    const loaded = await reg.get("support/answer", v1.version);
    const vars = { company: "Acme", question: "Q?", passages: ["p"] };
    expect(await loaded.render(vars)).toEqual(await qa().render(vars));
  });

  it("explains what is missing", async () => {
    const reg = new PromptRegistry(store);
    await expect(reg.get("nope")).rejects.toThrow(/no prompt named "nope"/);
    await reg.save(qa());
    await expect(reg.get("support/answer", "staging")).rejects.toThrow(/no version or alias "staging"/);
    await expect(reg.alias("support/answer", "Bad Alias", "latest")).rejects.toThrow(/invalid alias/);
  });
});

describe("readPromptFile", () => {
  it("reads YAML and JSON definitions and names the file in errors", async () => {
    const dir = mkdtempSync(join(tmpdir(), "quintet-prompt-file-"));
    const yamlPath = join(dir, "greet.yaml");
    writeFileSync(
      yamlPath,
      [
        "name: greet",
        "persona: You greet people warmly.",
        "messages:",
        "  - role: user",
        '    content: "Say hello to {{who}}."',
        "variables:",
        "  who: { type: string }",
      ].join("\n"),
    );
    const fromYaml = await readPromptFile(yamlPath);
    const jsonPath = join(dir, "greet.json");
    writeFileSync(jsonPath, JSON.stringify(fromYaml.definition));
    const fromJson = await readPromptFile(jsonPath);
    expect(fromJson.version).toBe(fromYaml.version);
    expect((await fromYaml.render({ who: "Ada" })).messages.at(-1)!.content).toBe("Say hello to Ada.");

    writeFileSync(join(dir, "bad.yaml"), "name: [unclosed");
    await expect(readPromptFile(join(dir, "bad.yaml"))).rejects.toThrow(/bad\.yaml is not valid JSON or YAML/);
    writeFileSync(join(dir, "undeclared.yaml"), "name: x\nmessages:\n  - role: user\n    content: '{{nope}}'\n");
    await expect(readPromptFile(join(dir, "undeclared.yaml"))).rejects.toThrow(
      /undeclared\.yaml: prompt "x" uses \{\{nope\}\}/,
    );
    await expect(readPromptFile(join(dir, "missing.yaml"))).rejects.toMatchObject({ code: "NOT_FOUND" });
  });
});
