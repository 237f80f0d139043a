import { describe, expect, it } from "vitest";
import { contentHash, createDocument, documentFingerprint, documentId, normalizeAccessLabels } from "./index.js";

const source = { kind: "file", name: "docs", uri: "/tmp/a.md", key: "a.md" } as const;

describe("documents", () => {
  it("have stable ids and content hashes", () => {
    const a = createDocument({ source, title: " A ", content: "hello\r\nworld", fetchedAt: 1 });
    const b = createDocument({ source, title: "A", content: "hello\nworld", fetchedAt: 2 });
    expect(a.id).toBe("file:docs:a.md");
    expect(a.id).toBe(b.id);
    expect(a.contentHash).toBe(b.contentHash);
    expect(a.contentHash).toBe(contentHash("hello\nworld"));
    expect(a.contentHash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(a.title).toBe("A");
    expect(a.access).toEqual(["public"]);
    expect(documentFingerprint(a)).toBe(documentFingerprint(b));
  });

  it("fingerprints change with access labels and metadata, not with fetch time", () => {
    const a = createDocument({ source, content: "x", access: ["team:a"], metadata: { x: 1, y: 2 } });
    const b = createDocument({ source, content: "x", access: ["team:b"], metadata: { y: 2, x: 1 } });
    const c = createDocument({ source, content: "x", access: ["team:a"], metadata: { y: 2, x: 1 } });
    expect(documentFingerprint(a)).not.toBe(documentFingerprint(b));
    expect(documentFingerprint(a)).toBe(documentFingerprint(c));
  });

  it("hashes very long keys into the id", () => {
    const id = documentId("web", "site", `https://x.test/?q=${"a".repeat(1000)}`);
    expect(id).toMatch(/^web:site:h:[0-9a-f]{32}$/);
  });

  it("rejects bad input with a named field", () => {
    expect(() => createDocument({ source: { ...source, key: "" }, content: "x" })).toThrow(/source\.key/);
    expect(() => createDocument({ source, content: 5 as unknown as string })).toThrow(/content/);
    expect(() => normalizeAccessLabels(["ok", "bad label'"])).toThrow(/invalid access label/);
    expect(normalizeAccessLabels(["b", "a", "b"])).toEqual(["a", "b"]);
  });
});
