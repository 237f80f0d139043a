import OpenAI, { toFile } from "openai";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { type FakeOpenAI, startFakeOpenAI } from "./index.js";

// The fake is checked with the official `openai` client, an implementation independent of
// the AI SDK providers it is mostly used with.
let fake: FakeOpenAI;
let client: OpenAI;

beforeEach(async () => {
  if (!fake) {
    fake = await startFakeOpenAI();
    client = new OpenAI({ apiKey: "test", baseURL: fake.url, maxRetries: 0 });
  }
  fake.reset();
});
afterAll(async () => {
  await fake?.close();
});

const cos = (a: number[], b: number[]) => a.reduce((s, x, i) => s + x * b[i]!, 0);

describe("fake OpenAI server, read by the official openai client", () => {
  it("answers chat completions with text and tool calls, and records requests", async () => {
    fake.script.chat([{ content: "hello there" }, { toolCalls: [{ name: "add", arguments: { a: 1, b: 2 } }] }]);
    const first = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "hi" }],
    });
    expect(first.choices[0]!.message.content).toBe("hello there");
    expect(first.choices[0]!.finish_reason).toBe("stop");
    expect(first.usage!.total_tokens).toBe(first.usage!.prompt_tokens + first.usage!.completion_tokens);

    const second = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "add" }],
    });
    const call = second.choices[0]!.message.tool_calls![0]!;
    expect(second.choices[0]!.finish_reason).toBe("tool_calls");
    expect(call.type === "function" && JSON.parse(call.function.arguments)).toEqual({ a: 1, b: 2 });
    expect(fake.chatRequests().map((b) => b.messages[0].content)).toEqual(["hi", "add"]);
  });

  it("streams text and tool-call deltas in OpenAI's chunk format, usage last, then [DONE]", async () => {
    fake.script.chat({
      content: "one two three",
      toolCalls: [
        { name: "lookup", arguments: { q: "a long query string" } },
        { name: "add", arguments: { a: 10, b: 20 } },
      ],
    });
    const stream = await client.chat.completions.create({
      model: "gpt-4o-mini",
      messages: [{ role: "user", content: "go" }],
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    const calls: { id?: string; name?: string; args: string }[] = [];
    let finish: string | null = null;
    let usage: unknown;
    let deltas = 0;
    for await (const chunk of stream) {
      if (chunk.usage) usage = chunk.usage;
      const choice = chunk.choices[0];
      if (!choice) continue;
      if (choice.finish_reason) finish = choice.finish_reason;
      if (choice.delta.content) {
        text += choice.delta.content;
        deltas++;
      }
      for (const d of choice.delta.tool_calls ?? []) {
        const c = (calls[d.index] ??= { args: "" });
        if (d.id) c.id = d.id;
        if (d.function?.name) c.name = d.function.name;
        c.args += d.function?.arguments ?? "";
      }
    }
    expect(text).toBe("one two three");
    expect(deltas).toBe(3);
    expect(calls.map((c) => [c.name, JSON.parse(c.args)])).toEqual([
      ["lookup", { q: "a long query string" }],
      ["add", { a: 10, b: 20 }],
    ]);
    expect(calls.every((c) => c.id?.startsWith("call_"))).toBe(true);
    expect(finish).toBe("tool_calls");
    expect(usage).toMatchObject({ prompt_tokens: expect.any(Number), completion_tokens: expect.any(Number) });
  });

  it("sends errors in OpenAI's shape with Retry-After", async () => {
    fake.script.chat({ status: 429, retryAfter: 2, message: "slow down" });
    const err = await client.chat.completions
      .create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "x" }] })
      .catch((e) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect(err.message).toContain("slow down");
    expect(err.headers.get("retry-after")).toBe("2");
    expect(err.error).toMatchObject({ type: "rate_limit_exceeded", code: "rate_limit_exceeded" });
  });

  it("embeds deterministically, similar texts closer than unrelated ones", async () => {
    const res = await client.embeddings.create({
      model: "text-embedding-3-small",
      input: ["the cat sat on the mat", "a cat sat on a mat", "quarterly revenue grew strongly"],
      encoding_format: "float",
    });
    const [a, b, c] = res.data.map((d) => d.embedding);
    expect(a).toHaveLength(64);
    expect(cos(a!, b!)).toBeGreaterThan(cos(a!, c!) + 0.3);
    const again = await client.embeddings.create({ model: "m", input: "the cat sat on the mat", dimensions: 16 });
    expect(again.data[0]!.embedding).toHaveLength(16);
    // the client's default base64 encoding decodes to the same unit vector
    const b64 = await client.embeddings.create({ model: "m", input: "the cat sat on the mat" });
    expect(b64.data[0]!.embedding[0]).toBeCloseTo(a![0]!, 5);
  });

  it("lists models and runs a fine-tuning job queued -> running -> succeeded over polls", async () => {
    const line = JSON.stringify({
      messages: [
        { role: "user", content: "q" },
        { role: "assistant", content: "a" },
      ],
    });
    const file = await client.files.create({
      file: await toFile(Buffer.from(`${line}\n${line}\n`), "train.jsonl"),
      purpose: "fine-tune",
    });
    expect(file).toMatchObject({ filename: "train.jsonl", purpose: "fine-tune", bytes: line.length * 2 + 2 });
    const job = await client.fineTuning.jobs.create({ model: "gpt-4o-mini", training_file: file.id, suffix: "x" });
    const seen = [job.status];
    for (let i = 0; i < 6 && seen.at(-1) !== "succeeded"; i++) {
      seen.push((await client.fineTuning.jobs.retrieve(job.id)).status);
    }
    expect(seen).toEqual(["validating_files", "queued", "running", "succeeded"]);
    const done = await client.fineTuning.jobs.retrieve(job.id);
    expect(done.fine_tuned_model).toMatch(/^ft:gpt-4o-mini:quintet-fake:x:/);
    const events = await client.fineTuning.jobs.listEvents(job.id, { limit: 50 });
    expect(events.data[0]!.message).toContain("successfully completed");
    const models = await client.models.list();
    expect(models.data.map((m) => m.id)).toContain(done.fine_tuned_model);
  });

  it("fails a job whose training file is not chat JSONL, and a scripted failure", async () => {
    const bad = await client.files.create({
      file: await toFile(Buffer.from("not json\n"), "t.jsonl"),
      purpose: "fine-tune",
    });
    const job = await client.fineTuning.jobs.create({ model: "gpt-4o-mini", training_file: bad.id });
    const polled = await client.fineTuning.jobs.retrieve(job.id);
    expect(polled.status).toBe("failed");
    expect(polled.error?.code).toBe("invalid_training_file");

    fake.script.fineTuning({ outcome: "failed", error: { code: "quota", message: "out of quota" } });
    const ok = JSON.stringify({ messages: [{ role: "user", content: "q" }] });
    const good = await client.files.create({ file: await toFile(Buffer.from(ok), "t.jsonl"), purpose: "fine-tune" });
    const job2 = await client.fineTuning.jobs.create({ model: "gpt-4o-mini", training_file: good.id });
    let s = job2.status as string;
    while (s !== "failed" && s !== "succeeded") s = (await client.fineTuning.jobs.retrieve(job2.id)).status;
    expect((await client.fineTuning.jobs.retrieve(job2.id)).error?.message).toBe("out of quota");
    await expect(client.fineTuning.jobs.retrieve("ftjob-missing")).rejects.toBeInstanceOf(OpenAI.NotFoundError);
  });

  it("checks file purposes and models like the real API, naming the parameter at fault", async () => {
    const line = JSON.stringify({ messages: [{ role: "user", content: "q" }] });
    const bad = await client.files
      .create({ file: await toFile(Buffer.from(line), "t.jsonl"), purpose: "nonsense" as "fine-tune" })
      .catch((e) => e);
    expect(bad).toBeInstanceOf(OpenAI.BadRequestError);
    expect(bad.param).toBe("purpose");
    const other = await client.files.create({
      file: await toFile(Buffer.from(line), "t.jsonl"),
      purpose: "assistants",
    });
    const wrongPurpose = await client.fineTuning.jobs
      .create({ model: "gpt-4o-mini", training_file: other.id })
      .catch((e) => e);
    expect(wrongPurpose).toMatchObject({ status: 400, param: "training_file", code: "invalid_file_purpose" });
    const good = await client.files.create({ file: await toFile(Buffer.from(line), "t.jsonl"), purpose: "fine-tune" });
    const model = await client.fineTuning.jobs.create({ model: "gpt-2", training_file: good.id }).catch((e) => e);
    expect(model).toMatchObject({ status: 400, param: "model", code: "model_not_available" });
    // Jobs list newest first and page with `after`.
    const a = await client.fineTuning.jobs.create({ model: "gpt-4o-mini", training_file: good.id });
    const b = await client.fineTuning.jobs.create({ model: "gpt-4o-mini", training_file: good.id });
    const first = await client.fineTuning.jobs.list({ limit: 1 });
    expect(first.data.map((j) => j.id)).toEqual([b.id]);
    expect(first.hasNextPage()).toBe(true);
    expect((await first.getNextPage()).data.map((j) => j.id)).toEqual([a.id]);
    // "auto" hyperparameters settle to concrete values once the files are validated.
    expect(a.hyperparameters.n_epochs).toBe("auto");
    expect((await client.fineTuning.jobs.retrieve(a.id)).hyperparameters.n_epochs).toBe(3);
  });

  it("closes with a hung request open, and the client sees the connection drop", async () => {
    const local = await startFakeOpenAI();
    local.script.chat({ hang: true });
    const c = new OpenAI({ apiKey: "k", baseURL: local.url, maxRetries: 0 });
    const pending = c.chat.completions
      .create({ model: "m", messages: [{ role: "user", content: "x" }] })
      .catch((e) => e);
    while (local.requests.length === 0) await new Promise((r) => setTimeout(r, 5));
    await local.close();
    expect(await pending).toBeInstanceOf(OpenAI.APIConnectionError);
  });
});
