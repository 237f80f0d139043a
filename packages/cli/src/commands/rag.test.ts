import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";

const main = fileURLToPath(new URL("../main.ts", import.meta.url));
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
const root = mkdtempSync(join(tmpdir(), "quintet-cli-rag-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function quintet(
  args: string[],
  env: NodeJS.ProcessEnv = {},
): Promise<{ code: number | null; out: string; err: string }> {
  const clean: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env))
    if (!k.startsWith("QUINTET_") && !k.endsWith("_API_KEY")) clean[k] = v;
  const child = spawn(
    process.execPath,
    ["--conditions=source", "--import", tsx, main, "--home", join(root, ".quintet"), ...args],
    {
      cwd: root,
      env: { ...clean, NO_COLOR: "1", ...env },
      stdio: ["ignore", "pipe", "pipe"],
    },
  );
  let out = "";
  let err = "";
  child.stdout.on("data", (d) => {
    out += d;
  });
  child.stderr.on("data", (d) => {
    err += d;
  });
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, out, err })));
}

const topics: Record<string, string[]> = {
  billing: ["invoice", "refund", "payment", "charge", "receipt", "billing", "card", "subscription"],
  travel: ["flight", "hotel", "luggage", "passport", "visa", "airport", "booking", "itinerary"],
  garden: ["compost", "tomato", "seedling", "pruning", "soil", "watering", "mulch", "greenhouse"],
};
function text(topic: string, seed: number, words = 40): string {
  const v = topics[topic]!;
  return Array.from({ length: words }, (_, i) => (i % 3 === 2 ? "the" : v[(seed * 7 + i * 3) % v.length])).join(" ");
}

describe("quintet rag", () => {
  it("ingests a folder with progress, skips unchanged files on rerun, and searches with access labels", async () => {
    const docs = join(root, "docs");
    const billing = join(root, "billing");
    mkdirSync(docs, { recursive: true });
    mkdirSync(billing, { recursive: true });
    for (let i = 0; i < 6; i++)
      writeFileSync(
        join(docs, `travel-${i}.md`),
        `# Travel ${i}\n\n${text("travel", i)}\n\n## Garden\n\n${text("garden", i, 20)}`,
      );
    for (let i = 0; i < 4; i++) writeFileSync(join(billing, `billing-${i}.txt`), text("billing", i));
    writeFileSync(join(docs, "broken.pdf"), "not a pdf");

    const pub = await quintet(["rag", "ingest", docs, "--chunk-tokens", "64", "--overlap", "8"]);
    expect(pub.code).toBe(0);
    expect(pub.out).toMatch(/default: 6 document\(s\) written/);
    expect(pub.err).toMatch(/skipped broken\.pdf/);
    expect((await quintet(["rag", "ingest", billing])).code).toBe(0);
    // The billing notes again, now restricted to one team: same ids, new labels, so rewritten.
    const restricted = await quintet(["rag", "ingest", billing, "--access", "team:billing", "--json"]);
    expect(restricted.code).toBe(0);
    expect(JSON.parse(restricted.out)).toMatchObject({ collection: "default", documents: 4, written: 4 });
    const again = await quintet(["rag", "ingest", billing, "--access", "team:billing", "--json"]);
    expect(JSON.parse(again.out)).toMatchObject({ written: 0, unchanged: 4 });

    const asPublic = JSON.parse(
      (await quintet(["rag", "search", "invoice refund payment flight", "-k", "5", "--json"])).out,
    );
    expect(asPublic.results.length).toBeGreaterThan(0);
    for (const r of asPublic.results) expect(r.source).not.toMatch(/billing/);
    const asBilling = JSON.parse(
      (await quintet(["rag", "search", "invoice refund payment", "-k", "3", "--as", "team:billing", "--json"])).out,
    );
    expect(asBilling.results[0].source).toMatch(/billing-\d\.txt$/);
    expect(asBilling.results[0].explanation.fused.method).toBe("rrf");
    expect(asBilling.results[0].explanation.bm25.rank).toBeGreaterThanOrEqual(1);

    const human = await quintet(["rag", "search", "compost tomato seedling", "--rerank"]);
    expect(human.code).toBe(0);
    expect(human.out).toMatch(/1\. Travel \d › Travel \d › Garden/);
    expect(human.out).toMatch(/bm25 #\d+ .* · vector #\d+ .* · rrf .* · rerank\[lexical\]/);
  });

  it("fails with a clear message and exit code on bad input", async () => {
    const missing = await quintet(["rag", "ingest", join(root, "nope")]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/error\[NOT_FOUND\]: cannot read .*nope/);
    const noCollection = await quintet(["rag", "search", "x", "-c", "other"]);
    expect(noCollection.err).toMatch(/no collection "other"/);
    const badFilter = await quintet(["rag", "search", "x", "--filter", "{nope"]);
    expect(badFilter.code).toBe(2);
    const noData = await quintet(["rag", "eval"]);
    expect(noData.code).toBe(2);
    expect(noData.err).toMatch(/shared\/data\/beir-scifact/);
  });

  it("evaluates a BEIR folder and writes a report", async () => {
    const ds = join(root, "beir");
    mkdirSync(join(ds, "qrels"), { recursive: true });
    const names = Object.keys(topics);
    const corpus = Array.from({ length: 60 }, (_, i) => ({
      _id: `d${i}`,
      title: `${names[i % 3]} ${i}`,
      text: `${text(names[i % 3]!, i, 30)} unique${i}`,
    }));
    writeFileSync(join(ds, "corpus.jsonl"), `${corpus.map((d) => JSON.stringify(d)).join("\n")}\n`);
    const queries = corpus.slice(0, 20).map((_d, i) => ({ _id: `q${i}`, text: `${names[i % 3]} unique${i}` }));
    writeFileSync(join(ds, "queries.jsonl"), `${queries.map((q) => JSON.stringify(q)).join("\n")}\n`);
    const qrels = (from: number, to: number) =>
      `query-id\tcorpus-id\tscore\n${queries
        .slice(from, to)
        .map((q, i) => `${q._id}\td${from + i}\t1`)
        .join("\n")}\n`;
    writeFileSync(join(ds, "qrels", "train.tsv"), qrels(0, 12));
    writeFileSync(join(ds, "qrels", "test.tsv"), qrels(12, 20));
    const r = await quintet(["rag", "eval", "--dataset", ds, "--json"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.out);
    expect(Object.keys(out.configs)).toEqual([
      "bm25",
      "vector-lsa",
      "hybrid-rrf",
      "hybrid-tuned",
      "hybrid-tuned+rerank",
    ]);
    for (const c of Object.values(out.configs) as Array<Record<string, number>>) {
      for (const m of ["ndcg@10", "recall@100", "mrr@10"]) {
        expect(c[m]).toBeGreaterThanOrEqual(0);
        expect(c[m]).toBeLessThanOrEqual(1);
      }
    }
    // Each query names a unique word of its document: BM25 ranks it first.
    expect(out.configs.bm25["mrr@10"]).toBe(1);
    expect(out.queries).toBe(8);
    expect(existsSync(out.report.markdown)).toBe(true);
    expect(existsSync(out.report.html)).toBe(true);
    const table = await quintet(["rag", "eval", "--dataset", ds, "--configs", "bm25,hybrid-rrf"]);
    expect(table.out).toMatch(/configuration\s+ndcg@10\s+recall@10\s+recall@100\s+mrr@10/);
    expect(table.out).toMatch(/hybrid-rrf\s+\d\.\d{4}/);
  });
});
