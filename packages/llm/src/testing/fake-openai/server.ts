import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { anthropicErrorType, sendMessage, streamMessage } from "./anthropic-messages.js";
import { countTokens, hashedEmbedding } from "./embeddings.js";
import { FineTuningState, HttpProblem } from "./fine-tuning.js";
import { sendChatCompletion, streamChatCompletion } from "./openai-chat.js";
import {
  type ChatReply,
  type EmbeddingsReply,
  type ErrorReply,
  type FineTuneScript,
  isErrorReply,
  isHangReply,
  isRawReply,
} from "./replies.js";
import { errorHeaders, openAiErrorType, sendJson } from "./sse.js";

/** One request the fake server received. */
export interface RecordedRequest {
  method: string;
  /** Path without the query string, e.g. `/v1/chat/completions`. */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  /** Parsed JSON body; for multipart uploads `{ fields, files: [{ field, filename, bytes, text }] }`; else the raw text. */
  body: any;
  at: number;
}

export type ChatHandler = (request: RecordedRequest) => ChatReply | Promise<ChatReply>;
export type EmbeddingsHandler = (request: RecordedRequest) => EmbeddingsReply | Promise<EmbeddingsReply>;

export interface FakeOpenAIOptions {
  /** Model ids listed by GET /v1/models. */
  models?: string[];
  /** Dimensions of the hashed embeddings when the request does not ask for any (default 64). */
  embeddingDimensions?: number;
  /**
   * What a chat/messages request gets when nothing is scripted: `echo` (default) answers
   * with the last user message; `error` answers 500 so a test notices an unexpected call.
   */
  onUnscripted?: "echo" | "error";
  /** When set, requests must carry `Authorization: Bearer <apiKey>` (or `x-api-key` for Anthropic), else 401. */
  apiKey?: string;
}

/** A scriptable, protocol-faithful OpenAI-compatible (and Anthropic Messages) server on 127.0.0.1. */
export interface FakeOpenAI {
  /** Base URL ending in `/v1`, for `baseURL` options and `OPENAI_BASE_URL`. */
  readonly url: string;
  /** Every request received, oldest first. */
  readonly requests: RecordedRequest[];
  readonly script: {
    /** Queues replies for POST /v1/chat/completions, or sets a handler used when the queue is empty. */
    chat(replies: ChatReply | ChatReply[] | ChatHandler): void;
    /** Queues replies for POST /v1/messages (Anthropic), or sets a handler. */
    messages(replies: ChatReply | ChatReply[] | ChatHandler): void;
    /** Queues replies for POST /v1/embeddings, or sets a handler; default: hashed bag-of-words vectors. */
    embeddings(replies: EmbeddingsReply | EmbeddingsReply[] | EmbeddingsHandler): void;
    /** Scripts the outcome of the next fine-tuning jobs created. */
    fineTuning(scripts: FineTuneScript | FineTuneScript[]): void;
  };
  /** Chat requests recorded so far (bodies). */
  chatRequests(): any[];
  /** Clears the queues, handlers, recorded requests, files and jobs. */
  reset(): void;
  /** Stops listening and drops every open connection (hung requests included). */
  close(): Promise<void>;
}

class Queue<R> {
  items: R[] = [];
  handler: ((req: RecordedRequest) => R | Promise<R>) | undefined;

  set(x: R | R[] | ((req: RecordedRequest) => R | Promise<R>)): void {
    if (typeof x === "function") this.handler = x as (req: RecordedRequest) => R | Promise<R>;
    else this.items.push(...(Array.isArray(x) ? x : [x]));
  }

  async next(req: RecordedRequest): Promise<R | undefined> {
    if (this.items.length) return this.items.shift();
    return this.handler ? await this.handler(req) : undefined;
  }

  clear(): void {
    this.items = [];
    this.handler = undefined;
  }
}

async function readBody(req: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of req) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function parseBody(raw: Buffer, contentType: string): Promise<any> {
  if (contentType.startsWith("multipart/form-data")) {
    // The platform's own multipart parser (undici), so uploads are parsed like a real server would.
    const form = await new Response(raw, { headers: { "content-type": contentType } }).formData();
    const fields: Record<string, string> = {};
    const files: { field: string; filename: string; bytes: number; text: string }[] = [];
    for (const [key, value] of form.entries()) {
      if (typeof value === "string") fields[key] = value;
      else {
        const text = await value.text();
        files.push({ field: key, filename: value.name, bytes: value.size, text });
      }
    }
    return { fields, files };
  }
  const text = raw.toString("utf8");
  if (contentType.includes("json")) {
    try {
      return JSON.parse(text);
    } catch {
      throw new HttpProblem(400, "We could not parse the JSON body of your request.");
    }
  }
  return text;
}

function lastUserText(body: Record<string, unknown>): string {
  const messages = (body.messages as { role: string; content: unknown }[] | undefined) ?? [];
  for (let i = messages.length - 1; i >= 0; i--) {
    const m = messages[i]!;
    if (m.role !== "user") continue;
    if (typeof m.content === "string") return m.content;
    if (Array.isArray(m.content)) {
      return m.content.map((p: { type?: string; text?: string }) => (p.type === "text" ? (p.text ?? "") : "")).join("");
    }
  }
  return "";
}

/**
 * Starts the fake server on 127.0.0.1 (a free port). Real clients (the AI SDK providers,
 * the `openai` package) talk to it unchanged: point their base URL at `fake.url`.
 *
 * @example
 * const fake = await startFakeOpenAI();
 * fake.script.chat([{ content: "hi" }, { status: 429, retryAfter: 0.01 }]);
 * const llm = createLlm("openai:gpt-4o-mini", { baseURL: fake.url, apiKey: "test" });
 */
export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAI> {
  const models = options.models ?? ["gpt-4o-mini", "gpt-4o", "text-embedding-3-small"];
  const defaultDims = options.embeddingDimensions ?? 64;
  const chat = new Queue<ChatReply>();
  const messages = new Queue<ChatReply>();
  const embeddings = new Queue<EmbeddingsReply>();
  const ft = new FineTuningState(() => models);
  const requests: RecordedRequest[] = [];

  const sendError = (res: ServerResponse, reply: ErrorReply, flavour: "openai" | "anthropic") => {
    const headers = errorHeaders(reply);
    if (flavour === "anthropic") {
      sendJson(
        res,
        reply.status,
        {
          type: "error",
          error: { type: reply.type ?? anthropicErrorType(reply.status), message: reply.message ?? "Error" },
        },
        headers,
      );
    } else {
      sendJson(
        res,
        reply.status,
        {
          error: {
            message: reply.message ?? `Fake error ${reply.status}`,
            type: reply.type ?? openAiErrorType(reply.status),
            param: reply.param ?? null,
            code: reply.code ?? (reply.status === 429 ? "rate_limit_exceeded" : null),
          },
        },
        headers,
      );
    }
  };

  /** Handles error/hang/raw replies; returns true if the reply was one of those. */
  const sendSpecial = (res: ServerResponse, reply: object, flavour: "openai" | "anthropic"): boolean => {
    if (isHangReply(reply)) return true; // leave the response open
    if (isRawReply(reply)) {
      res.writeHead(reply.status ?? 200, { "content-type": reply.contentType ?? "application/json" });
      res.end(reply.raw);
      return true;
    }
    if (isErrorReply(reply)) {
      sendError(res, reply, flavour);
      return true;
    }
    return false;
  };

  const completion = async (
    req: RecordedRequest,
    res: ServerResponse,
    queue: Queue<ChatReply>,
    flavour: "openai" | "anthropic",
  ) => {
    const body = req.body as Record<string, unknown>;
    if (typeof body !== "object" || body === null || !Array.isArray(body.messages)) {
      throw new HttpProblem(400, "'messages' is a required property", "messages");
    }
    if (typeof body.model !== "string") throw new HttpProblem(400, "'model' is a required property", "model");
    let reply = await queue.next(req);
    if (!reply) {
      if (options.onUnscripted === "error") {
        reply = { status: 500, message: `no scripted reply for ${req.path} (request #${requests.length})` };
      } else {
        reply = { content: lastUserText(body) };
      }
    }
    if (sendSpecial(res, reply, flavour)) return;
    const ok = reply as Exclude<ChatReply, ErrorReply>;
    if (!("hang" in ok) && !("raw" in ok)) {
      if (flavour === "openai") {
        if (body.stream === true) await streamChatCompletion(res, body, ok);
        else sendChatCompletion(res, body, ok);
      } else if (body.stream === true) await streamMessage(res, body, ok);
      else sendMessage(res, body, ok);
    }
  };

  const embed = async (req: RecordedRequest, res: ServerResponse) => {
    const body = req.body as { input?: unknown; model?: unknown; dimensions?: unknown; encoding_format?: unknown };
    const input = typeof body.input === "string" ? [body.input] : body.input;
    if (!Array.isArray(input) || !input.every((x) => typeof x === "string")) {
      throw new HttpProblem(400, "'input' must be a string or an array of strings", "input");
    }
    if (typeof body.model !== "string") throw new HttpProblem(400, "'model' is a required property", "model");
    const dims = typeof body.dimensions === "number" ? body.dimensions : defaultDims;
    if (!Number.isInteger(dims) || dims < 1) throw new HttpProblem(400, "'dimensions' must be >= 1", "dimensions");
    const reply = await embeddings.next(req);
    if (reply && sendSpecial(res, reply, "openai")) return;
    const vectors =
      reply && "vectors" in reply ? reply.vectors : (input as string[]).map((t) => hashedEmbedding(t, dims));
    const encode = (v: number[]) =>
      body.encoding_format === "base64" ? Buffer.from(new Float32Array(v).buffer).toString("base64") : v;
    const tokens = (input as string[]).reduce((s, t) => s + countTokens(t), 0);
    sendJson(res, 200, {
      object: "list",
      data: vectors.map((v, index) => ({ object: "embedding", index, embedding: encode(v) })),
      model: body.model,
      usage: { prompt_tokens: tokens, total_tokens: tokens },
    });
  };

  const route = async (req: RecordedRequest, res: ServerResponse) => {
    const { method, path } = req;
    if (method === "POST" && path === "/v1/chat/completions") return completion(req, res, chat, "openai");
    if (method === "POST" && path === "/v1/messages") return completion(req, res, messages, "anthropic");
    if (method === "POST" && path === "/v1/embeddings") return embed(req, res);
    if (method === "GET" && path === "/v1/models") {
      const ids = [...models, ...ft.fineTunedModels()];
      return sendJson(res, 200, {
        object: "list",
        data: ids.map((id) => ({ id, object: "model", created: 1_700_000_000, owned_by: "quintet-fake" })),
      });
    }
    if (method === "POST" && path === "/v1/files") {
      const body = req.body as { fields?: Record<string, string>; files?: { filename: string; text: string }[] };
      const file = body.files?.[0];
      if (!body.fields || !file) throw new HttpProblem(400, "'file' is a required property", "file");
      const purpose = body.fields.purpose;
      if (!purpose) throw new HttpProblem(400, "'purpose' is a required property", "purpose");
      const stored = ft.addFile(file.filename, purpose, file.text);
      return sendJson(res, 200, ft.fileJson(stored.id));
    }
    let m = /^\/v1\/files\/([^/]+)(\/content)?$/.exec(path);
    if (method === "GET" && m) {
      if (m[2]) {
        ft.fileJson(m[1]!); // 404 if missing
        res.writeHead(200, { "content-type": "application/octet-stream" });
        return void res.end(ft.files.get(m[1]!)!.content);
      }
      return sendJson(res, 200, ft.fileJson(m[1]!));
    }
    if (method === "POST" && path === "/v1/fine_tuning/jobs") return sendJson(res, 200, ft.createJob(req.body));
    if (method === "GET" && path === "/v1/fine_tuning/jobs") {
      return sendJson(res, 200, ft.list(Number(req.query.limit ?? 20), req.query.after ?? null));
    }
    m = /^\/v1\/fine_tuning\/jobs\/([^/]+)(\/events|\/cancel)?$/.exec(path);
    if (m) {
      const id = m[1]!;
      if (method === "GET" && !m[2]) return sendJson(res, 200, ft.poll(id));
      if (method === "GET" && m[2] === "/events") {
        return sendJson(res, 200, ft.events(id, Number(req.query.limit ?? 20), req.query.after ?? null));
      }
      if (method === "POST" && m[2] === "/cancel") return sendJson(res, 200, ft.cancel(id));
    }
    throw new HttpProblem(404, `Unknown request URL: ${method} ${path}.`, null, "unknown_url");
  };

  const server = createServer((req, res) => {
    void (async () => {
      const flavour = req.url?.startsWith("/v1/messages") ? "anthropic" : "openai";
      try {
        const url = new URL(req.url ?? "/", "http://127.0.0.1");
        const raw = await readBody(req);
        const recorded: RecordedRequest = {
          method: req.method ?? "GET",
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          headers: req.headers,
          body: raw.length ? await parseBody(raw, String(req.headers["content-type"] ?? "")) : undefined,
          at: Date.now(),
        };
        requests.push(recorded);
        if (options.apiKey !== undefined) {
          const bearer = req.headers.authorization === `Bearer ${options.apiKey}`;
          const xKey = req.headers["x-api-key"] === options.apiKey;
          if (!bearer && !xKey) {
            return sendError(
              res,
              { status: 401, message: "Incorrect API key provided.", code: "invalid_api_key" },
              flavour,
            );
          }
        }
        await route(recorded, res);
      } catch (err) {
        if (res.headersSent) return void res.destroy();
        if (err instanceof HttpProblem) {
          sendError(
            res,
            {
              status: err.status,
              message: err.message,
              code: err.code,
              param: err.param,
              type: openAiErrorType(err.status),
            },
            flavour,
          );
        } else {
          sendError(res, { status: 500, message: err instanceof Error ? err.message : String(err) }, flavour);
        }
      }
    })();
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    script: {
      chat: (r) => chat.set(r),
      messages: (r) => messages.set(r),
      embeddings: (r) => embeddings.set(r),
      fineTuning: (s) => ft.script(s),
    },
    chatRequests: () => requests.filter((r) => r.path === "/v1/chat/completions").map((r) => r.body),
    reset() {
      chat.clear();
      messages.clear();
      embeddings.clear();
      ft.reset();
      requests.length = 0;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      }),
  };
}
