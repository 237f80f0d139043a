import { describe, expect, it } from "vitest";
import {
  charNgrams,
  contentTerms,
  countChatTokens,
  countTokens,
  encodingForModelName,
  extractNumbers,
  normalizeAnswer,
  splitSentences,
  stem,
  tokenize,
} from "./index.js";

describe("stem (Porter steps 1–3)", () => {
  it.each([
    ["caresses", "caress"],
    ["ponies", "poni"],
    ["cats", "cat"],
    ["agreed", "agree"],
    ["plastered", "plaster"],
    ["motoring", "motor"],
    ["hopping", "hop"],
    ["filing", "file"],
    ["happy", "happi"],
    ["relational", "relate"],
    ["conditional", "condition"],
    ["hopefulness", "hope"],
    ["running", "run"],
    ["sky", "sky"],
  ])("%s → %s", (word, expected) => {
    expect(stem(word)).toBe(expected);
  });

  it("merges inflections of one word", () => {
    expect(stem("connected")).toBe(stem("connecting"));
    expect(stem("connections")).toBe(stem("connection"));
  });
});

describe("tokenize", () => {
  it("keeps offsets, numbers and unicode words", () => {
    const toks = tokenize("Zürich had 1,200 visitors (12.5%) in 2023!");
    expect(toks.map((t) => t.term)).toEqual(["zürich", "had", "1,200", "visitors", "12.5%", "in", "2023"]);
    for (const t of toks) expect("Zürich had 1,200 visitors (12.5%) in 2023!".slice(t.start, t.end)).toBe(t.text);
  });

  it("drops stopwords and stems for content terms", () => {
    expect(contentTerms("The cats were running into the gardens")).toEqual(["cat", "run", "garden"]);
  });

  it("normalises numbers so equal values compare equal", () => {
    expect(extractNumbers("1,200 and 1200.0 and 3,5 and 12% and −4")).toEqual(["1200", "1200", "3.5", "12%", "-4"]);
  });

  it("pads char n-grams", () => {
    expect(charNgrams("cat", 3)).toEqual(["_ca", "cat", "at_"]);
  });

  it("normalises answers", () => {
    expect(normalizeAnswer("The answer is 1,000.")).toBe(normalizeAnswer("answer is 1000"));
    expect(normalizeAnswer("  Paris!! ")).toBe("paris");
    expect(normalizeAnswer("3.14")).toBe("3.14");
  });
});

describe("splitSentences", () => {
  it("handles abbreviations, initials, decimals and quotes", () => {
    const s = splitSentences(
      'Dr. Smith met J. R. Tolkien in the U.S. on Monday. The fee was 3.5 dollars! "Really?" she asked.',
    );
    expect(s.map((x) => x.text)).toEqual([
      "Dr. Smith met J. R. Tolkien in the U.S. on Monday.",
      "The fee was 3.5 dollars!",
      '"Really?" she asked.',
    ]);
  });

  it("keeps citation markers with the sentence they follow and reports offsets", () => {
    const text = "The sky is blue [1]. Grass is green. [2][3] Water is wet [4].";
    const s = splitSentences(text);
    expect(s.map((x) => x.text)).toEqual(["The sky is blue [1].", "Grass is green. [2][3]", "Water is wet [4]."]);
    for (const x of s) expect(text.slice(x.start, x.end)).toBe(x.text);
  });

  it("splits on blank lines and list items", () => {
    const s = splitSentences("Intro line\n\nSecond para\n- item one\n- item two");
    expect(s.map((x) => x.text)).toEqual(["Intro line", "Second para", "- item one", "- item two"]);
  });
});

describe("token counting", () => {
  it("picks the encoding by model family", () => {
    expect(encodingForModelName("openai:gpt-4o-mini")).toBe("o200k_base");
    expect(encodingForModelName("gpt-3.5-turbo")).toBe("cl100k_base");
    expect(encodingForModelName("ft:gpt-4.1-mini:org::abc")).toBe("o200k_base");
    expect(encodingForModelName("text-embedding-3-small")).toBe("cl100k_base");
  });

  it("counts real BPE tokens", () => {
    // "hello world" is two tokens in both cl100k and o200k.
    expect(countTokens("hello world", "gpt-4")).toBe(2);
    expect(countTokens("hello world", "gpt-4o")).toBe(2);
    expect(countChatTokens([{ role: "user", content: "hello world" }], "gpt-4o")).toBe(3 + 3 + 1 + 2);
  });
});
