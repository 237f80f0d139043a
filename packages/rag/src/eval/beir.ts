import { createReadStream, existsSync, readdirSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { createInterface } from "node:readline";
import { NotFoundError, ValidationError } from "@quintet/core";
import { createDocument } from "../documents/create.js";
import type { Document } from "../documents/types.js";

export interface BeirDoc {
  id: string;
  title: string;
  text: string;
}

export interface BeirDataset {
  name: string;
  dir: string;
  corpus: BeirDoc[];
  /** Query id → text (all queries of the file; the split's qrels say which are judged). */
  queries: Map<string, string>;
  /** Query id → (document id → grade) for the split. */
  qrels: Map<string, Map<string, number>>;
  split: string;
}

/** Corpus files of a BEIR folder: `corpus.jsonl`, or shards `corpus*.jsonl` read in name order. */
export function corpusFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((f) => /^corpus.*\.jsonl$/.test(f))
    .sort((a, b) => a.localeCompare(b, "en", { numeric: true }))
    .map((f) => join(dir, f));
}

async function readJsonl(path: string, onRecord: (r: any, line: number) => void): Promise<void> {
  const rl = createInterface({ input: createReadStream(path, "utf8"), crlfDelay: Number.POSITIVE_INFINITY });
  let n = 0;
  for await (const line of rl) {
    n++;
    if (!line.trim()) continue;
    let r: unknown;
    try {
      r = JSON.parse(line);
    } catch (err) {
      throw new ValidationError(`${path} line ${n} is not valid JSON: ${(err as Error).message}`, {
        hint: "BEIR files hold one JSON object per line.",
        cause: err,
      });
    }
    onRecord(r, n);
  }
}

/** Parses a qrels TSV (`query-id corpus-id score`, header optional). */
export function parseQrels(text: string, path = "qrels"): Map<string, Map<string, number>> {
  const out = new Map<string, Map<string, number>>();
  text.split(/\r?\n/).forEach((line, i) => {
    if (!line.trim()) return;
    const cols = line.split("\t").map((c) => c.trim());
    if (i === 0 && /query/i.test(cols[0]!)) return;
    if (cols.length < 3 || !cols[0] || !cols[1] || !Number.isFinite(Number(cols[2]))) {
      throw new ValidationError(
        `${path} line ${i + 1} is not "query-id<TAB>corpus-id<TAB>score": ${JSON.stringify(line.slice(0, 80))}`,
        {
          hint: "Qrels are TSV with three columns.",
        },
      );
    }
    let m = out.get(cols[0]);
    if (!m) out.set(cols[0], (m = new Map()));
    m.set(cols[1], Number(cols[2]));
  });
  return out;
}

/**
 * Loads a BEIR-format dataset folder: the corpus (`corpus.jsonl` or shards `corpus*.jsonl`),
 * `queries.jsonl` and `qrels/<split>.tsv`. Checks that every judged document and query exists.
 */
export async function loadBeir(dir: string, options: { split?: string } = {}): Promise<BeirDataset> {
  const root = resolve(dir);
  const split = options.split ?? "test";
  if (!existsSync(root)) {
    throw new NotFoundError(`no BEIR dataset at ${root}`, {
      hint: "Pass the dataset folder (with corpus*.jsonl, queries.jsonl, qrels/); e.g. ../shared/data/beir-scifact, or set QUINTET_DATA_DIR.",
    });
  }
  const files = corpusFiles(root);
  if (files.length === 0)
    throw new NotFoundError(`${root} has no corpus*.jsonl`, {
      hint: "A BEIR folder holds corpus.jsonl (or corpus.part*.jsonl shards).",
    });
  const qrelsPath = join(root, "qrels", `${split}.tsv`);
  if (!existsSync(qrelsPath)) {
    const have = existsSync(join(root, "qrels"))
      ? readdirSync(join(root, "qrels")).map((f) => f.replace(/\.tsv$/, ""))
      : [];
    throw new NotFoundError(`${root} has no qrels for split "${split}"`, {
      hint: have.length ? `Splits: ${have.join(", ")}.` : "Add qrels/<split>.tsv.",
    });
  }
  const corpus: BeirDoc[] = [];
  const ids = new Set<string>();
  for (const f of files) {
    await readJsonl(f, (r, line) => {
      const id = r?._id === undefined ? undefined : String(r._id);
      if (!id)
        throw new ValidationError(`${f} line ${line} has no _id`, {
          hint: 'Corpus lines look like {"_id", "title", "text"}.',
        });
      if (ids.has(id))
        throw new ValidationError(`document ${id} appears twice (${f} line ${line})`, {
          hint: "Shards must not overlap.",
        });
      ids.add(id);
      corpus.push({
        id,
        title: typeof r.title === "string" ? r.title : "",
        text: typeof r.text === "string" ? r.text : "",
      });
    });
  }
  const queries = new Map<string, string>();
  const qpath = join(root, "queries.jsonl");
  if (!existsSync(qpath))
    throw new NotFoundError(`${root} has no queries.jsonl`, { hint: "Add the BEIR queries file." });
  await readJsonl(qpath, (r) => {
    if (r?._id !== undefined && typeof r.text === "string") queries.set(String(r._id), r.text);
  });
  const qrels = parseQrels(await readFile(qrelsPath, "utf8"), qrelsPath);
  for (const [q, rel] of qrels) {
    if (!queries.has(q))
      throw new ValidationError(`qrels query ${q} is not in queries.jsonl`, { hint: "The dataset is inconsistent." });
    for (const d of rel.keys())
      if (!ids.has(d))
        throw new ValidationError(`qrels document ${d} (query ${q}) is not in the corpus`, {
          hint: "Check all corpus shards are present.",
        });
  }
  return { name: root.split(/[\\/]/).pop()!, dir: root, corpus, queries, qrels, split };
}

/** BEIR documents as Quintet documents: content is title and text (as BEIR scores them), key the BEIR id. */
export function beirDocuments(ds: Pick<BeirDataset, "corpus" | "name">): Document[] {
  return ds.corpus.map((d) =>
    createDocument({
      source: { kind: "inline", name: ds.name, uri: `beir:${ds.name}/${d.id}`, key: d.id },
      title: d.title,
      content: d.title ? `${d.title}\n\n${d.text}` : d.text,
      fetchedAt: 0,
      metadata: { beirId: d.id },
    }),
  );
}
