import { join, resolve } from "node:path";
import { type Command, InvalidArgumentError } from "commander";
import type { CliContext } from "../context.js";
import { UsageError } from "../exit-codes.js";

const positiveInt = (what: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive whole number of ${what}`);
  return n;
};
const labelList = (v: string) =>
  v
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);

/** The `rag` command group; other files add their subcommands (`ask`, `sync`) to the same parent. */
export function ragCommand(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === "rag") ??
    program.command("rag").description("Retrieval-augmented generation: ingest, search, evaluate")
  );
}

interface IngestOpts {
  collection: string;
  name?: string;
  access?: string[];
  chunker: "structure" | "recursive" | "sentence" | "parent-child";
  chunkTokens: number;
  overlap: number;
  embedder: string;
  dimensions: number;
  allowPrivate?: boolean;
  force?: boolean;
}

interface SearchOpts {
  collection: string;
  k: number;
  mode: "hybrid" | "bm25" | "vector";
  as?: string[];
  all?: boolean;
  rerank?: boolean;
  mmr?: boolean;
  filter?: string;
}

interface EvalOpts {
  dataset?: string;
  split: string;
  configs?: string[];
  maxQueries?: number;
}

export function register(program: Command, ctx: CliContext): void {
  const rag = ragCommand(program);

  rag
    .command("ingest")
    .argument("<source>", "a file, a folder, or an http(s) URL")
    .description(
      "Load, chunk, embed and index documents into a collection (unchanged documents are skipped, so a rerun resumes)",
    )
    .option("-c, --collection <name>", "collection to write to", "default")
    .option("--name <source-name>", "source name used in document ids (default: the folder's name or the URL's host)")
    .option("--access <labels>", "comma-separated access labels for these documents (default: public)", labelList)
    .option("--chunker <kind>", "structure | recursive | sentence | parent-child", "structure")
    .option("--chunk-tokens <n>", "tokens per chunk", positiveInt("tokens"), 512)
    .option("--overlap <n>", "tokens of overlap between chunks", (v) => Number(v), 64)
    .option(
      "--embedder <lsa|uri>",
      "for a new collection: lsa (offline, fitted on these documents) or a model URI such as openai:text-embedding-3-small",
      "lsa",
    )
    .option("--dimensions <n>", "LSA dimensions for a new collection", positiveInt("dimensions"), 256)
    .option("--allow-private", "allow a URL on a private, loopback or link-local address")
    .option("--force", "re-index documents even when unchanged")
    .addHelpText(
      "after",
      "\nExamples:\n  quintet rag ingest ./docs --access team:support\n  quintet rag ingest https://example.com/handbook.html -c handbook",
    )
    .action(async (source: string, opts: IngestOpts) => {
      if (!["structure", "recursive", "sentence", "parent-child"].includes(opts.chunker)) {
        throw new UsageError(
          `unknown chunker "${opts.chunker}"`,
          "Use structure, recursive, sentence or parent-child.",
        );
      }
      if (!Number.isInteger(opts.overlap) || opts.overlap < 0 || opts.overlap >= opts.chunkTokens) {
        throw new UsageError(`--overlap must be a whole number below --chunk-tokens (${opts.chunkTokens})`);
      }
      const config = await ctx.loadConfig();
      const rag = await import("@quintet/rag");
      const llm = await import("@quintet/llm");
      const isUrl = /^https?:\/\//i.test(source);
      const src = isUrl
        ? new rag.UrlSource({
            url: source,
            ...(opts.name ? { name: opts.name } : {}),
            ...(opts.access ? { access: opts.access } : {}),
            allowPrivate: Boolean(opts.allowPrivate),
          })
        : new rag.FileSource({
            path: resolve(ctx.cwd, source),
            ...(opts.name ? { name: opts.name } : {}),
            ...(opts.access ? { access: opts.access } : {}),
          });
      const spinner = await ctx.out.spinner(`Reading ${source}`);
      const docs: import("@quintet/rag").Document[] = [];
      const warnings: import("@quintet/rag").SourceWarning[] = [];
      try {
        for await (const d of src.load({ onWarning: (w) => warnings.push(w) })) {
          docs.push(d);
          spinner.text(`Reading ${source}: ${docs.length} document(s)`);
        }
      } catch (err) {
        spinner.fail();
        throw err;
      }
      spinner.stop();
      for (const w of warnings) ctx.out.status(ctx.out.c.yellow(`skipped ${w.key}: ${w.message}`));
      if (docs.length === 0) {
        throw new UsageError(
          `no documents found in ${source}`,
          "Point at a file or folder with txt, md, html, pdf, csv, json or jsonl files.",
        );
      }
      const base = { chunkTokens: opts.chunkTokens, overlapTokens: opts.overlap };
      const chunker =
        opts.chunker === "recursive"
          ? new rag.RecursiveChunker(base)
          : opts.chunker === "sentence"
            ? new rag.SentenceWindowChunker({})
            : opts.chunker === "parent-child"
              ? new rag.ParentChildChunker({
                  parent: new rag.StructureChunker({ ...base, chunkTokens: Math.max(opts.chunkTokens, 1024) }),
                  childTokens: 128,
                  childOverlapTokens: 16,
                })
              : new rag.StructureChunker(base);
      const index = await rag.RagIndex.open({ home: config.home });
      let store: import("@quintet/core").Store | undefined;
      try {
        let collection: import("@quintet/rag").Collection;
        let embedder: import("@quintet/llm").Embedder;
        if (await index.has(opts.collection)) {
          collection = await index.open(opts.collection);
          if (!collection.meta.embedderId.startsWith("lsa-tfidf:")) store = await ctx.openStore(config);
          embedder = rag.embedderFor(index, collection, { env: ctx.env, ...(store ? { store } : {}) });
        } else if (opts.embedder === "lsa") {
          const fit = await ctx.out.spinner("Fitting LSA embeddings on the documents");
          const texts: string[] = [];
          for (const d of docs) for (const c of await chunker.chunk(d)) if (c.kind === "chunk") texts.push(c.text);
          if (texts.length < 2) {
            fit.fail();
            throw new UsageError(
              "LSA needs at least 2 chunks to fit on",
              "Ingest more text, or use --embedder openai:text-embedding-3-small.",
            );
          }
          const lsa = new llm.LsaEmbedder({
            dimensions: opts.dimensions,
            minDf: texts.length > 1000 ? 2 : 1,
            powerIterations: 2,
          }).fit(texts);
          fit.succeed(`Fitted LSA embeddings (${lsa.dimensions} dims) on ${texts.length} chunks`);
          collection = await index.create(opts.collection, {
            dimensions: lsa.dimensions!,
            embedderId: lsa.id,
            chunker: chunker.name,
          });
          rag.saveLsaModel(index, opts.collection, lsa);
          embedder = lsa;
        } else {
          store = await ctx.openStore(config);
          const provider = new llm.ProviderEmbedder(llm.createLlm(opts.embedder, { env: ctx.env }), {
            normalize: true,
            store,
          });
          const [probe] = await provider.embed([docs[0]!.title || docs[0]!.content.slice(0, 200) || "probe"]);
          collection = await index.create(opts.collection, {
            dimensions: probe!.length,
            embedderId: provider.id,
            chunker: chunker.name,
          });
          embedder = provider;
        }
        const bar = await ctx.out.progress("Ingesting", docs.length);
        const report = await rag.ingestDocuments(docs, {
          collection,
          embedder,
          chunker,
          force: Boolean(opts.force),
          onProgress: (p) => bar.update(p.documents, `${p.written} written, ${p.unchanged} unchanged`),
        });
        bar.stop();
        const result = {
          collection: opts.collection,
          documents: report.documents,
          written: report.written,
          unchanged: report.unchanged,
          chunks: report.chunks,
          skippedFiles: warnings.length,
          version: await collection.version(),
          rows: await collection.count(),
          seconds: Number((report.durationMs / 1000).toFixed(2)),
        };
        ctx.out.result(
          result,
          (r) =>
            `${ctx.out.c.green("✓")} ${r.collection}: ${r.written} document(s) written (${r.chunks} chunks), ${r.unchanged} unchanged` +
            `${r.skippedFiles ? `, ${r.skippedFiles} file(s) skipped` : ""} · version ${r.version}, ${r.rows} rows · ${r.seconds}s`,
        );
      } finally {
        index.close();
        await store?.close();
      }
    });

  rag
    .command("search")
    .argument("<query>", "what to look for")
    .description("Hybrid search (BM25 + vectors) with an explanation for each result")
    .option("-c, --collection <name>", "collection to search", "default")
    .option("-k, --k <n>", "results", positiveInt("results"), 5)
    .option("--mode <mode>", "hybrid | bm25 | vector", "hybrid")
    .option(
      "--as <labels>",
      "search as a principal holding these access labels (comma-separated; public is implied)",
      labelList,
    )
    .option("--all", "ignore access labels (trusted operator use)")
    .option("--rerank", "rerank with the local lexical reranker")
    .option("--mmr", "diversify with maximal marginal relevance")
    .option("--filter <json>", 'metadata filter, e.g. \'{"sourceName":"docs","updatedAt":{"$gte":1700000000000}}\'')
    .addHelpText(
      "after",
      '\nWithout --as or --all only public documents are searched.\n\nExamples:\n  quintet rag search "how do I reset my password" --as team:support\n  quintet rag search refunds -k 10 --mode bm25 --json',
    )
    .action(async (query: string, opts: SearchOpts) => {
      if (!["hybrid", "bm25", "vector"].includes(opts.mode))
        throw new UsageError(`unknown mode "${opts.mode}"`, "Use hybrid, bm25 or vector.");
      let filter: import("@quintet/rag").Filter | undefined;
      if (opts.filter) {
        try {
          filter = JSON.parse(opts.filter);
        } catch {
          throw new UsageError("--filter is not valid JSON", `E.g. --filter '{"sourceName":"docs"}'.`);
        }
      }
      const config = await ctx.loadConfig();
      const rag = await import("@quintet/rag");
      const index = await rag.RagIndex.open({ home: config.home });
      let store: import("@quintet/core").Store | undefined;
      try {
        const collection = await index.open(opts.collection);
        if (!collection.meta.embedderId.startsWith("lsa-tfidf:")) store = await ctx.openStore(config);
        const embedder = rag.embedderFor(index, collection, { env: ctx.env, ...(store ? { store } : {}) });
        const retriever = new rag.Retriever({ collection, embedder, reranker: new rag.LexicalReranker() });
        const r = await retriever.retrieve(query, {
          access: opts.all ? { all: true } : { labels: opts.as ?? [] },
          k: opts.k,
          mode: opts.mode,
          ...(filter ? { filter } : {}),
          ...(opts.rerank ? { rerank: true } : {}),
          ...(opts.mmr ? { mmr: true } : {}),
        });
        const c = ctx.out.c;
        ctx.out.result(
          {
            query,
            collection: opts.collection,
            results: r.results.map((x) => ({
              rank: x.rank,
              score: x.score,
              id: x.chunk.id,
              documentId: x.chunk.documentId,
              title: x.chunk.title,
              source: x.chunk.source.uri,
              headingPath: x.chunk.headingPath,
              text: x.chunk.context ?? x.chunk.content,
              explanation: x.explanation,
            })),
            timings: r.timings,
          },
          (out) =>
            out.results.length === 0
              ? c.yellow(
                  `No results in "${out.collection}"${opts.all || opts.as ? "" : " visible to the public (use --as <labels> or --all)"}.`,
                )
              : out.results
                  .map((x, i) => {
                    const e = r.results[i]!.explanation;
                    const path = x.headingPath.length ? c.dim(` › ${x.headingPath.join(" › ")}`) : "";
                    const snippet = x.text.replace(/\s+/g, " ").slice(0, 240);
                    return `${c.bold(`${x.rank}. ${x.title || x.documentId}`)}${path}\n   ${c.dim(x.source)}\n   ${snippet}${x.text.length > 240 ? "…" : ""}\n   ${c.cyan(rag.formatExplanation(e))}`;
                  })
                  .join("\n\n"),
        );
      } finally {
        index.close();
        await store?.close();
      }
    });

  rag
    .command("eval")
    .description("Evaluate retrieval on a BEIR dataset: every configuration, tuned on train, reported on the split")
    .option(
      "--dataset <dir>",
      "BEIR folder (corpus*.jsonl, queries.jsonl, qrels/); default $QUINTET_DATA_DIR/beir-scifact",
    )
    .option("--split <name>", "qrels split to report on", "test")
    .option(
      "--configs <list>",
      "comma-separated subset of: bm25, vector-lsa, hybrid-rrf, hybrid-tuned, hybrid-tuned+rerank",
      labelList,
    )
    .option("--max-queries <n>", "evaluate only the first n judged queries", positiveInt("queries"))
    .addHelpText(
      "after",
      "\nWrites a markdown, HTML and JSON report to <home>/reports/.\n\nExamples:\n  quintet rag eval --dataset ../shared/data/beir-scifact\n  quintet rag eval --dataset ../shared/data/beir-scifact --json | jq '.configs'",
    )
    .action(async (opts: EvalOpts) => {
      const config = await ctx.loadConfig();
      const dataDir = ctx.env.QUINTET_DATA_DIR ? resolve(ctx.cwd, ctx.env.QUINTET_DATA_DIR) : undefined;
      const dataset = opts.dataset
        ? resolve(ctx.cwd, opts.dataset)
        : dataDir
          ? join(dataDir, "beir-scifact")
          : undefined;
      if (!dataset) {
        throw new UsageError(
          "no dataset given",
          "Pass --dataset <BEIR folder> (the public SciFact copy lives in ../shared/data/beir-scifact), or set QUINTET_DATA_DIR.",
        );
      }
      const rag = await import("@quintet/rag");
      const spinner = await ctx.out.spinner("Loading the dataset");
      const labels: Record<string, string> = {
        load: "Loading the dataset",
        fit: "Fitting LSA embeddings on the corpus",
        ingest: "Indexing the corpus",
        tune: "Tuning fusion and the reranker on train",
        evaluate: "Running the configurations",
      };
      let report: import("@quintet/rag").BeirEvalReport;
      try {
        report = await rag.runBeirEval({
          dataset,
          split: opts.split,
          cacheDir: join(config.home, "rag", "cache"),
          ...(opts.configs ? { configs: opts.configs } : {}),
          ...(opts.maxQueries ? { maxQueries: opts.maxQueries } : {}),
          onProgress: (stage, done, total) => spinner.text(`${labels[stage]}${total > 1 ? ` (${done}/${total})` : ""}`),
        });
      } catch (err) {
        spinner.fail();
        throw err;
      }
      spinner.succeed(
        `Evaluated ${report.configs.length} configuration(s) on ${report.queries} ${report.split} queries`,
      );
      const paths = rag.writeEvalReport(report, join(config.home, "reports"));
      ctx.out.result(
        {
          dataset: report.dataset,
          split: report.split,
          queries: report.queries,
          documents: report.documents,
          configs: Object.fromEntries(
            report.configs.map((c) => [
              c.name,
              {
                "ndcg@10": c.metrics["ndcg@10"],
                "recall@100": c.metrics["recall@100"],
                "mrr@10": c.metrics["mrr@10"],
                "recall@10": c.metrics["recall@10"],
                p50Ms: c.latency.p50,
                p95Ms: c.latency.p95,
                description: c.description,
              },
            ]),
          ),
          ...(report.tuning ? { tuning: report.tuning } : {}),
          report: paths,
        },
        (r) => `${rag.formatEvalTable(report)}\n\n${ctx.out.c.dim(`report: ${r.report.markdown}`)}`,
      );
    });
}
