import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLlm, type FakeOpenAI, LsaEmbedder, startFakeOpenAI } from "@quintet/llm";
import { createDocument, ingestDocuments, RagIndex, RecursiveChunker, Retriever } from "@quintet/rag";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { researcher } from "../teams/roles.js";
import { ragRetriever } from "./retriever.js";

// A real RAG collection (LanceDB in a temp dir) behind the researcher's search tool.
const dir = mkdtempSync(join(tmpdir(), "quintet-agents-rag-"));
let fake: FakeOpenAI;
let retriever: Retriever;
beforeAll(async () => {
  fake = await startFakeOpenAI({ onUnscripted: "error" });
  const doc = (key: string, content: string, access: string[]) =>
    createDocument({
      source: { kind: "inline", name: "handbook", uri: `handbook.md#${key}`, key },
      title: key,
      content,
      fetchedAt: 0,
      access,
    });
  const docs = [
    doc("refunds", "Refunds are paid back within five business days of the return arriving.", ["public"]),
    doc("shipping", "Orders ship from Lisbon every weekday and arrive within three days.", ["public"]),
    doc("payroll", "Refunds of payroll advances are deducted from the next salary.", ["team:finance"]),
  ];
  const embedder = new LsaEmbedder({ dimensions: 4 }).fit(docs.map((d) => d.content));
  const index = await RagIndex.open({ dir });
  const collection = await index.create("kb", { dimensions: embedder.dimensions!, embedderId: embedder.id });
  await ingestDocuments(docs, {
    collection,
    embedder,
    chunker: new RecursiveChunker({ chunkTokens: 100, overlapTokens: 0 }),
  });
  retriever = new Retriever({ collection, embedder });
});
afterAll(async () => {
  await fake.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("ragRetriever", () => {
  it("searches a RAG collection within the principal's access and gives sources to cite", async () => {
    const search = ragRetriever(retriever, { access: { labels: [] } });
    const found = await search("how long do refunds take", { k: 3 });
    expect(found[0]).toMatchObject({
      source: "handbook.md#refunds",
      text: expect.stringContaining("five business days"),
    });
    expect(found.map((p) => p.source)).not.toContain("handbook.md#payroll");
    const finance = await ragRetriever(retriever, { access: { labels: ["team:finance"] } })("refunds payroll", {
      k: 3,
    });
    expect(finance.map((p) => p.source)).toContain("handbook.md#payroll");
  });

  it("backs a researcher that cites what it found", async () => {
    fake.script.chat([
      { toolCalls: [{ name: "search_documents", arguments: { query: "refund time" } }] },
      { content: "Refunds take five business days [handbook.md#refunds]." },
    ]);
    const agent = researcher({
      name: "finder",
      model: createLlm("openai:gpt-4o-mini", { apiKey: "k", baseURL: fake.url, env: {} }),
      retriever: ragRetriever(retriever, { access: { labels: [] } }),
    });
    const r = await agent.run("How long do refunds take?").result;
    expect(r.status).toBe("done");
    const tool = fake.chatRequests()[1].messages.find((m: { role: string }) => m.role === "tool");
    expect(JSON.parse(tool.content).passages[0]).toMatchObject({ n: 1, source: "handbook.md#refunds" });
    expect(fake.chatRequests()[0].messages[0].content).toContain("cite the source of each fact");
  });
});
