import { mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import type {
  AdapterStores,
  DatasetProblem,
  DatasetReport,
  FineTuneClient,
  FineTuneEvent,
  FineTuneJob,
} from "@quintet/llm";
import { type Command, InvalidArgumentError, Option } from "commander";
import type { CliContext } from "../context.js";
import { EXIT, UsageError } from "../exit-codes.js";

function integer(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min) throw new InvalidArgumentError(`${name} must be a whole number >= ${min}`);
    return n;
  };
}

function fraction(v: string): number {
  const n = Number(v);
  if (v.trim() === "" || !(n >= 0 && n < 1))
    throw new InvalidArgumentError("expected a fraction from 0 up to (not including) 1");
  return n;
}

function autoOr(parse: (v: string) => number) {
  return (v: string): number | "auto" => (v === "auto" ? "auto" : parse(v));
}

function positive(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === "" || !(n > 0) || !Number.isFinite(n))
      throw new InvalidArgumentError(`${name} must be a number > 0`);
    return n;
  };
}

function readText(ctx: CliContext, file: string): string {
  const path = resolve(ctx.cwd, file);
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new UsageError(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      "Check the path of the JSONL file.",
    );
  }
}

/** Writes a file whole or not at all, so an interrupted run never leaves half a dataset. */
function writeAtomic(path: string, content: string): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, content);
  renameSync(tmp, path);
}

interface CheckOptions {
  model?: string;
  contextLimit?: number;
  pii?: "warn" | "error" | "ignore";
  minExamples?: number;
}

function checkOptions(o: CheckOptions) {
  return {
    ...(o.model ? { model: o.model } : {}),
    ...(o.contextLimit !== undefined ? { contextLimit: o.contextLimit } : {}),
    ...(o.pii ? { pii: o.pii } : {}),
    ...(o.minExamples !== undefined ? { minExamples: o.minExamples } : {}),
  };
}

function addCheckOptions(cmd: Command): Command {
  return cmd
    .option("--model <name>", "model whose tokenizer counts tokens (default gpt-4o-mini)")
    .option(
      "--context-limit <tokens>",
      "longest example allowed, in tokens (default 65536)",
      integer("--context-limit", 16),
    )
    .addOption(
      new Option(
        "--pii <mode>",
        "what PII in an example is: warn (default), error (example dropped) or ignore",
      ).choices(["warn", "error", "ignore"]),
    )
    .option(
      "--min-examples <n>",
      "fewest valid examples that make a dataset (default 10)",
      integer("--min-examples", 1),
    );
}

const SHOWN_PROBLEMS = 20;

function problemLines(ctx: CliContext, problems: readonly DatasetProblem[]): string[] {
  const { c } = ctx.out;
  const lines = problems.slice(0, SHOWN_PROBLEMS).map((p) => {
    const mark = p.severity === "error" ? c.red("error  ") : c.yellow("warning");
    return `  ${mark} ${p.line === 0 ? "dataset" : `line ${p.line}`}: ${p.message} ${c.dim(`[${p.code}]`)}`;
  });
  if (problems.length > SHOWN_PROBLEMS) lines.push(`  … and ${problems.length - SHOWN_PROBLEMS} more (see --json)`);
  return lines;
}

function summary(r: DatasetReport): string {
  const errors = r.problems.filter((p) => p.severity === "error").length;
  const warnings = r.problems.length - errors;
  return `${r.valid} of ${r.total} lines are valid examples; ${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${
    warnings === 1 ? "" : "s"
  }. Tokens per example: min ${r.tokens.min}, median ${r.tokens.p50}, p95 ${r.tokens.p95}, max ${r.tokens.max}; ${
    r.assistantTokens
  } assistant tokens to learn from per epoch.`;
}

/** The report without the examples themselves (they are in the files). */
function reportJson(r: DatasetReport): Omit<DatasetReport, "examples"> {
  const { examples: _examples, ...rest } = r;
  return rest;
}

async function fineTuneClient(ctx: CliContext): Promise<FineTuneClient> {
  const { FineTuneClient } = await import("@quintet/llm");
  return new FineTuneClient({ env: ctx.env });
}

function jobLines(ctx: CliContext, job: FineTuneJob): string[] {
  const { c } = ctx.out;
  const color =
    job.status === "succeeded" ? c.green : job.status === "failed" || job.status === "cancelled" ? c.red : c.cyan;
  return [
    `${c.bold(job.id)}  ${color(job.status)}  base ${job.model}`,
    ...(job.fineTunedModel ? [`  model:    ${job.fineTunedModel}`] : []),
    ...(job.trainedTokens !== null ? [`  trained:  ${job.trainedTokens} tokens`] : []),
    ...(job.error ? [`  error:    ${job.error.message}${job.error.code ? ` (${job.error.code})` : ""}`] : []),
    `  files:    train ${job.trainingFile}${job.validationFile ? `, validation ${job.validationFile}` : ""}`,
    `  created:  ${new Date(job.createdAt * 1000).toISOString()}${
      job.finishedAt ? `, finished ${new Date(job.finishedAt * 1000).toISOString()}` : ""
    }`,
  ];
}

function eventLine(e: FineTuneEvent): string {
  return `${new Date(e.createdAt * 1000).toISOString().slice(11, 19)} ${e.level === "info" ? "" : `${e.level}: `}${e.message}`;
}

/** Follows a job to its end, events on stderr; the job's failure is the command's failure. */
async function follow(
  ctx: CliContext,
  client: FineTuneClient,
  id: string,
  o: { interval?: number; timeout?: number },
): Promise<{ job: FineTuneJob; events: FineTuneEvent[] }> {
  const events: FineTuneEvent[] = [];
  const job = await client.waitForJob(id, {
    ...(o.interval !== undefined ? { initialIntervalMs: o.interval, maxIntervalMs: Math.max(o.interval, 60_000) } : {}),
    ...(o.timeout !== undefined ? { timeoutMs: o.timeout } : {}),
    onEvent: (e) => {
      events.push(e);
      ctx.out.status(eventLine(e));
    },
  });
  return { job, events };
}

/** The project's store and its artifact store (adapter files live there), closed afterwards. */
async function withAdapterStores<T>(ctx: CliContext, fn: (stores: AdapterStores) => Promise<T>): Promise<T> {
  const config = await ctx.loadConfig();
  const store = await ctx.openStore(config);
  try {
    const { ArtifactStore } = await import("@quintet/core");
    return await fn({ store, artifacts: await ArtifactStore.open({ home: config.home, store }) });
  } finally {
    await store.close();
  }
}

function exitFor(ctx: CliContext, job: FineTuneJob): void {
  if (job.status === "failed" || job.status === "cancelled") ctx.setExitCode(EXIT.FAILURE);
}

export function register(program: Command, ctx: CliContext): void {
  const ft = program
    .command("finetune")
    .description("Prepare chat datasets, run fine-tuning jobs on OpenAI-compatible APIs, register LoRA adapters")
    .addHelpText(
      "after",
      "\nJobs use OPENAI_API_KEY and OPENAI_BASE_URL (any OpenAI-compatible fine-tuning API).\nExit code 1 when a dataset has errors or a job failed or was cancelled.",
    );

  addCheckOptions(
    ft
      .command("prepare")
      .argument("<input>", 'JSONL of chat examples ({"messages": […]}) and/or exported llm.call trace spans')
      .description("Validate, clean and split a dataset into train.jsonl and validation.jsonl")
      .requiredOption("-o, --out <dir>", "folder to write train.jsonl, validation.jsonl and report.json to")
      .option("--validation-fraction <f>", "share held out for validation (default 0.1)", fraction)
      .option("--seed <n>", "seed of the split (default 42)", integer("--seed", 0))
      .option("--strict", "write nothing if any line has an error (default: drop such lines)"),
  )
    .addHelpText(
      "after",
      "\nLines with errors are dropped and listed; warnings (duplicates, PII) are kept and listed.\nNothing is written when the remaining examples do not make a dataset.\n\nExamples:\n  quintet finetune prepare traces.jsonl --out data/ft\n  quintet finetune prepare raw.jsonl --out data/ft --validation-fraction 0.2 --pii error --strict",
    )
    .action(
      async (
        input: string,
        opts: CheckOptions & { out: string; validationFraction?: number; seed?: number; strict?: boolean },
      ) => {
        const text = readText(ctx, input);
        const { prepareDataset, toJsonl } = await import("@quintet/llm");
        const p = prepareDataset(text, {
          ...checkOptions(opts),
          ...(opts.validationFraction !== undefined ? { validationFraction: opts.validationFraction } : {}),
          ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
        });
        const refused = !p.usable || (opts.strict === true && !p.report.ok);
        const out = resolve(ctx.cwd, opts.out);
        const files: Record<string, string> = {};
        if (!refused) {
          mkdirSync(out, { recursive: true });
          files.train = join(out, "train.jsonl");
          writeAtomic(files.train, toJsonl(p.train));
          if (p.validation.length > 0) {
            files.validation = join(out, "validation.jsonl");
            writeAtomic(files.validation, toJsonl(p.validation));
          }
          files.report = join(out, "report.json");
          writeAtomic(
            files.report,
            `${JSON.stringify({ input: p.input, skipped: p.skipped, ...reportJson(p.report) }, null, 2)}\n`,
          );
        }
        const result = {
          written: !refused,
          files,
          train: p.train.length,
          validation: p.validation.length,
          input: p.input,
          skipped: p.skipped,
          report: reportJson(p.report),
        };
        const { c } = ctx.out;
        ctx.out.result(result, (r) =>
          [
            summary(p.report),
            ...(r.input.traceSpans
              ? [`${r.input.traceSpans} trace spans read; ${r.skipped.length} could not become examples.`]
              : []),
            ...problemLines(ctx, p.report.problems),
            ...r.skipped.slice(0, SHOWN_PROBLEMS).map((s) => `  ${c.dim("skipped")} line ${s.line}: ${s.reason}`),
            "",
            r.written
              ? `${c.green("✓")} Wrote ${r.train} training and ${r.validation} validation examples to ${relative(ctx.cwd, out) || "."}/`
              : `${c.red("✗")} Nothing written: ${
                  p.usable ? "--strict and some lines have errors" : "the valid examples do not make a dataset"
                }. Fix the lines above.`,
          ].join("\n"),
        );
        if (refused) ctx.setExitCode(EXIT.FAILURE);
      },
    );

  addCheckOptions(
    ft
      .command("validate")
      .argument("<file>", "chat fine-tuning JSONL file")
      .description("Check a dataset: schema, role order, token length, duplicates, PII, size"),
  )
    .addHelpText(
      "after",
      "\nExit code 0 when the dataset has no errors (warnings allowed), 1 otherwise.\n\nExample:\n  quintet finetune validate data/ft/train.jsonl --context-limit 16384",
    )
    .action(async (file: string, opts: CheckOptions) => {
      const text = readText(ctx, file);
      const { validateDataset } = await import("@quintet/llm");
      const report = validateDataset(text, checkOptions(opts));
      const { c } = ctx.out;
      ctx.out.result({ file: resolve(ctx.cwd, file), ...reportJson(report) }, () =>
        [
          summary(report),
          ...problemLines(ctx, report.problems),
          report.ok ? `${c.green("✓")} Ready to fine-tune.` : `${c.red("✗")} Fix the errors above before submitting.`,
        ].join("\n"),
      );
      if (!report.ok) ctx.setExitCode(EXIT.FAILURE);
    });

  ft.command("submit")
    .argument("<train>", "training JSONL (e.g. from `quintet finetune prepare`)")
    .description("Validate, upload and start a fine-tuning job")
    .requiredOption("-m, --model <base>", "base model to fine-tune, e.g. gpt-4o-mini-2024-07-18")
    .option("--validation <file>", "validation JSONL")
    .option("--suffix <text>", "added to the fine-tuned model's name (up to 64 letters, digits, - and _)")
    .option("--seed <n>", "training seed", integer("--seed", 0))
    .option("--epochs <n|auto>", "training epochs", autoOr(integer("--epochs", 1)))
    .option("--batch-size <n|auto>", "batch size", autoOr(integer("--batch-size", 1)))
    .option(
      "--learning-rate-multiplier <x|auto>",
      "learning rate multiplier",
      autoOr(positive("--learning-rate-multiplier")),
    )
    .option(
      "--context-limit <tokens>",
      "longest example allowed, in tokens (default 65536)",
      integer("--context-limit", 16),
    )
    .option("--wait", "follow the job until it ends, printing its events")
    .option(
      "--interval <ms>",
      "first poll interval with --wait (default 2000, backing off to 60000)",
      integer("--interval", 1),
    )
    .option(
      "--timeout <ms>",
      "stop following after this long with --wait (the job keeps running)",
      integer("--timeout", 1),
    )
    .addHelpText(
      "after",
      "\nThe dataset is validated first; a file with errors is not uploaded.\n\nExamples:\n  quintet finetune submit data/ft/train.jsonl --validation data/ft/validation.jsonl -m gpt-4o-mini-2024-07-18\n  quintet finetune submit train.jsonl -m gpt-4o-mini-2024-07-18 --suffix support --epochs 3 --wait",
    )
    .action(
      async (
        trainFile: string,
        opts: {
          model: string;
          validation?: string;
          suffix?: string;
          seed?: number;
          epochs?: number | "auto";
          batchSize?: number | "auto";
          learningRateMultiplier?: number | "auto";
          contextLimit?: number;
          wait?: boolean;
          interval?: number;
          timeout?: number;
        },
      ) => {
        if (opts.suffix !== undefined && !/^[a-zA-Z0-9_-]{1,64}$/.test(opts.suffix)) {
          throw new UsageError(`invalid --suffix "${opts.suffix}"`, "Use up to 64 letters, digits, - and _.");
        }
        const { validateDataset } = await import("@quintet/llm");
        const { ValidationError } = await import("@quintet/core");
        const check = (file: string, minExamples?: number) => {
          const report = validateDataset(readText(ctx, file), {
            model: opts.model,
            ...(opts.contextLimit !== undefined ? { contextLimit: opts.contextLimit } : {}),
            ...(minExamples !== undefined ? { minExamples } : {}),
          });
          if (!report.ok) {
            const errors = report.problems.filter((p) => p.severity === "error");
            throw new ValidationError(
              `${file} has ${errors.length} error${errors.length === 1 ? "" : "s"}: ${errors
                .slice(0, 3)
                .map((e) => `${e.line === 0 ? "dataset" : `line ${e.line}`}: ${e.message}`)
                .join("; ")}`,
              {
                hint: `Run \`quintet finetune validate ${file}\` to see every problem, or prepare it with \`quintet finetune prepare\`.`,
              },
            );
          }
          return report.examples;
        };
        const train = check(trainFile);
        const validation = opts.validation ? check(opts.validation, 1) : undefined;
        const client = await fineTuneClient(ctx);
        const hp = {
          ...(opts.epochs !== undefined ? { nEpochs: opts.epochs } : {}),
          ...(opts.batchSize !== undefined ? { batchSize: opts.batchSize } : {}),
          ...(opts.learningRateMultiplier !== undefined ? { learningRateMultiplier: opts.learningRateMultiplier } : {}),
        };
        const spinner = await ctx.out.spinner(`Uploading ${train.length} examples`);
        let job: FineTuneJob;
        try {
          job = await client.submit({
            model: opts.model,
            train,
            ...(validation ? { validation } : {}),
            ...(opts.suffix ? { suffix: opts.suffix } : {}),
            ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
            ...(opts.contextLimit !== undefined ? { contextLimit: opts.contextLimit } : {}),
            ...(Object.keys(hp).length ? { hyperparameters: hp } : {}),
          });
          spinner.succeed(`Started fine-tuning job ${job.id}`);
        } catch (err) {
          spinner.fail("Could not start the fine-tuning job");
          throw err;
        }
        const events = opts.wait ? await follow(ctx, client, job.id, opts) : undefined;
        const final = events?.job ?? job;
        ctx.out.result({ job: final, ...(events ? { events: events.events } : {}) }, (r) =>
          [
            ...jobLines(ctx, r.job),
            ...(opts.wait ? [] : ["", `Follow it with: quintet finetune status ${r.job.id} --wait`]),
          ].join("\n"),
        );
        exitFor(ctx, final);
      },
    );

  ft.command("status")
    .argument("[jobId]", "fine-tuning job id (without it: the most recent jobs)")
    .description("Show a fine-tuning job and its latest events, or list recent jobs")
    .option("--events <n>", "how many recent events to show (default 10)", integer("--events", 0))
    .option("--wait", "follow the job until it ends, printing new events")
    .option(
      "--interval <ms>",
      "first poll interval with --wait (default 2000, backing off to 60000)",
      integer("--interval", 1),
    )
    .option(
      "--timeout <ms>",
      "stop following after this long with --wait (the job keeps running)",
      integer("--timeout", 1),
    )
    .addHelpText(
      "after",
      "\nExit code 1 when the job failed or was cancelled.\n\nExamples:\n  quintet finetune status\n  quintet finetune status ftjob-abc123 --wait",
    )
    .action(
      async (
        jobId: string | undefined,
        opts: { events?: number; wait?: boolean; interval?: number; timeout?: number },
      ) => {
        const client = await fineTuneClient(ctx);
        if (jobId === undefined) {
          if (opts.wait) throw new UsageError("--wait needs a job id", "Run `quintet finetune status <jobId> --wait`.");
          const jobs = await client.listJobs();
          ctx.out.result({ jobs }, (r) =>
            r.jobs.length === 0
              ? "No fine-tuning jobs yet. Start one with `quintet finetune submit <train.jsonl> --model <base>`."
              : r.jobs
                  .map(
                    (j) =>
                      `${j.id}  ${j.status.padEnd(16)}  ${j.model}${j.fineTunedModel ? ` → ${j.fineTunedModel}` : ""}`,
                  )
                  .join("\n"),
          );
          return;
        }
        if (opts.wait) {
          const { job, events } = await follow(ctx, client, jobId, opts);
          ctx.out.result({ job, events }, (r) => jobLines(ctx, r.job).join("\n"));
          exitFor(ctx, job);
          return;
        }
        const job = await client.getJob(jobId);
        const n = opts.events ?? 10;
        const events = n > 0 ? await client.listEvents(jobId, { limit: n }) : [];
        ctx.out.result({ job, events }, (r) =>
          [...jobLines(ctx, r.job), ...(r.events.length ? ["", ...r.events.map((e) => `  ${eventLine(e)}`)] : [])].join(
            "\n",
          ),
        );
        exitFor(ctx, job);
      },
    );

  ft.command("cancel")
    .argument("<jobId>", "fine-tuning job id")
    .description("Cancel a queued or running fine-tuning job")
    .action(async (jobId: string) => {
      const client = await fineTuneClient(ctx);
      const job = await client.cancel(jobId);
      ctx.out.result({ job }, (r) => jobLines(ctx, r.job).join("\n"));
    });

  const adapter = ft
    .command("adapter")
    .description("LoRA adapters (GGUF) registered in the project store, served with the local provider");

  adapter
    .command("add")
    .argument("<name>", "adapter name, e.g. support-bot")
    .argument("<file>", "LoRA adapter GGUF file")
    .requiredOption("-b, --base <model>", "base model: llama:<path.gguf> (checked against the adapter) or a model id")
    .option("--scale <x>", "default strength when serving (default 1)", (v) => {
      const n = Number(v);
      if (v.trim() === "" || !(n >= 0) || !Number.isFinite(n)) throw new InvalidArgumentError("expected a number >= 0");
      return n;
    })
    .option("-d, --description <text>", "what it was trained for")
    .description("Store an adapter file in the project's artifacts as a version (its sha256) of a named adapter")
    .addHelpText(
      "after",
      "\nExample:\n  quintet finetune adapter add support ./out/support-lora.gguf --base llama:./models/qwen2.5-0.5b.gguf",
    )
    .action(async (name: string, file: string, opts: { base: string; scale?: number; description?: string }) => {
      await withAdapterStores(ctx, async (stores) => {
        const { registerAdapter } = await import("@quintet/llm");
        const rec = await registerAdapter(stores, {
          name,
          path: file,
          cwd: ctx.cwd,
          baseModel: opts.base,
          ...(opts.scale !== undefined ? { scale: opts.scale } : {}),
          ...(opts.description ? { description: opts.description } : {}),
        });
        ctx.out.result(
          rec,
          (r) =>
            `${r.created ? "Registered" : "Already registered:"} ${r.name}@${r.version.slice(0, 12)} (${r.architecture}, base ${r.baseModel})`,
        );
      });
    });

  adapter
    .command("ls")
    .argument("[name]", "only this adapter's versions")
    .description("List registered adapters, newest first")
    .action(async (name: string | undefined) => {
      await withAdapterStores(ctx, async (stores) => {
        const { listAdapters } = await import("@quintet/llm");
        const rows = await listAdapters(stores, name);
        ctx.out.result(rows, (list) =>
          list.length === 0
            ? "No adapters registered. Add one with `quintet finetune adapter add <name> <file.gguf> --base <model>`."
            : list
                .map(
                  (a) =>
                    `${a.name}@${a.version.slice(0, 12)}  ${a.architecture}  scale ${a.scale}  base ${a.baseModel}  ${a.path}`,
                )
                .join("\n"),
        );
      });
    });
}
