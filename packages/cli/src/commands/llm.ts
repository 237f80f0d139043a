import type { Store, Tracing } from "@quintet/core";
import type { ChatMessage, GenerateResult, ModelPrice, SpanRunner } from "@quintet/llm";
import { type Command, InvalidArgumentError } from "commander";
import type { CliContext } from "../context.js";
import { UsageError } from "../exit-codes.js";

const CONFIGURE_HINT =
  "Pass --model <uri> (e.g. openai:gpt-4o-mini with OPENAI_API_KEY, anthropic:claude-3-5-haiku-latest with ANTHROPIC_API_KEY, ollama:qwen2.5, llama:./model.gguf), or set QUINTET_LLM, or llm.default in quintet.config.json.";

function number(name: string, min: number, max: number) {
  return (v: string): number => {
    const n = Number(v);
    if (v.trim() === "" || !Number.isFinite(n) || n < min || n > max) {
      throw new InvalidArgumentError(`${name} must be a number from ${min} to ${max}`);
    }
    return n;
  };
}

function integer(name: string, min: number) {
  return (v: string): number => {
    const n = Number(v);
    if (!/^\d+$/.test(v) || n < min) throw new InvalidArgumentError(`${name} must be a whole number >= ${min}`);
    return n;
  };
}

function usd(x: number | undefined): string {
  if (x === undefined) return "cost unknown (no price for this model)";
  return `$${x < 0.01 ? x.toPrecision(2) : x.toFixed(4)}`;
}

/** provider:model, with a provider this layer knows. */
const MODEL_URI = /^(openai|azure|anthropic|ollama|openai-compatible|llama):\S+$/;

interface ChatOptions {
  model?: string;
  system?: string;
  temperature?: number;
  maxTokens?: number;
  timeout?: number;
  trace: boolean;
}

/**
 * Records the call in the project trace (so `quintet traces` shows it). Best effort: a chat
 * still works when the store cannot be opened, and says that it was not recorded.
 */
async function openTrace(
  ctx: CliContext,
  config: Awaited<ReturnType<CliContext["loadConfig"]>>,
): Promise<{ store: Store; tracing: Tracing } | undefined> {
  const { formatError, startTracing } = await import("@quintet/core");
  let store: Store | undefined;
  try {
    store = await ctx.openStore(config);
    return { store, tracing: await startTracing(store) };
  } catch (err) {
    await store?.close();
    ctx.out.status(ctx.out.c.dim(`not recorded in the trace: ${formatError(err)}`));
    return undefined;
  }
}

async function chat(ctx: CliContext, message: string, opts: ChatOptions): Promise<void> {
  if (message.trim() === "") {
    throw new UsageError("the message is empty", 'Pass the text to send, e.g. quintet llm chat "Hello"');
  }
  const { QuintetError } = await import("@quintet/core");
  const config = await ctx.loadConfig();
  const uri = opts.model ?? config.llm.default;
  if (!uri) {
    throw new QuintetError("PROVIDER_NOT_CONFIGURED", "no language model is configured to chat with", {
      hint: CONFIGURE_HINT,
    });
  }
  const { createLlm, parseModelUri } = await import("@quintet/llm");
  if (opts.model !== undefined) {
    try {
      parseModelUri(opts.model);
    } catch (err) {
      // A wrong --model is a mistake on the command line, not a failure of the model.
      const e = err as { message: string; hint?: string };
      throw new UsageError(e.message, e.hint);
    }
  }
  const { withSpan } = await import("@quintet/core");
  let traceId: string | undefined;
  const tracer: SpanRunner = (kind, name, attrs, fn) =>
    withSpan(kind, name, attrs, (span) => {
      if (span.recording) traceId = span.traceId;
      return fn(span);
    });
  const llm = createLlm(uri, {
    env: ctx.env,
    tracer,
    ...(opts.timeout !== undefined ? { timeoutMs: opts.timeout } : {}),
  });
  const trace = opts.trace ? await openTrace(ctx, config) : undefined;
  const messages: ChatMessage[] = [
    ...(opts.system ? [{ role: "system" as const, content: opts.system }] : []),
    { role: "user", content: message },
  ];
  let result: GenerateResult | undefined;
  let wrote = false;
  try {
    for await (const event of llm.stream({
      messages,
      ...(opts.temperature !== undefined ? { temperature: opts.temperature } : {}),
      ...(opts.maxTokens !== undefined ? { maxOutputTokens: opts.maxTokens } : {}),
    })) {
      if (event.type === "text-delta" && !ctx.out.json) {
        ctx.io.stdout.write(event.delta);
        wrote = true;
      } else if (event.type === "finish") result = event.result;
    }
  } finally {
    if (wrote) ctx.io.stdout.write("\n");
    // A local model holds native memory and threads; free them so the process can end.
    await (llm as { close?: () => Promise<void> }).close?.();
    await trace?.tracing.shutdown();
    await trace?.store.close();
  }
  if (!result) {
    throw new QuintetError("PROVIDER_ERROR", `${uri} ended the stream without a result`, {
      hint: "Retry; if it persists, the server is not speaking the provider's streaming protocol.",
    });
  }
  const r = result;
  if (ctx.out.json) ctx.out.result({ ...r, ...(traceId ? { traceId } : {}) });
  else {
    const u = r.usage;
    ctx.out.status(
      ctx.out.c.dim(
        `${r.model} · ${u.inputTokens} in / ${u.outputTokens} out tokens · ${usd(r.costUsd)} · ${r.latencyMs} ms${
          r.finishReason === "stop" ? "" : ` · finish: ${r.finishReason}`
        }${traceId ? ` · trace ${traceId}` : ""}`,
      ),
    );
  }
}

interface ModelRow extends ModelPrice {
  model: string;
  source: "built-in" | "QUINTET_PRICES";
}

async function models(ctx: CliContext, opts: { provider?: string }): Promise<void> {
  const { DEFAULT_PRICES, DEFAULT_PRICES_DATE, PROVIDER_SCHEMES, resolvePrices } = await import("@quintet/llm");
  if (opts.provider !== undefined && !(PROVIDER_SCHEMES as readonly string[]).includes(opts.provider)) {
    throw new UsageError(`unknown provider "${opts.provider}"`, `Use one of ${PROVIDER_SCHEMES.join(", ")}.`);
  }
  const table = resolvePrices(undefined, ctx.env);
  const rows: ModelRow[] = Object.entries(table)
    .filter(([key]) => opts.provider === undefined || key.startsWith(`${opts.provider}:`))
    .map(([model, price]) => ({
      model,
      ...price,
      source: DEFAULT_PRICES[model] === price ? ("built-in" as const) : ("QUINTET_PRICES" as const),
    }))
    .sort((a, b) => a.model.localeCompare(b.model));
  ctx.out.result({ pricesDate: DEFAULT_PRICES_DATE, unit: "USD per million tokens", models: rows }, (d) => {
    if (d.models.length === 0) return `No priced models${opts.provider ? ` for ${opts.provider}` : ""}.`;
    const w = Math.max(5, ...d.models.map((m) => m.model.length));
    const money = (x: number | undefined) => (x === undefined ? "-" : String(x)).padStart(8);
    return [
      `${"MODEL".padEnd(w)}  ${"INPUT".padStart(8)}  ${"CACHED".padStart(8)}  ${"OUTPUT".padStart(8)}  SOURCE`,
      ...d.models.map((m) =>
        `${m.model.padEnd(w)}  ${money(m.input)}  ${money(m.cachedInput)}  ${money(m.output)}  ${m.source === "built-in" ? "" : m.source}`.trimEnd(),
      ),
      "",
      `USD per million tokens; built-in list prices as of ${d.pricesDate}. A trailing * matches dated snapshots.`,
      "Add or override prices with a JSON file named by QUINTET_PRICES.",
    ].join("\n");
  });
}

export function register(program: Command, ctx: CliContext): void {
  const llm = program
    .command("llm")
    .description("Talk to a language model and see what models cost")
    .addHelpText(
      "after",
      "\nThe model comes from --model, else QUINTET_LLM, else llm.default in quintet.config.json.\nKeys are read from the environment (OPENAI_API_KEY, OPENAI_BASE_URL, ANTHROPIC_API_KEY, …).",
    );

  llm
    .command("chat")
    .argument("[uri]", "model URI (provider:model); the same as --model")
    .argument("[message...]", "what to say to the model; or --message")
    .option("--message <text>", "what to say to the model")
    .description("Send one message and stream the answer to stdout")
    .option("-m, --model <uri>", "model URI, e.g. openai:gpt-4o-mini (default: QUINTET_LLM or llm.default)", (v) => {
      if (!/^[a-z][a-z0-9-]*:.+$/.test(v.trim())) {
        throw new InvalidArgumentError(
          "expected provider:model, e.g. openai:gpt-4o-mini, ollama:qwen2.5, llama:./m.gguf",
        );
      }
      return v.trim();
    })
    .option("-s, --system <text>", "system prompt")
    .option("-t, --temperature <t>", "sampling temperature (0-2)", number("temperature", 0, 2))
    .option("--max-tokens <n>", "longest answer, in tokens", integer("--max-tokens", 1))
    .option("--timeout <ms>", "give up on a silent provider after this long (default 60000)", integer("--timeout", 1))
    .option("--no-trace", "do not record the call in the project trace (quintet traces)")
    .addHelpText(
      "after",
      '\nThe answer streams to stdout; model, tokens, cost, latency and the trace id follow on stderr.\nWith --json nothing streams: one JSON document with text, usage, costUsd, finishReason and latencyMs.\n\nExamples:\n  quintet llm chat "Summarise RFC 9110 in one line"\n  quintet llm chat openai:gpt-4o-mini --message "Hello"\n  quintet llm chat -m anthropic:claude-3-5-haiku-latest -s "Answer in French" "Hello"\n  quintet llm chat --json "2+2?" | jq .usage',
    )
    .action((first: string | undefined, rest: string[], opts: ChatOptions & { message?: string }) => {
      // `chat <uri> --message "…"` (the documented form), `chat <uri> "…"` and `chat "…"` all work:
      // a first word shaped like provider:model is the model.
      const words = first === undefined ? rest : [first, ...rest];
      if (words.length > 0 && MODEL_URI.test(words[0]!) && (words.length > 1 || opts.message !== undefined)) {
        if (opts.model !== undefined)
          throw new UsageError("the model is given twice", "Pass it either as the first argument or with --model.");
        opts.model = words.shift();
      }
      if (opts.message !== undefined && words.length > 0)
        throw new UsageError("the message is given twice", "Pass it either as arguments or with --message.");
      const message = opts.message ?? words.join(" ");
      return chat(ctx, message, opts);
    });

  llm
    .command("models")
    .description("List the models with known prices (USD per million tokens)")
    .option("-p, --provider <name>", "only this provider (openai, anthropic, azure, …)")
    .addHelpText("after", "\nExamples:\n  quintet llm models\n  quintet llm models --provider anthropic --json")
    .action((opts: { provider?: string }) => models(ctx, opts));
}
