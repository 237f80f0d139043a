import { mkdtempSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { countTokens, createLlm, type FakeOpenAI, LsaEmbedder, startFakeOpenAI } from "@quintet/llm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ParentChildChunker } from "../chunking/parent-child.js";
import { RecursiveChunker } from "../chunking/recursive.js";
import { createDocument } from "../documents/create.js";
import type { Hit, StoredChunk } from "../index/collection.js";
import { ingestDocuments, RagIndex } from "../index/index.js";
import { topicCorpus } from "../testing/corpus.js";
import {
  formatExplanation,
  fuse,
  HttpReranker,
  LexicalReranker,
  LlmListwiseReranker,
  mmr,
  packContext,
  type RerankCandidate,
  Retriever,
} from "./index.js";

const chunk = (id: string, extra: Partial<StoredChunk> = {}): StoredChunk =>
  ({
    id,
    documentId: id,
    kind: "chunk",
    text: id,
    content: id,
    headingPath: [],
    access: ["public"],
    metadata: {},
    ...extra,
  }) as StoredChunk;
const hits = (ids: string[], scores: number[]): Hit[] =>
  ids.map((id, i) => ({ chunk: chunk(id), rank: i + 1, score: scores[i]! }));

describe("fusion", () => {
  it("computes reciprocal-rank fusion by hand", () => {
    const out = fuse(
      [
        { name: "bm25", family: "bm25", hits: hits(["a", "b", "c"], [9, 5, 1]) },
        { name: "vector", family: "vector", hits: hits(["b", "d"], [0.9, 0.8]) },
      ],
      { method: "rrf", k: 60 },
    );
    expect(out.map((c) => c.id)).toEqual(["b", "a", "d", "c"]);
    expect(out[0]!.score).toBeCloseTo(1 / 62 + 1 / 61, 12);
    expect(out[1]!.score).toBeCloseTo(1 / 61, 12);
    expect(out[0]!.bm25).toEqual({ rank: 2, score: 5, list: "bm25" });
    expect(out[0]!.vector).toEqual({ rank: 1, score: 0.9, list: "vector" });
  });

  it("computes weighted min-max fusion by hand", () => {
    const out = fuse(
      [
        { name: "bm25", family: "bm25", hits: hits(["a", "b", "c"], [10, 6, 2]) },
        { name: "vector", family: "vector", hits: hits(["c", "a"], [0.9, 0.5]) },
      ],
      { method: "weighted", vectorWeight: 0.25 },
    );
    // a: 0.75·1 + 0.25·0 = 0.75; b: 0.75·0.5 = 0.375; c: 0.75·0 + 0.25·1 = 0.25
    expect(out.map((c) => [c.id, Number(c.score.toFixed(6))])).toEqual([
      ["a", 0.75],
      ["b", 0.375],
      ["c", 0.25],
    ]);
    expect(() => fuse([], { method: "weighted", vectorWeight: 2 })).toThrow(/vectorWeight/);
  });

  it("MMR skips near-duplicates", () => {
    const v = (...x: number[]) => Float32Array.from(x);
    const picks = mmr(
      [
        { id: "a", relevance: 1, vector: v(1, 0, 0) },
        { id: "a-copy", relevance: 0.99, vector: v(1, 0.01, 0) },
        { id: "b", relevance: 0.8, vector: v(0, 1, 0) },
      ],
      3,
      0.5,
    );
    expect(picks.map((p) => p.id)).toEqual(["a", "b", "a-copy"]);
    expect(picks[2]!.redundancy).toBeGreaterThan(0.99);
    expect(mmr([{ id: "a", relevance: 1, vector: v(1) }], 1, 1)[0]!.id).toBe("a");
  });
});

describe("Retriever", () => {
  let fake: FakeOpenAI;
  let retriever: Retriever;
  let embedder: LsaEmbedder;
  const secretWords = "invoice ledger dividend audit payroll";

  beforeAll(async () => {
    fake = await startFakeOpenAI({ onUnscripted: "error" });
    // Finance documents are restricted; their words are the adversarial query.
    const docs = topicCorpus(80, 11, { access: (_i, topic) => (topic === "finance" ? ["team:finance"] : []) });
    embedder = new LsaEmbedder({ dimensions: 24 }).fit(docs.map((d) => d.content));
    const index = await RagIndex.open({ dir: mkdtempSync(join(tmpdir(), "quintet-rag-ret-")) });
    const collection = await index.create("kb", { dimensions: embedder.dimensions!, embedderId: embedder.id });
    await ingestDocuments(docs, {
      collection,
      embedder,
      chunker: new ParentChildChunker({
        parent: new RecursiveChunker({ chunkTokens: 200, overlapTokens: 0 }),
        childTokens: 24,
        childOverlapTokens: 4,
      }),
    });
    const llm = createLlm("openai:gpt-4o-mini", { apiKey: "test", baseURL: fake.url, retry: { maxRetries: 0 } });
    retriever = new Retriever({ collection, embedder, reranker: new LexicalReranker(), llm });
  });
  afterAll(() => fake.close());

  it("never returns a chunk the principal may not see, whatever the pipeline", async () => {
    const pipelines = [
      { mode: "bm25" as const },
      { mode: "vector" as const },
      {},
      { fusion: { method: "weighted" as const, vectorWeight: 0.5 } },
      { rerank: true, mmr: true },
      { expandParents: false },
    ];
    for (const p of pipelines) {
      const asFinance = await retriever.retrieve(secretWords, { access: { labels: ["team:finance"] }, k: 5, ...p });
      expect(asFinance.results[0]!.chunk.access).toContain("team:finance");
      const asOther = await retriever.retrieve(secretWords, { access: { labels: ["team:sales"] }, k: 20, ...p });
      for (const r of asOther.results) expect(r.chunk.access).not.toContain("team:finance");
    }
    await expect(retriever.retrieve("x", {} as never)).rejects.toThrow(/needs `access`/);
  });

  it("ranks on ids and reads whole rows only for the results, re-checking access as it reads them", async () => {
    const docs = topicCorpus(60, 5, { access: (_i, topic) => (topic === "finance" ? ["team:finance"] : []) });
    const emb = new LsaEmbedder({ dimensions: 16 }).fit(docs.map((d) => d.content));
    const index = await RagIndex.open({ dir: mkdtempSync(join(tmpdir(), "quintet-rag-ret2-")) });
    const collection = await index.create("kb", { dimensions: emb.dimensions!, embedderId: emb.id });
    await ingestDocuments(docs, {
      collection,
      embedder: emb,
      chunker: new RecursiveChunker({ chunkTokens: 48, overlapTokens: 8 }),
    });
    const r = new Retriever({ collection, embedder: emb, reranker: new LexicalReranker() });
    const access = { labels: ["team:sales"] };
    const q = "harbor anchor tide oven";
    for (const p of [{ mode: "bm25" as const }, { mode: "vector" as const }, {}, { rerank: true, mmr: true }]) {
      const got = await r.retrieve(q, { access, k: 8, ...p });
      expect(got.results).toHaveLength(8);
      // Every field of each result is the stored row (one read path or the other).
      const stored = new Map((await collection.get(got.results.map((x) => x.chunk.id))).map((c) => [c.id, c]));
      for (const x of got.results) expect(x.chunk).toEqual(stored.get(x.chunk.id));
    }
    // A single ranked list read whole in one query gives what the search itself gives.
    const bm25 = await r.retrieve(q, { access, k: 8, mode: "bm25" });
    const direct = await collection.searchText(q, { k: 8, where: "array_has_any(access, ['public', 'team:sales'])" });
    expect(bm25.results.map((x) => [x.chunk.id, x.explanation.bm25!.score])).toEqual(
      direct.map((h) => [h.chunk.id, h.score]),
    );

    // A row whose labels changed between ranking and reading (simulated: both rankings return a
    // finance chunk first) is dropped when read, and the next candidate takes its place.
    const secret = (await collection.searchText("invoice ledger dividend audit", { k: 1 }))[0]!.chunk;
    expect(secret.access).toContain("team:finance");
    const first = <T>(hits: Hit<T & { id: string }>[]) => [
      { chunk: { id: secret.id } as T & { id: string }, rank: 1, score: hits[0]?.score ?? 1 },
      ...hits.map((h) => ({ ...h, rank: h.rank + 1 })),
    ];
    const text = collection.searchTextRefs.bind(collection);
    const vector = collection.searchVectorRefs.bind(collection);
    collection.searchTextRefs = async (t, o) => first(await text(t, o));
    collection.searchVectorRefs = async (v, o) => first(await vector(v, o));
    for (const p of [{}, { fusion: { method: "weighted" as const, vectorWeight: 0.5 } }]) {
      const got = await r.retrieve(q, { access, k: 8, ...p });
      expect(got.results).toHaveLength(8);
      for (const x of got.results) expect(x.chunk.access).not.toContain("team:finance");
      expect(got.results.map((x) => x.rank)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    }
    index.close();
  });

  it("explains each result and returns parents for matching children", async () => {
    const r = await retriever.retrieve("telescope galaxy orbit nebula", { access: { labels: [] }, k: 5, rerank: true });
    expect(r.results).toHaveLength(5);
    const top = r.results[0]!;
    expect(top.chunk.kind).toBe("parent");
    expect(top.chunk.title).toMatch(/astronomy/);
    expect(top.explanation.parent!.children.length).toBeGreaterThanOrEqual(1);
    expect(top.explanation.fused.method).toBe("rrf");
    expect(top.explanation.bm25 ?? top.explanation.vector).toBeDefined();
    expect(top.explanation.rerank).toMatchObject({ by: "lexical", rank: 1 });
    expect(top.explanation.where).toBe("array_has_any(access, ['public'])");
    expect(formatExplanation(top.explanation)).toMatch(/rrf .* → #\d+ · rerank\[lexical\]/);
    expect(new Set(r.results.map((x) => x.chunk.id)).size).toBe(5);
    for (let i = 1; i < r.results.length; i++) expect(r.results[i]!.rank).toBe(i + 1);
  });

  it("applies metadata filters", async () => {
    const r = await retriever.retrieve("harbor anchor", { access: { all: true }, k: 10, filter: { topic: "cooking" } });
    expect(r.results.length).toBeGreaterThan(0);
    for (const x of r.results) expect(x.chunk.metadata.topic).toBe("cooking");
  });

  it("rewrites, expands, decomposes and uses HyDE through the LLM", async () => {
    fake.reset();
    fake.script.chat((req) => {
      const prompt = JSON.stringify(req.body.messages);
      if (prompt.includes("precise, self-contained"))
        return { content: JSON.stringify({ query: "telescope observations of a galaxy" }) };
      if (prompt.includes("different search queries"))
        return { content: JSON.stringify({ queries: ["nebula redshift", "comet orbit", "nebula redshift"] }) };
      if (prompt.includes("sub-questions"))
        return { content: JSON.stringify({ subQuestions: ["what is a galaxy", "what is an orbit"] }) };
      if (prompt.includes("short factual passage"))
        return {
          content: JSON.stringify({ passage: "The telescope observed a stellar nebula and a comet in orbit." }),
        };
      return { status: 500 };
    });
    const r = await retriever.retrieve("what did they see up there?", {
      access: { labels: [] },
      k: 5,
      transform: { rewrite: true, multiQuery: 2, decompose: true, hyde: true },
    });
    expect(r.queries.map((q) => [q.kind, q.text])).toEqual([
      ["original", "what did they see up there?"],
      ["rewrite", "telescope observations of a galaxy"],
      ["multi-query", "nebula redshift"],
      ["multi-query", "comet orbit"],
      ["sub-question", "what is a galaxy"],
      ["sub-question", "what is an orbit"],
      ["hyde", "The telescope observed a stellar nebula and a comet in orbit."],
    ]);
    expect(r.queries.at(-1)!.searched).toEqual(["vector"]);
    expect(fake.chatRequests()).toHaveLength(4);
    expect(r.results[0]!.chunk.metadata.topic).toBe("astronomy");
    const noLlm = new Retriever({ collection: retriever.collection, embedder });
    await expect(noLlm.retrieve("x", { access: { labels: [] }, transform: { hyde: true } })).rejects.toMatchObject({
      code: "PROVIDER_NOT_CONFIGURED",
    });
  });

  it("refuses an overlong query and a mismatched embedder", async () => {
    await expect(retriever.retrieve("x".repeat(9000), { access: { labels: [] } })).rejects.toThrow(
      /over the 8000 limit/,
    );
    const other = new LsaEmbedder({ dimensions: 4 }).fit(["a b c", "c d e", "e f g"]);
    expect(() => new Retriever({ collection: retriever.collection, embedder: other })).toThrow(/was built with/);
  });
});

describe("rerankers", () => {
  const cands: RerankCandidate[] = [
    { id: "x", text: "Cats sleep a lot." },
    { id: "y", text: "Rockets need fuel to reach orbit." },
    { id: "z", text: "Orbit insertion burns use rocket fuel efficiently." },
  ];

  it("call a Cohere/Jina-style rerank endpoint", async () => {
    const seen: any[] = [];
    const server: Server = createServer((req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        seen.push({ auth: req.headers.authorization, body: JSON.parse(body) });
        if (req.url === "/bad") {
          res.writeHead(401, { "content-type": "application/json" });
          return res.end('{"message":"invalid api token"}');
        }
        res.writeHead(200, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            results: [
              { index: 2, relevance_score: 0.9 },
              { index: 1, relevance_score: 0.7 },
              { index: 0, relevance_score: 0.01 },
            ],
          }),
        );
      });
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      const rr = new HttpReranker({ url: `${url}/v2/rerank`, model: "rerank-v3.5", apiKey: "k" });
      const out = await rr.rerank("rocket fuel for orbit", cands, { topN: 3 });
      expect(out.map((o) => o.id)).toEqual(["z", "y", "x"]);
      expect(seen[0]).toEqual({
        auth: "Bearer k",
        body: { model: "rerank-v3.5", query: "rocket fuel for orbit", documents: cands.map((c) => c.text), top_n: 3 },
      });
      await expect(new HttpReranker({ url: `${url}/bad`, model: "m" }).rerank("q", cands)).rejects.toMatchObject({
        code: "UNAUTHORIZED",
      });
    } finally {
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it("rank listwise with an LLM in sliding windows", async () => {
    const fake = await startFakeOpenAI({ onUnscripted: "error" });
    try {
      const llm = createLlm("openai:gpt-4o-mini", { apiKey: "t", baseURL: fake.url, retry: { maxRetries: 0 } });
      // Window of 2 over 3 candidates: the bottom pair first, then the top pair.
      fake.script.chat([{ content: '{"ranking":[2,1]}' }, { content: '{"ranking":[2,7]}' }]);
      const out = await new LlmListwiseReranker(llm, { window: 2, step: 1 }).rerank("rocket fuel", cands);
      // [x, y, z] → bottom window [y, z] becomes [z, y] → top window [x, z] becomes [z, x] (7 ignored).
      expect(out.map((o) => o.id)).toEqual(["z", "x", "y"]);
      const prompts = fake.chatRequests().map((b) => JSON.stringify(b.messages));
      expect(prompts[0]).toContain("[1] Rockets need fuel");
      expect(prompts[1]).toContain("[1] Cats sleep");
    } finally {
      await fake.close();
    }
  });

  it("fits the lexical reranker's weights to labelled queries", async () => {
    // Relevant candidates cover the query terms; the first-stage order is misleading.
    const mk = (
      q: string,
      rel: string,
      noise: string[],
    ): { query: string; candidates: RerankCandidate[]; relevant: Set<string> } => ({
      query: q,
      candidates: [
        ...noise.map((t, i) => ({ id: `n${i}`, text: t, signals: { fusedScore: 1 - i * 0.1, fusedRank: i + 1 } })),
        { id: "r", text: rel, signals: { fusedScore: 0.3, fusedRank: noise.length + 1 } },
      ],
      relevant: new Set(["r"]),
    });
    const examples = [
      mk("solar panel efficiency", "Solar panel efficiency rose in tests.", [
        "Wind farms",
        "Hydro dams",
        "Panel discussion about art",
      ]),
      mk("protein folding speed", "The speed of protein folding was measured.", [
        "Protein bars",
        "Fast cars",
        "Folding chairs",
      ]),
      mk("river flood risk", "Flood risk along the river is high.", ["River cruises", "Risk of rain", "Forest fires"]),
    ];
    // Start from "trust the first stage only", which ranks the relevant candidate last.
    const rr = new LexicalReranker({
      fused: 1,
      bm25: 0,
      vector: 0,
      coverage: 0,
      idfCoverage: 0,
      bigrams: 0,
      proximity: 0,
      title: 0,
    });
    const before = await rr.rerank(examples[0]!.query, examples[0]!.candidates);
    const loss = rr.fit(examples, { epochs: 300 });
    expect(loss).toBeLessThan(0.3);
    expect(rr.weights.coverage).toBeGreaterThan(0.2);
    const test = mk("glacier melt rate", "The melt rate of the glacier doubled.", [
      "Glacier tours",
      "Rate cards",
      "Ice cream melt",
    ]);
    const after = await rr.rerank(test.query, test.candidates);
    expect(after[0]!.id).toBe("r");
    expect(before.at(-1)!.id).toBe("r");
  });
});

describe("packContext", () => {
  const items = [
    {
      id: "a",
      text: "Alpacas are domesticated camelids from South America, kept for their soft fibre.",
      title: "Alpacas",
      uri: "kb://a",
    },
    {
      id: "a2",
      text: "Alpacas are domesticated camelids from South America, kept for their soft fibre!",
      title: "Alpacas (copy)",
    },
    { id: "b", text: "Llamas are larger than alpacas and are used as pack animals in the Andes.", title: "Llamas" },
    { id: "c", text: "Vicuñas are wild relatives. ".repeat(40), title: "Vicuñas" },
  ];

  it("packs under the budget with markers, dropping duplicates and what does not fit", () => {
    const p = packContext(items, { budgetTokens: 120, query: "What are alpacas?" });
    expect(p.included.map((i) => [i.id, i.marker])).toEqual([
      ["a", 1],
      ["b", 2],
    ]);
    expect(p.dropped).toEqual([
      { id: "a2", reason: "duplicate", duplicateOf: "a" },
      { id: "c", reason: "budget" },
    ]);
    expect(p.text).toMatch(/^\[1\] Alpacas \(kb:\/\/a\)\nAlpacas are/);
    expect(p.tokens + countTokens("What are alpacas?")).toBeLessThanOrEqual(120);
  });

  it("truncates the first item that does not fit when asked, and refuses a query over the budget", () => {
    const p = packContext(items, { budgetTokens: 120, truncate: true });
    const c = p.included.find((i) => i.id === "c")!;
    expect(c.truncated).toBe(true);
    expect(p.tokens).toBeLessThanOrEqual(120);
    expect(() =>
      packContext(items, { budgetTokens: 5, query: "a question that is far too long for this budget" }),
    ).toThrow(/over the 5-token context budget/);
  });
});

describe("documents with access labels", () => {
  it("are created with labels that the index can match", () => {
    const d = createDocument({
      source: { kind: "inline", name: "x", uri: "x", key: "1" },
      content: "x",
      access: ["team:a"],
    });
    expect(d.access).toEqual(["team:a"]);
  });
});
