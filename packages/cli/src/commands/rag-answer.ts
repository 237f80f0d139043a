import { resolve } from "node:path";
import type { Store } from "@quintet/core";
import type { Chunker, Collection, Document, RagIndex, Source, SyncEvent, SyncReport } from "@quintet/rag";
import { type Command, InvalidArgumentError } from "commander";
import type { CliContext } from "../context.js";
import { EXIT, UsageError } from "../exit-codes.js";
import { ragCommand } from "./rag.js";

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

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
/** `90s`, `15m`, `6h`, `7d`, `2w` → milliseconds. */
const duration = (what: string) => (v: string) => {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$/.exec(v.trim());
  if (!m || Number(m[1]) <= 0) throw new InvalidArgumentError(`${what} must be a duration like 30m, 6h or 7d`);
  return Math.round(Number(m[1]) * UNITS[m[2]!]!);
};

/**
 * Rebuilds the chunker a collection was ingested with from the name stored with it
 * (`structure:512/64`, `recursive:512/64`, `sentence-window:2`, `parent-child:<parent>/<child tokens>`),
 * so synced documents are cut the same way as ingested ones.
 */
export async function chunkerFromName(name: string): Promise<Chunker> {
  const rag = await import("@quintet/rag");
  const tokens = /^(structure|recursive):(\d+)\/(\d+)$/.exec(name);
  if (tokens) {
    const o = { chunkTokens: Number(tokens[2]), overlapTokens: Number(tokens[3]) };
    return tokens[1] === "structure" ? new rag.StructureChunker(o) : new rag.RecursiveChunker(o);
  }
  const sentence = /^sentence-window:(\d+)$/.exec(name);
  if (sentence) return new rag.SentenceWindowChunker({ window: Number(sentence[1]) });
  const pc = /^parent-child:(.+)\/(\d+)$/.exec(name);
  if (pc) {
    const parent = await chunkerFromName(pc[1]!);
    return new rag.ParentChildChunker({ parent, childTokens: Number(pc[2]), childOverlapTokens: 16 });
  }
  if (name === "") return new rag.StructureChunker({ chunkTokens: 512, overlapTokens: 64 });
  throw new UsageError(
    `cannot rebuild the chunker "${name}" this collection was made with`,
    "Sync into a collection made by `quintet rag ingest` or `quintet rag sync` (structure, recursive, sentence or parent-child chunkers).",
  );
}

interface AskOpts {
  collection: string;
  k: number;
  as?: string[];
  all?: boolean;
  model?: string;
  budget: number;
  halfLife?: number;
  judge?: boolean;
}

interface SyncOpts {
  collection: string;
  source?: string;
  name?: string;
  every?: number;
  ttl?: number;
  access?: string[];
  allowPrivate?: boolean;
  maxPages?: number;
  maxDepth?: number;
  delay?: number;
  due?: boolean;
}

async function openCollection(
  ctx: CliContext,
  index: RagIndex,
  name: string,
  store: Store,
): Promise<{ collection: Collection; embedder: import("@quintet/llm").Embedder }> {
  const rag = await import("@quintet/rag");
  const collection = await index.open(name);
  const embedder = rag.embedderFor(index, collection, { env: ctx.env, store });
  return { collection, embedder };
}

const fmtTime = (t: number) => new Date(t).toISOString().replace("T", " ").slice(0, 16);

async function ask(ctx: CliContext, question: string, opts: AskOpts): Promise<void> {
  if (!question.trim())
    throw new UsageError("the question is empty", 'Ask something, e.g. quintet rag ask "How do refunds work?"');
  const config = await ctx.loadConfig();
  const rag = await import("@quintet/rag");
  const { startTracing } = await import("@quintet/core");
  const uri = opts.model ?? config.llm.default;
  let llm: import("@quintet/llm").LlmClient | undefined;
  if (uri) {
    const { createLlm, parseModelUri } = await import("@quintet/llm");
    if (opts.model !== undefined) {
      try {
        parseModelUri(opts.model);
      } catch (err) {
        const e = err as { message: string; hint?: string };
        throw new UsageError(e.message, e.hint);
      }
    }
    llm = createLlm(uri, { env: ctx.env });
  } else {
    ctx.out.status(
      ctx.out.c.yellow(
        "No language model is configured (QUINTET_LLM is not set): this is an extractive answer quoting the sources. Set QUINTET_LLM=openai:gpt-4o-mini (or ollama:qwen2.5, llama:./model.gguf) for a generated one.",
      ),
    );
  }
  const store = await ctx.openStore(config);
  const index = await rag.RagIndex.open({ home: config.home });
  const tracing = await startTracing(store);
  try {
    const { collection, embedder } = await openCollection(ctx, index, opts.collection, store);
    const retriever = new rag.Retriever({ collection, embedder });
    const ttl = (await new rag.SyncState(store).sources(opts.collection))
      .filter((s) => s.ttlMs)
      .map((s) => ({ source: s.name, ttlMs: s.ttlMs! }));
    const r = await rag.answerQuestion(question, {
      retriever,
      access: opts.all ? { all: true } : { labels: opts.as ?? [] },
      k: opts.k,
      budgetTokens: opts.budget,
      ...(ttl.length ? { ttl } : {}),
      ...(opts.halfLife ? { recency: { halfLifeMs: opts.halfLife } } : {}),
      ...(llm ? { llm, ...(opts.judge ? { judge: true } : {}) } : {}),
    });
    const c = ctx.out.c;
    ctx.out.result(
      {
        question: r.question,
        answer: r.answer,
        mode: r.mode,
        abstained: r.abstained,
        ...(r.draft ? { draft: r.draft } : {}),
        sources: r.sources,
        verdicts: r.verdicts,
        reasons: r.reasons,
        conflicts: r.conflicts,
        resolutions: r.resolutions,
        ...(r.model ? { model: r.model } : {}),
        ...(r.usage ? { usage: r.usage } : {}),
        ...(r.costUsd !== undefined ? { costUsd: r.costUsd } : {}),
        collection: opts.collection,
      },
      (out) => {
        const lines = [out.answer, ""];
        if (out.sources.length) {
          lines.push(c.bold("Sources"));
          for (const s of out.sources) {
            const where = s.uri && s.uri !== s.title ? ` — ${s.uri}` : "";
            const when = s.kind === "live" && s.timestamp ? ` (live, as of ${fmtTime(s.timestamp)})` : "";
            const line = `[${s.marker}] ${s.title}${where} · ${s.source}${when}`;
            lines.push(s.cited ? line : c.dim(`${line} (not cited)`));
            for (const d of s.provenance?.disagreements ?? [])
              lines.push(
                c.yellow(
                  `    disagrees with ${d.otherSource} on "${d.subject}": ${d.mine} vs ${d.theirs} (${d.outcome}${d.rule !== "unresolved" ? ` by ${d.rule}` : ""})`,
                ),
              );
            if (s.provenance?.agreedBy.length)
              lines.push(c.dim(`    also stated by ${s.provenance.agreedBy.join(", ")}`));
          }
          lines.push("");
        }
        const v = out.verdicts;
        const verdict = (g: { passed: boolean; score: number }) => (g.passed ? c.green("passed") : c.red("failed"));
        lines.push(
          c.dim(
            `${out.mode === "llm" ? `generated by ${out.model}` : "extractive (no LLM)"} · citations ${verdict(v.citations)} (validity ${v.citations.score.toFixed(2)}) · evidence ${verdict(v.abstention)}${out.abstained ? " · abstained" : ""}`,
          ),
        );
        for (const reason of [...out.reasons, ...v.citations.reasons]) lines.push(c.dim(`  - ${reason}`));
        return lines.join("\n");
      },
    );
  } finally {
    await (llm as { close?: () => Promise<void> } | undefined)?.close?.();
    await tracing.shutdown();
    index.close();
    await store.close();
  }
}

/** A source that replays documents already read (a new collection is fitted on them first, then synced without reading twice). */
function replay(source: Source, docs: Document[], warnings: import("@quintet/rag").SourceWarning[]): Source {
  return {
    kind: source.kind,
    name: source.name,
    async *load(o) {
      for (const w of warnings) o?.onWarning?.(w);
      yield* docs;
    },
  };
}

async function sync(ctx: CliContext, target: string | undefined, opts: SyncOpts): Promise<void> {
  const config = await ctx.loadConfig();
  const rag = await import("@quintet/rag");
  const llm = await import("@quintet/llm");
  const store = await ctx.openStore(config);
  const index = await rag.RagIndex.open({ home: config.home });
  const c = ctx.out.c;
  const state = new rag.SyncState(store);
  let pending: { name: string; spec: import("@quintet/rag").SourceSpec } | undefined;
  try {
    const names: string[] = [];
    if (target) {
      const isUrl = /^https?:\/\//i.test(target);
      const spec: import("@quintet/rag").SourceSpec = isUrl
        ? {
            kind: "crawl",
            options: {
              seeds: [target],
              ...(opts.name ? { name: opts.name } : {}),
              ...(opts.access ? { access: opts.access } : {}),
              ...(opts.allowPrivate ? { allowPrivate: true } : {}),
              ...(opts.maxPages ? { maxPages: opts.maxPages } : {}),
              ...(opts.maxDepth !== undefined ? { maxDepth: opts.maxDepth } : {}),
              ...(opts.delay !== undefined ? { minDelayMs: opts.delay } : {}),
            },
          }
        : {
            kind: "files",
            options: {
              path: resolve(ctx.cwd, target),
              ...(opts.name ? { name: opts.name } : {}),
              ...(opts.access ? { access: opts.access } : {}),
            },
          };
      // Built here so bad options fail at once; registered only after its first sync worked.
      const source = rag.sourceFromSpec(spec, { store, cwd: ctx.cwd });
      pending = { name: source.name, spec };
      names.push(source.name);
    } else {
      const registered = await state.sources(opts.collection);
      if (registered.length === 0) {
        throw new UsageError(
          `no sources are registered for collection "${opts.collection}"`,
          "Register one by syncing it once: quintet rag sync ./docs (or an http(s) URL to crawl).",
        );
      }
      if (opts.source) {
        if (!registered.some((s) => s.name === opts.source)) {
          throw new UsageError(
            `no source "${opts.source}" is registered for collection "${opts.collection}"`,
            `Registered: ${registered.map((s) => s.name).join(", ")}.`,
          );
        }
        names.push(opts.source);
      } else if (opts.due) {
        // For cron: only sources with an interval whose next run has come.
        const now = Date.now();
        names.push(...registered.filter((s) => s.nextRunAt !== null && s.nextRunAt <= now).map((s) => s.name));
        if (names.length === 0) ctx.out.status(c.dim(`no source of "${opts.collection}" is due`));
      } else names.push(...registered.map((s) => s.name));
    }

    const reports: SyncReport[] = [];
    const failed: Array<{ source: string; error: string }> = [];
    for (const name of names) {
      const reg =
        pending?.name === name
          ? { spec: pending.spec, ttlMs: opts.ttl ?? null, intervalMs: opts.every ?? null }
          : (await state.sources(opts.collection)).find((s) => s.name === name)!;
      try {
        reports.push(await syncOne(name, reg));
      } catch (err) {
        // With several registered sources, one failing does not stop the others.
        if (pending || names.length === 1) throw err;
        const { formatError } = await import("@quintet/core");
        ctx.out.error(c.red(`✗ ${name}: ${formatError(err)}`));
        failed.push({ source: name, error: (err as Error).message });
      }
    }
    if (pending) {
      await state.registerSource(opts.collection, pending.name, pending.spec, {
        intervalMs: opts.every ?? null,
        ttlMs: opts.ttl ?? null,
        now: Date.now(),
      });
      // It was just synced: the scheduler's first run is an interval from now.
      if (opts.every) await state.setNextRun(opts.collection, pending.name, Date.now() + opts.every);
      ctx.out.status(
        c.dim(
          `registered source "${pending.name}" (${pending.spec.kind}) for collection "${opts.collection}"${opts.every ? `, re-synced every ${opts.every / 60_000} min by the scheduler` : ""}${opts.ttl ? `, TTL ${opts.ttl / 3_600_000} h` : ""}`,
        ),
      );
    }
    if (failed.length) ctx.setExitCode(EXIT.FAILURE);
    ctx.out.result(
      {
        collection: opts.collection,
        syncs: reports.map(({ warningList, durationMs, ...r }) => ({
          ...r,
          warnings: warningList,
          seconds: Number((durationMs / 1000).toFixed(2)),
        })),
        ...(failed.length ? { failed } : {}),
      },
      (out) =>
        out.syncs
          .map(
            (r) =>
              `${c.green("✓")} ${r.source} → ${out.collection}: ${r.added} added, ${r.changed} changed, ${r.deleted} deleted, ${r.unchanged} unchanged${r.kept ? `, ${r.kept} kept` : ""} · ${r.seconds}s ${c.dim(`(${r.runId})`)}`,
          )
          .join("\n"),
    );
  } finally {
    index.close();
    await store.close();
  }

  async function syncOne(
    name: string,
    reg: { spec: unknown; ttlMs: number | null; intervalMs: number | null },
  ): Promise<SyncReport> {
    let source: Source = rag.sourceFromSpec(reg.spec, { store, cwd: ctx.cwd });
    let collection: Collection;
    let embedder: import("@quintet/llm").Embedder;
    let chunker: Chunker;
    if (await index.has(opts.collection)) {
      ({ collection, embedder } = await openCollection(ctx, index, opts.collection, store));
      chunker = await chunkerFromName(collection.meta.chunker);
    } else {
      // A new collection: read the source once, fit LSA on it, then sync from what was read.
      const spinner = await ctx.out.spinner(`Reading ${name}`);
      const docs: Document[] = [];
      const warnings: import("@quintet/rag").SourceWarning[] = [];
      try {
        for await (const d of source.load({ onWarning: (w) => warnings.push(w) })) {
          docs.push(d);
          spinner.text(`Reading ${name}: ${docs.length} document(s)`);
        }
      } catch (err) {
        spinner.fail();
        throw err;
      }
      chunker = new rag.StructureChunker({ chunkTokens: 512, overlapTokens: 64 });
      const texts: string[] = [];
      for (const d of docs) for (const ch of await chunker.chunk(d)) if (ch.kind === "chunk") texts.push(ch.text);
      if (texts.length < 2) {
        spinner.fail();
        throw new UsageError(
          `${name} has ${texts.length} chunk(s) of text; a new collection needs at least 2 to fit its embeddings`,
          "Add documents, or create the collection with quintet rag ingest first.",
        );
      }
      const lsa = new llm.LsaEmbedder({
        dimensions: 256,
        minDf: texts.length > 1000 ? 2 : 1,
        powerIterations: 2,
      }).fit(texts);
      spinner.succeed(`Fitted LSA embeddings (${lsa.dimensions} dims) on ${texts.length} chunks of ${name}`);
      collection = await index.create(opts.collection, {
        dimensions: lsa.dimensions!,
        embedderId: lsa.id,
        chunker: chunker.name,
      });
      rag.saveLsaModel(index, opts.collection, lsa);
      embedder = lsa;
      source = replay(source, docs, warnings);
    }
    const mark: Record<SyncEvent["change"], string> = {
      added: c.green("+ added  "),
      changed: c.cyan("~ changed"),
      deleted: c.red("- deleted"),
      kept: c.yellow("= kept   "),
    };
    const report = await rag.syncSource({
      store,
      collection,
      embedder,
      chunker,
      source,
      ...(reg.ttlMs ? { ttlMs: reg.ttlMs } : {}),
      onEvent: (e) =>
        ctx.out.status(`${mark[e.change]} ${e.key}${e.change === "kept" ? c.dim(" (unreadable this time)") : ""}`),
      onWarning: (w) => ctx.out.status(c.yellow(`  warning ${w.key}: ${w.message}`)),
    });
    if (reg.intervalMs) await state.setNextRun(opts.collection, name, Date.now() + reg.intervalMs);
    return report;
  }
}

/** `quintet rag ask` and `quintet rag sync`, added to the `rag` command that rag.ts creates. */
export function register(program: Command, ctx: CliContext): void {
  const rag = ragCommand(program);

  rag
    .command("ask")
    .argument("<question>", "what to answer")
    .description(
      "Answer a question from a collection with cited sources and a guard verdict (extractive without an LLM)",
    )
    .option("-c, --collection <name>", "collection to answer from", "default")
    .option("-k, --k <n>", "passages to answer from", positiveInt("passages"), 6)
    .option("--as <labels>", "answer as a principal holding these access labels (comma-separated)", labelList)
    .option("--all", "ignore access labels (trusted operator use)")
    .option("-m, --model <uri>", "model to generate with (default QUINTET_LLM / llm.default)")
    .option("--budget <tokens>", "context budget in tokens", positiveInt("tokens"), 3000)
    .option(
      "--half-life <duration>",
      "prefer recent content: relevance blended with age decay, e.g. 30d",
      duration("--half-life"),
    )
    .option("--judge", "let the model judge borderline citations too (costs extra calls)")
    .addHelpText(
      "after",
      '\nWithout a model (QUINTET_LLM unset) the answer quotes the best-supported sentences, each cited.\n\nExamples:\n  quintet rag ask "How long are backups kept?"\n  QUINTET_LLM=openai:gpt-4o-mini quintet rag ask "What does the Pro plan cost?" --as team:sales --json',
    )
    .action((question: string, opts: AskOpts) => ask(ctx, question, opts));

  rag
    .command("sync")
    .argument("[source]", "a folder, file or http(s) URL to register and sync (default: the registered sources)")
    .description(
      "Sync sources into a collection: add new, re-index changed, delete removed documents (with tombstones)",
    )
    .option("-c, --collection <name>", "collection to sync into", "default")
    .option("--source <name>", "sync only this registered source")
    .option("--due", "sync only registered sources whose --every interval has come (run it from cron)")
    .option("--name <source-name>", "name to register the source under (default: folder name or host)")
    .option("--every <duration>", "re-sync interval for the scheduler, e.g. 6h", duration("--every"))
    .option(
      "--ttl <duration>",
      "documents expire this long after a sync last confirmed them, e.g. 7d",
      duration("--ttl"),
    )
    .option("--access <labels>", "access labels for the source's documents (comma-separated)", labelList)
    .option("--allow-private", "allow crawling a private, loopback or link-local address")
    .option("--max-pages <n>", "crawl at most this many pages", positiveInt("pages"))
    .option("--max-depth <n>", "follow links this many hops from the start page", (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number of hops");
      return n;
    })
    .option("--delay <ms>", "least time between two requests to one host when crawling (default 1000)", (v) => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number of milliseconds");
      return n;
    })
    .addHelpText(
      "after",
      "\nExamples:\n  quintet rag sync ./handbook --every 6h --ttl 30d\n  quintet rag sync https://docs.example.com/ --max-pages 200\n  quintet rag sync                 # every registered source\n  quintet rag sync --source handbook --json",
    )
    .action((target: string | undefined, opts: SyncOpts) => {
      if (target && opts.source) throw new UsageError("give either a source to register or --source <name>, not both");
      return sync(ctx, target, opts);
    });
}
