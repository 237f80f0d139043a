import { createHash } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openStore } from "@quintet/core";
import { describe, expect, it } from "vitest";
import type { EmbedRequest, LlmClient } from "../providers/types.js";
import { cosineSimilarity, LsaEmbedder, ProviderEmbedder, randomizedSvd, symmetricEigen } from "./index.js";
import { type DenseMatrix, denseToCsr, orthonormalize, seededNormal } from "./linalg.js";

function randomOrthonormal(rows: number, cols: number, seed: number): DenseMatrix {
  const normal = seededNormal(seed);
  const m: DenseMatrix = { rows, cols, data: new Float64Array(rows * cols) };
  for (let i = 0; i < m.data.length; i++) m.data[i] = normal();
  orthonormalize(m);
  return m;
}

describe("randomizedSvd", () => {
  it("recovers the singular values and reconstructs an exactly low-rank matrix", () => {
    const n = 60;
    const m = 45;
    const sigma = [50, 20, 7, 3, 0.5];
    const u = randomOrthonormal(n, sigma.length, 1);
    const v = randomOrthonormal(m, sigma.length, 2);
    const get = (r: number, c: number) =>
      sigma.reduce((acc, s, k) => acc + s * u.data[k * n + r]! * v.data[k * m + c]!, 0);
    const a = denseToCsr(n, m, get);
    const svd = randomizedSvd(a, 5, { seed: 7 });
    for (let k = 0; k < sigma.length; k++) expect(svd.s[k]).toBeCloseTo(sigma[k]!, 9);
    let maxErr = 0;
    for (let r = 0; r < n; r++) {
      for (let c = 0; c < m; c++) {
        let rec = 0;
        for (let k = 0; k < 5; k++) rec += svd.s[k]! * svd.u.data[k * n + r]! * svd.v.data[k * m + c]!;
        maxErr = Math.max(maxErr, Math.abs(rec - get(r, c)));
      }
    }
    expect(maxErr).toBeLessThan(1e-9);
  });

  it("finds the top components of a full-rank matrix and reports lower rank honestly", () => {
    const normal = seededNormal(3);
    const vals = Array.from({ length: 30 * 20 }, () => normal());
    const a = denseToCsr(30, 20, (r, c) => vals[r * 20 + c]!);
    const full = randomizedSvd(a, 20, { seed: 1 });
    const top = randomizedSvd(a, 3, { seed: 9, powerIterations: 8 });
    for (let k = 0; k < 3; k++) expect(top.s[k]).toBeCloseTo(full.s[k]!, 3);
    // Rank-2 matrix asked for 4 components: the extra singular values are ~0.
    const r2 = randomizedSvd(
      denseToCsr(10, 8, (r, c) => (r + 1) * (c % 3) + (r % 2) * c),
      4,
    );
    expect(r2.s[2]).toBeLessThan(1e-9);
  });

  it("diagonalises a symmetric matrix", () => {
    const { values, vectors } = symmetricEigen(Float64Array.from([2, 1, 0, 1, 2, 0, 0, 0, 5]), 3);
    expect(Array.from(values).map((x) => Number(x.toFixed(10)))).toEqual([5, 3, 1]);
    expect(Math.abs(vectors[0 * 3 + 2]!)).toBeCloseTo(1, 12);
  });
});

const TOPICS: Record<string, string[]> = {
  space:
    "rocket orbit astronaut launch satellite planet mars moon telescope galaxy gravity spacecraft nasa mission".split(
      " ",
    ),
  cooking: "recipe oven bake flour sugar butter dough garlic onion simmer sauce pasta chef kitchen".split(" "),
  finance: "stock market investor bond interest inflation bank loan dividend portfolio equity trading revenue".split(
    " ",
  ),
};

function corpus(seed: number, perTopic: number): Array<{ topic: string; text: string }> {
  const normal = seededNormal(seed);
  const pick = (words: string[]) => words[Math.floor(Math.abs(normal() * 1000)) % words.length]!;
  const out: Array<{ topic: string; text: string }> = [];
  for (const [topic, words] of Object.entries(TOPICS)) {
    for (let i = 0; i < perTopic; i++) {
      const w = Array.from({ length: 12 }, () => pick(words));
      out.push({
        topic,
        text: `The ${w.slice(0, 4).join(" ")} and ${w.slice(4, 8).join(" ")} with ${w.slice(8).join(" ")}.`,
      });
    }
  }
  return out;
}

describe("LsaEmbedder", () => {
  const docs = corpus(11, 40);
  const lsa = new LsaEmbedder({ dimensions: 8, wordNgrams: [1, 2] }).fit(docs.map((d) => d.text));

  it("places texts on the same topic closer than texts on different topics", async () => {
    const [a, b, c] = await lsa.embed([
      "the astronauts launched a rocket into orbit around the moon",
      "a satellite mission to mars studied gravity with a telescope",
      "bake the dough with butter, sugar and flour in the oven",
    ]);
    expect(cosineSimilarity(a!, b!)).toBeGreaterThan(cosineSimilarity(a!, c!) + 0.3);
  });

  it("separates topics across the corpus (nearest neighbour shares the topic)", () => {
    const vecs = lsa.embedSync(docs.map((d) => d.text));
    let correct = 0;
    vecs.forEach((v, i) => {
      let best = -1;
      let bestSim = -2;
      vecs.forEach((w, j) => {
        if (i === j) return;
        const s = cosineSimilarity(v, w);
        if (s > bestSim) {
          bestSim = s;
          best = j;
        }
      });
      if (docs[best]!.topic === docs[i]!.topic) correct++;
    });
    expect(correct / docs.length).toBeGreaterThan(0.95);
  });

  it("gives unit vectors, and the zero vector for out-of-vocabulary text", async () => {
    const [v, z] = await lsa.embed(["rocket launch", "zzz qqq"]);
    expect(Math.hypot(...v!)).toBeCloseTo(1, 5);
    expect([...z!].every((x) => x === 0)).toBe(true);
    expect(lsa.dimensions).toBe(8);
  });

  it("round-trips through save/load with identical vectors and id", () => {
    const dir = mkdtempSync(join(tmpdir(), "lsa-"));
    const path = join(dir, "lsa.json");
    lsa.save(path);
    const loaded = LsaEmbedder.load(path);
    expect(loaded.id).toBe(lsa.id);
    const texts = docs.slice(0, 5).map((d) => d.text);
    expect(loaded.embedSync(texts)).toEqual(lsa.embedSync(texts));
  });

  it("is deterministic for a seed and changes id when the corpus changes", () => {
    const again = new LsaEmbedder({ dimensions: 8, wordNgrams: [1, 2] }).fit(docs.map((d) => d.text));
    expect(again.id).toBe(lsa.id);
    const other = new LsaEmbedder({ dimensions: 8 }).fit(docs.slice(1).map((d) => d.text));
    expect(other.id).not.toBe(lsa.id);
  });

  it("uses character n-grams to match misspellings", async () => {
    const withChars = new LsaEmbedder({ dimensions: 8, charNgrams: [3, 4] }).fit(docs.map((d) => d.text));
    const [a, b, c] = await withChars.embed(["astronaut telescope", "astronuat telescop", "butter flour"]);
    expect(cosineSimilarity(a!, b!)).toBeGreaterThan(cosineSimilarity(b!, c!));
  });

  it("rejects bad input clearly", () => {
    expect(() => new LsaEmbedder({ dimensions: 0 })).toThrow(/dimensions/);
    expect(() => new LsaEmbedder().fit(["one"])).toThrow(/at least 2 documents/);
    expect(() => new LsaEmbedder().embedSync(["x"])).toThrow(/not fitted/);
    expect(() => LsaEmbedder.fromJSON({ kind: "other" })).toThrow(/not a saved LSA model/);
  });
});

/** A test double of our own LlmClient contract: deterministic vectors, counts calls. */
function countingEmbedLlm() {
  const calls: string[][] = [];
  const llm: LlmClient = {
    uri: "test:embed",
    async generate() {
      throw new Error("not used");
    },
    // biome-ignore lint/correctness/useYield: embedding-only double
    async *stream() {
      throw new Error("not used");
    },
    async embed(req: EmbedRequest) {
      calls.push([...req.texts]);
      const vectors = req.texts.map((t) => {
        const h = createHash("sha256").update(t).digest();
        return Float32Array.from([h[0]! + 1, h[1]! + 1, h[2]! + 1, 3]);
      });
      return { vectors, usage: { inputTokens: req.texts.length }, model: "test:embed" };
    },
  };
  return { llm, calls };
}

describe("ProviderEmbedder", () => {
  it("batches by count, sends only cache misses and never calls the provider on full hits", async () => {
    const store = await openStore({ url: `sqlite:${join(mkdtempSync(join(tmpdir(), "emb-")), "q.db")}` });
    try {
      const { llm, calls } = countingEmbedLlm();
      const e = new ProviderEmbedder(llm, { store, maxBatchSize: 2, concurrency: 2 });
      const first = await e.embed(["a", "b", "c", "a"]);
      expect(calls.flat().sort()).toEqual(["a", "b", "c"]);
      expect(calls.every((c) => c.length <= 2)).toBe(true);
      expect(e.stats).toMatchObject({ cacheHits: 0, cacheMisses: 4, providerCalls: 2 });
      expect(first[0]).toEqual(first[3]);

      calls.length = 0;
      const second = await e.embed(["c", "d", "a"]);
      expect(calls).toEqual([["d"]]);
      expect(second[0]).toEqual(first[2]);
      expect(second[2]).toEqual(first[0]);
      expect(e.stats).toMatchObject({ cacheHits: 2, cacheMisses: 5 });

      // A new embedder over the same store (a new process) hits the persisted cache.
      calls.length = 0;
      const fresh = new ProviderEmbedder(llm, { store, normalize: true });
      const third = await fresh.embed(["a", "b", "c", "d"]);
      expect(calls).toEqual([]);
      expect(fresh.stats.cacheHits).toBe(4);
      expect(Math.hypot(...third[0]!)).toBeCloseTo(1, 5);
      expect(fresh.dimensions).toBeUndefined();
    } finally {
      await store.close();
    }
  });

  it("splits batches by tokens and validates input", async () => {
    const { llm, calls } = countingEmbedLlm();
    const e = new ProviderEmbedder(llm, { maxBatchTokens: 5 });
    await e.embed(["one two three", "four five six", "seven"]);
    expect(calls).toEqual([["one two three"], ["four five six", "seven"]]);
    await expect(e.embed(["ok", ""])).rejects.toThrow(/text 1 to embed is empty/);
    await expect(e.embed(["a very long text that is over the token budget"])).rejects.toThrow(/maxBatchTokens/);
    const noEmbed: LlmClient = { uri: "x:y", generate: llm.generate, stream: llm.stream };
    expect(() => new ProviderEmbedder(noEmbed)).toThrow(/does not offer embeddings/);
  });

  it("honours an aborted signal", async () => {
    const { llm } = countingEmbedLlm();
    const ac = new AbortController();
    ac.abort();
    await expect(new ProviderEmbedder(llm).embed(["a"], { signal: ac.signal })).rejects.toThrow();
  });
});
