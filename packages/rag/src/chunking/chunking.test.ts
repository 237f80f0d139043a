import { countTokens, LsaEmbedder } from "@quintet/llm";
import { describe, expect, it } from "vitest";
import { createDocument } from "../documents/create.js";
import type { Chunk, Document } from "../documents/types.js";
import { htmlToMarkdown } from "../sources/parsers/html.js";
import {
  markdownSections,
  ParentChildChunker,
  percentile,
  RecursiveChunker,
  SemanticChunker,
  SentenceWindowChunker,
  StructureChunker,
} from "./index.js";

const doc = (content: string, format: "text" | "markdown" = "text"): Document =>
  createDocument({ source: { kind: "inline", name: "t", uri: "mem:x", key: "x" }, content, format });

function checkOffsets(d: Document, chunks: Chunk[]) {
  for (const c of chunks) {
    expect(d.content.slice(c.start, c.end)).toBe(c.content);
    expect(c.tokens).toBe(countTokens(c.text, "text-embedding-3-small"));
    expect(c.documentId).toBe(d.id);
  }
}

// Sentences with distinct words so overlaps and order are checkable.
const prose = Array.from(
  { length: 60 },
  (_, i) => `Sentence number ${i} talks about topic ${i % 7} in some detail.`,
).join(" ");

describe("RecursiveChunker", () => {
  it("keeps every chunk within the token budget, with overlap, in order, covering the text", async () => {
    const d = doc(prose);
    const chunks = await new RecursiveChunker({ chunkTokens: 60, overlapTokens: 15 }).chunk(d);
    expect(chunks.length).toBeGreaterThan(5);
    checkOffsets(d, chunks);
    for (const c of chunks) expect(c.tokens).toBeLessThanOrEqual(60);
    for (let i = 1; i < chunks.length; i++) {
      // Overlap: the next chunk starts before the previous one ends, and never goes backwards.
      expect(chunks[i]!.start).toBeLessThan(chunks[i - 1]!.end);
      expect(chunks[i]!.start).toBeGreaterThan(chunks[i - 1]!.start);
    }
    expect(chunks[0]!.start).toBe(0);
    expect(chunks.at(-1)!.end).toBe(d.content.length);
    expect(chunks.map((c) => c.id)).toEqual(chunks.map((_, i) => `${d.id}#${i}`));
  });

  it("prefers paragraph boundaries and splits an unbroken blob by tokens", async () => {
    const d = doc(`First paragraph is short.\n\nSecond paragraph is short too.\n\n${"x".repeat(1200)}`);
    const chunks = await new RecursiveChunker({ chunkTokens: 40, overlapTokens: 0 }).chunk(d);
    checkOffsets(d, chunks);
    expect(chunks[0]!.content).toBe("First paragraph is short.\n\nSecond paragraph is short too.");
    for (const c of chunks) expect(c.tokens).toBeLessThanOrEqual(40);
    expect(
      chunks
        .slice(1)
        .map((c) => c.content)
        .join(""),
    ).toBe("x".repeat(1200));
  });

  it("rejects overlap not smaller than the chunk size", () => {
    expect(() => new RecursiveChunker({ chunkTokens: 50, overlapTokens: 50 })).toThrow(/overlapTokens must be smaller/);
  });
});

const md = `# Guide

Intro text.

## Install

\`\`\`sh
# not a heading
npm install quintet
\`\`\`

### Linux

Use apt on Debian.

Setext Title
------------

Body under setext.
`;

describe("StructureChunker", () => {
  it("finds sections with heading paths, ignoring # in code fences", () => {
    const s = markdownSections(md);
    expect(s.map((x) => [x.headingPath.join(" > "), md.slice(x.start, x.end).trim()])).toEqual([
      ["Guide", "Intro text."],
      ["Guide > Install", "```sh\n# not a heading\nnpm install quintet\n```"],
      ["Guide > Install > Linux", "Use apt on Debian."],
      ["Guide > Setext Title", "Body under setext."],
    ]);
  });

  it("chunks per section and prefixes the heading path to the indexed text", async () => {
    const d = doc(md, "markdown");
    const chunks = await new StructureChunker({ chunkTokens: 64, overlapTokens: 8 }).chunk(d);
    checkOffsets(d, chunks);
    const linux = chunks.find((c) => c.content === "Use apt on Debian.")!;
    expect(linux.headingPath).toEqual(["Guide", "Install", "Linux"]);
    expect(linux.text).toBe("Guide > Install > Linux\n\nUse apt on Debian.");
    expect(chunks.every((c) => c.tokens <= 64)).toBe(true);
  });

  it("keeps HTML headings through the markdown conversion", async () => {
    const page = htmlToMarkdown(
      `<html><body><h1>Handbook</h1><p>Welcome aboard.</p><h2>Leave</h2><p>You get 25 days of leave.</p></body></html>`,
    );
    const d = doc(page.markdown, "markdown");
    const chunks = await new StructureChunker({ chunkTokens: 64, overlapTokens: 0 }).chunk(d);
    expect(chunks.find((c) => c.content.includes("25 days"))!.headingPath).toEqual(["Handbook", "Leave"]);
  });

  it("splits a long section under the budget left after its heading path", async () => {
    const d = doc(`# A very long heading about many things\n\n${prose}`, "markdown");
    const chunks = await new StructureChunker({ chunkTokens: 50, overlapTokens: 5 }).chunk(d);
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) expect(c.tokens).toBeLessThanOrEqual(50);
  });
});

describe("SentenceWindowChunker", () => {
  it("makes one chunk per sentence with the neighbours as context", async () => {
    const d = doc(
      "Dr. Smith arrived. He was late. The meeting had started at 9.30 sharp. Nobody minded. It ended well.",
    );
    const chunks = await new SentenceWindowChunker({ window: 1, minChars: 0 }).chunk(d);
    expect(chunks.map((c) => c.content)).toEqual([
      "Dr. Smith arrived.",
      "He was late.",
      "The meeting had started at 9.30 sharp.",
      "Nobody minded.",
      "It ended well.",
    ]);
    expect(chunks[2]!.context).toBe("He was late. The meeting had started at 9.30 sharp. Nobody minded.");
    expect(chunks[0]!.context).toBe("Dr. Smith arrived. He was late.");
    checkOffsets(d, chunks);
  });
});

describe("SemanticChunker", () => {
  it("breaks where the topic changes", async () => {
    const cats = [
      "Cats purr when content and cats sleep often.",
      "A cat grooms its fur and cats chase mice.",
      "Kittens become cats and cats like warm fur.",
      "Cats hunt mice at night and cats purr.",
    ];
    const rockets = [
      "Rockets burn fuel to reach orbit quickly.",
      "A rocket engine needs fuel and oxidizer for orbit.",
      "Orbit requires rockets with enough fuel and thrust.",
      "Rocket launches carry satellites into orbit with fuel.",
    ];
    const embedder = new LsaEmbedder({ dimensions: 4, stopwords: true }).fit([...cats, ...rockets]);
    const d = doc([...cats, ...rockets].join(" "));
    const chunker = new SemanticChunker({ embedder, buffer: 0, minTokens: 0 });
    const spans = (await import("./sentences.js")).sentenceSpans(d.content, 1);
    const dist = await chunker.distances(d.content, spans);
    // The largest jump is between the last cat sentence and the first rocket sentence.
    expect(dist.indexOf(Math.max(...dist))).toBe(3);
    const chunks = await chunker.chunk(d);
    expect(chunks.map((c) => c.content)).toEqual([cats.join(" "), rockets.join(" ")]);
    checkOffsets(d, chunks);
  });

  it("computes percentiles like numpy", () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([5, 1, 3], 100)).toBe(5);
    expect(percentile([0, 10], 25)).toBe(2.5);
  });
});

describe("ParentChildChunker", () => {
  it("emits parents and small children pointing at them", async () => {
    const d = doc(prose);
    const chunks = await new ParentChildChunker({
      parent: new RecursiveChunker({ chunkTokens: 200, overlapTokens: 0 }),
      childTokens: 40,
      childOverlapTokens: 5,
    }).chunk(d);
    const parents = chunks.filter((c) => c.kind === "parent");
    const children = chunks.filter((c) => c.kind === "chunk");
    expect(parents.length).toBeGreaterThan(1);
    expect(children.length).toBeGreaterThan(parents.length * 3);
    for (const c of children) {
      const p = parents.find((x) => x.id === c.parentId)!;
      expect(p).toBeDefined();
      expect(c.start).toBeGreaterThanOrEqual(p.start);
      expect(c.end).toBeLessThanOrEqual(p.end);
      expect(c.tokens).toBeLessThanOrEqual(40);
    }
    expect(new Set(chunks.map((c) => c.id)).size).toBe(chunks.length);
    checkOffsets(d, chunks);
  });
});
