import { QuintetError } from "@quintet/core";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type FakeOpenAI, startFakeOpenAI } from "../testing/fake-openai/index.js";
import { type ChatExample, FineTuneClient, type FineTuneEvent, type FineTuneJob, toJsonl } from "./index.js";

// The real client (the official `openai` SDK underneath) against the fake fine-tuning API.
let fake: FakeOpenAI;
beforeAll(async () => {
  fake = await startFakeOpenAI();
});
beforeEach(() => fake.reset());
afterAll(async () => {
  await fake.close();
});

const client = (extra: Partial<ConstructorParameters<typeof FineTuneClient>[0]> = {}) =>
  new FineTuneClient({ apiKey: "test", baseURL: fake.url, maxRetries: 0, env: {}, ...extra });

const examples = (n: number, offset = 0): ChatExample[] =>
  Array.from({ length: n }, (_, i) => ({
    messages: [
      { role: "system", content: "You answer support tickets." },
      { role: "user", content: `Ticket ${i + offset}: my order ${1000 + i + offset} has not arrived in week ${i}.` },
      {
        role: "assistant",
        content: `Sorry about order ${1000 + i + offset}; a replacement ships within ${i + 2} days.`,
      },
    ],
  }));

const fast = { initialIntervalMs: 1, maxIntervalMs: 4 };

async function errorOf(p: Promise<unknown>): Promise<QuintetError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(QuintetError);
    return err as QuintetError;
  }
  throw new Error("expected the promise to reject");
}

describe("FineTuneClient against the fake fine-tuning API", () => {
  it("uploads both files, creates the job and follows it to success, reporting every event once, in order", async () => {
    fake.script.fineTuning({ steps: 250, pollsPerStage: 3 });
    const ft = client();
    const train = examples(12);
    const validation = examples(3, 100);
    const created = await ft.submit({
      model: "gpt-4o-mini",
      train,
      validation,
      suffix: "support",
      seed: 7,
      hyperparameters: { nEpochs: 2 },
    });
    expect(created).toMatchObject({ status: "validating_files", model: "gpt-4o-mini", fineTunedModel: null });

    const uploads = fake.requests.filter((r) => r.method === "POST" && r.path === "/v1/files");
    expect(uploads.map((u) => [u.body.fields.purpose, u.body.files[0].filename, u.body.files[0].text])).toEqual([
      ["fine-tune", "train.jsonl", toJsonl(train)],
      ["fine-tune", "validation.jsonl", toJsonl(validation)],
    ]);
    const body = fake.requests.find((r) => r.path === "/v1/fine_tuning/jobs")!.body;
    expect(body).toMatchObject({
      model: "gpt-4o-mini",
      training_file: created.trainingFile,
      validation_file: created.validationFile,
      suffix: "support",
      seed: 7,
      method: { type: "supervised", supervised: { hyperparameters: { n_epochs: 2 } } },
    });

    const events: FineTuneEvent[] = [];
    const statuses: string[] = [];
    const done = await ft.waitForJob(created.id, {
      ...fast,
      onEvent: (e) => void events.push(e),
      onStatus: (j) => void statuses.push(j.status),
    });
    expect(statuses).toEqual(["queued", "running", "succeeded"]);
    expect(done.status).toBe("succeeded");
    expect(done.fineTunedModel).toMatch(/^ft:gpt-4o-mini:quintet-fake:support:/);
    expect(done.trainedTokens).toBeGreaterThan(0);
    expect(done.finishedAt).toEqual(expect.any(Number));

    // 250 step events arrive in bursts larger than one page of events; none is lost or repeated.
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    const steps = events.filter((e) => e.type === "metrics").map((e) => (e.data as { step: number }).step);
    expect(steps).toEqual(Array.from({ length: 250 }, (_, i) => i + 1));
    expect(events[0]!.message).toBe(`Created fine-tuning job: ${created.id}`);
    expect(events.at(-1)!.message).toBe("The job has successfully completed");
    expect(events.find((e) => e.message.startsWith("New fine-tuned model"))!.message).toContain(done.fineTunedModel!);

    const recent = await ft.listEvents(created.id, { limit: 3 });
    expect(recent.map((e) => e.id)).toEqual(events.slice(-3).map((e) => e.id));
    expect((await ft.listJobs()).map((j) => j.id)).toEqual([created.id]);
    expect((await ft.getJob(created.id)).status).toBe("succeeded");
  });

  it("reports a failed job with the provider's error and an error event", async () => {
    fake.script.fineTuning({ outcome: "failed", error: { code: "quota_exceeded", message: "Out of training quota." } });
    const ft = client();
    const job = await ft.submit({ model: "gpt-4o-mini", train: examples(10) });
    const events: FineTuneEvent[] = [];
    const done = await ft.waitForJob(job.id, { ...fast, onEvent: (e) => void events.push(e) });
    expect(done.status).toBe("failed");
    expect(done.error).toEqual({ code: "quota_exceeded", message: "Out of training quota.", param: null });
    expect(done.fineTunedModel).toBeNull();
    expect(events.at(-1)).toMatchObject({ level: "error", message: "Out of training quota." });
  });

  it("fails a job whose uploaded file is not a chat dataset during file validation", async () => {
    const ft = client();
    const file = await ft.uploadFile('{"prompt": "old completions format"}\nnot json\n', "legacy.jsonl");
    const job = await ft.createJob({ model: "gpt-4o-mini", trainingFile: file });
    const done = await ft.waitForJob(job.id, fast);
    expect(done.status).toBe("failed");
    expect(done.error?.code).toBe("invalid_training_file");
    expect(done.error?.message).toMatch(/Line 1/);
  });

  it("cancels a running job, then refuses to cancel it again", async () => {
    fake.script.fineTuning({ pollsPerStage: 50, steps: 100 });
    const ft = client();
    const job = await ft.submit({ model: "gpt-4o-mini", train: examples(10) });
    let status: FineTuneJob["status"] = job.status;
    while (status !== "running") status = (await ft.getJob(job.id)).status;
    const cancelled = await ft.cancel(job.id);
    expect(cancelled.status).toBe("cancelled");
    expect(cancelled.finishedAt).toEqual(expect.any(Number));
    // A cancelled job stays cancelled however often it is polled.
    expect((await ft.waitForJob(job.id, fast)).status).toBe("cancelled");
    expect((await ft.listEvents(job.id)).at(-1)!.message).toBe("Fine-tuning job cancelled");
    const again = await errorOf(ft.cancel(job.id));
    expect(again.code).toBe("VALIDATION_FAILED");
    expect(again.message).toMatch(/HTTP 400.*already completed: cancelled/);
  });

  it("refuses a dataset with errors before uploading anything", async () => {
    const ft = client();
    const bad = [...examples(10), { messages: [{ role: "user" as const, content: "no answer" }] }];
    const e = await errorOf(ft.submit({ model: "gpt-4o-mini", train: bad }));
    expect(e.code).toBe("VALIDATION_FAILED");
    expect(e.message).toMatch(/line 11: the last message must be the assistant's reply/);
    expect(fake.requests).toEqual([]);
  });

  it("maps the API's errors to typed errors that say what to fix", async () => {
    const ft = client();
    const file = await ft.uploadFile(toJsonl(examples(10)));

    const model = await errorOf(ft.createJob({ model: "gpt-9-turbo", trainingFile: file }));
    expect(model.code).toBe("VALIDATION_FAILED");
    expect(model.message).toContain("Model gpt-9-turbo is not available for fine-tuning");

    const wrongFile = await errorOf(ft.createJob({ model: "gpt-4o-mini", trainingFile: "file-nope" }));
    expect(wrongFile.message).toContain("invalid training_file: file-nope");

    const ext = await errorOf(ft.uploadFile(toJsonl(examples(10)), "train.txt"));
    expect(ext.code).toBe("VALIDATION_FAILED");
    expect(ext.message).toContain("Must be .jsonl");

    expect((await errorOf(ft.getJob("ftjob-missing"))).code).toBe("NOT_FOUND");
    expect((await errorOf(ft.createJob({ model: "gpt-4o-mini", trainingFile: file, suffix: "has space" }))).code).toBe(
      "VALIDATION_FAILED",
    );

    const noKey = (() => {
      try {
        return new FineTuneClient({ env: {} });
      } catch (err) {
        return err as QuintetError;
      }
    })();
    expect(noKey).toBeInstanceOf(QuintetError);
    expect((noKey as QuintetError).code).toBe("PROVIDER_NOT_CONFIGURED");
    expect((noKey as QuintetError).message).toContain("OPENAI_API_KEY");

    // The key and base URL come from `env` when not passed.
    const locked = await startFakeOpenAI({ apiKey: "right" });
    try {
      const wrong = new FineTuneClient({
        env: { OPENAI_API_KEY: "wrong", OPENAI_BASE_URL: locked.url },
        maxRetries: 0,
      });
      const e = await errorOf(wrong.listJobs());
      expect(e.code).toBe("UNAUTHORIZED");
      expect(e.hint).toContain("OPENAI_API_KEY");
      const right = new FineTuneClient({ env: { OPENAI_API_KEY: "right", OPENAI_BASE_URL: locked.url } });
      expect(await right.listJobs()).toEqual([]);
    } finally {
      await locked.close();
    }
  });

  it("stops following a job on timeout or abort, leaving it running", async () => {
    fake.script.fineTuning({ pollsPerStage: 10_000 });
    const ft = client();
    const job = await ft.submit({ model: "gpt-4o-mini", train: examples(10) });
    const timeout = await errorOf(ft.waitForJob(job.id, { initialIntervalMs: 5, maxIntervalMs: 5, timeoutMs: 30 }));
    expect(timeout.code).toBe("TIMEOUT");
    expect(timeout.hint).toContain("quintet finetune status");

    const ac = new AbortController();
    const following = ft.waitForJob(job.id, {
      ...fast,
      signal: ac.signal,
      onStatus: (j) => {
        if (j.status === "queued") ac.abort();
      },
    });
    expect((await errorOf(following)).code).toBe("CANCELLED");
    expect((await ft.getJob(job.id)).status).not.toMatch(/succeeded|failed|cancelled/);
  });
});
